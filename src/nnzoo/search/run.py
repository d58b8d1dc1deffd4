"""Run a search: an Optuna study whose every trial is an ordinary run folder.

Trial ``n`` trains ``<out>/trials/<n>`` (or ``<trials_dir>/<n>``) with ``train_run`` (so
``nnzoo evaluate`` and ``nnzoo report`` work on it); its value is the best validation value of
the objective (which is also the monitor that picks the trial's best epoch). The trial's run
folder, the epoch its validation picked and that epoch's test accuracy are stored as user
attributes; the test split never drives anything.

Storage. By default the study lives in Optuna's journal file ``<out>/search.journal``: a search
killed at any moment resumes with the same command. On restart, trials a dead process left
RUNNING are marked FAIL and their params are enqueued again; only the remaining ``trials -
finished`` trials run, and finished trials' run folders are left as they are. A restart seeds
the sampler from the search's seed and the number of trials already in the study
(`sampler_seed`), so it draws new points rather than its first ones again; a fresh search is
seeded with the search's seed as it is. A journal whose last record a kill cut short is
repaired, and a lock its dead owner left is cleared (`nnzoo.search.journal`). What must match
for a study to be resumed (`signature`) leaves out how its trials are executed
(`nnzoo.config.EXECUTION`: threads, device, ...), so a search can be resumed on another machine:
keep its folder (the journal and search.json; the trials can go elsewhere with ``trials_dir``),
and a trial whose run folder is gone is reported from the values it reported to Optuna.
``--storage URL`` (``sqlite:///...``, ``postgresql://...``) shares a study between processes:
``--create`` creates it once, then any number of ``--worker`` processes run trials until the
study holds ``trials`` finished or running trials (checked before and again just after each
trial is drawn, so two workers never overshoot; a trial drawn past the budget is marked FAIL
with a ``skipped`` note). Finished means COMPLETE, PRUNED, or FAIL with an ``error`` note (a run
that diverged; it would fail again).

Focus (``--focus-from ROUND1_DIR`` or ``--focus-from URL --focus-study NAME``): round 2's space is
derived from round 1 by `nnzoo.search.space.FOCUS_RULE`, written with the rule to
``<out>/focus.json``, and round 1's best params run first.

TPE (``tpe``, ``hyperopt-compatible``) draws its first `startup_trials` at random: its default
(10, hyperopt's 20), at most half the budget.

``<out>/search.json`` sums the search up when it ends (and after ``--create``); a journal is
recorded by its name, relative to the search folder, and the sampler seed is that of the last
start that drew trials. A start that finds the budget used up writes nothing to the study (it
loads it; Optuna's ``create_study(load_if_exists=True)`` would log a refused create each time).
Each trial records the machine it trained on (user attribute ``machine``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig, apply_overrides, config_from_dict, experiment
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import read_json
from nnzoo.report.markdown import write_atomic
from nnzoo.runs.rundir import RunDir, SearchDir
from nnzoo.search.journal import open_journal
from nnzoo.search.pruning import TrialPruning
from nnzoo.search.space import (
    FOCUS_RULE,
    SearchConfig,
    check_space,
    focus_space,
    parse_search,
    trial_config,
)
from nnzoo.utils.environment import machine_description


def optuna():
    import optuna as _optuna

    _optuna.logging.set_verbosity(_optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=_optuna.exceptions.ExperimentalWarning)
    return _optuna


TPE_STARTUP = {"tpe": 10, "hyperopt-compatible": 20}  # Optuna's and hyperopt's defaults


def startup_trials(search: SearchConfig) -> int | None:
    """TPE's random start-up trials: its default, at most half the budget (at least 1), so
    that a small search is not random search under TPE's name. None for other samplers."""
    default = TPE_STARTUP.get(search.sampler)
    return None if default is None else max(1, min(default, search.trials // 2))


def sampler_seed(seed: int | None, before: int) -> int | None:
    """The sampler's seed for a start that finds ``before`` trials in the study.

    A fresh study takes the search's seed as it is; a resumed one a seed derived from it and
    ``before``, so a restarted search draws new points instead of its first ones again (every
    start that draws a trial leaves more trials behind, so no two starts share a seed).
    """
    if seed is None or before == 0:
        return seed
    digest = hashlib.sha256(f"nnzoo-search:{seed}:{before}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def recorded_seed(folder: SearchDir, seed: int | None) -> int | None:
    """The sampler seed an earlier start recorded in search.json (its seed if there is none:
    the summary is rewritten below, so an unreadable one is replaced, not refused)."""
    try:
        return read_json(folder.settings, ConfigError, kind=dict).get("sampler_seed", seed)
    except ConfigError:
        return seed


def make_sampler(search: SearchConfig, seed: int | None):
    o = optuna()
    if search.sampler == "random":
        return o.samplers.RandomSampler(seed=seed)
    if search.sampler == "grid":
        grid = {d.key: d.grid() for d in search.space if d.tunable}
        return Grid(grid, seed=seed)
    startup = startup_trials(search)
    if search.sampler == "hyperopt-compatible":  # univariate, no constant liar
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            params = o.samplers.TPESampler.hyperopt_parameters()
            params["n_startup_trials"] = startup
            return o.samplers.TPESampler(
                **params, multivariate=False, constant_liar=False, seed=seed
            )
    return o.samplers.TPESampler(n_startup_trials=startup, seed=seed)


class Grid:
    """Optuna's GridSampler, less its ``study.stop()`` on the last point (the loop stops)."""

    def __new__(cls, grid, seed=None):
        o = optuna()

        class _Grid(o.samplers.GridSampler):
            def after_trial(self, study, trial, state, values) -> None:
                pass

        return _Grid(grid, seed=seed)


def make_pruner(search: SearchConfig, epochs: int):
    o = optuna()
    if search.pruner == "median":
        return o.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    if search.pruner == "hyperband":
        return o.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1))
    return o.pruners.NopPruner()


def database_url(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed.

    SQLAlchemy reads a bare ``postgresql://`` as psycopg2 or psycopg 3 depending on its version;
    name whichever driver is importable, so the plain URL works with either.
    """
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    for module, dialect in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{dialect}://" + url[len("postgresql://") :]
    raise ConfigError(
        f"--storage {url}: no PostgreSQL driver is installed; pip install psycopg2-binary"
    )


SQLITE_TIMEOUT = 300  # s a worker waits for another's write to an SQLite study (default 5)


def open_storage(url: str | None, out: Path, *, create: bool = True):
    """An RDB storage for ``url``, else the journal file in ``out`` (`open_journal`: a cut last
    record is dropped, a stale lock cleared; ``create=False`` refuses a missing journal)."""
    o = optuna()
    if url is None:
        return open_journal(SearchDir(out).journal, create=create)
    # SQLite lets one writer in at a time; its 5 s default wait fails a busy worker
    kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}
    try:
        return o.storages.RDBStorage(database_url(url), engine_kwargs=kwargs)
    except Exception as e:  # a bad URL, a missing driver, a server that does not answer
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"--storage {url}: cannot reach it ({reason}); pass sqlite:///PATH or "
            "postgresql://USER@HOST/DB of a server that answers"
        ) from None


def counted(trials: list) -> list:
    """Trials that use up the budget: finished (complete, pruned, diverged) or running."""
    from optuna.trial import TrialState

    return [
        t
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        or (t.state == TrialState.FAIL and "error" in t.user_attrs)
    ]


def fail_stale(study) -> None:
    """Trials a killed process left RUNNING: mark them FAIL and enqueue their params again."""
    from optuna.trial import TrialState

    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})


def describe(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def train_with_torchrun(config, run_dir: Path, data_root, processes: int) -> dict[str, Any]:
    """Train one trial as ``torchrun --standalone --nproc-per-node N -m nnzoo train`` (DDP on
    this machine, `nnzoo.engine.runtime.Runtime`), and read the results its rank 0 wrote. The
    trial's config goes beside its folder as ``<n>.toml``."""
    import subprocess
    import sys

    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    toml = run_dir.parent / f"{run_dir.name}.toml"
    toml.write_text(config.to_toml(), encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(processes), "-m", "nnzoo", "train", str(toml),
               "--out", str(run_dir), "--quiet"]  # fmt: skip
    if data_root is not None:
        command += ["--data-root", str(data_root)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [x for x in done.stderr.splitlines() if x.startswith("nnzoo: error:")]
        reason = lines[0].removeprefix("nnzoo: error: ") if lines else f"exit {done.returncode}"
        raise ConfigError(f"trial {run_dir.name} under torchrun ({processes} processes): {reason}")
    return RunDir(run_dir).read_results(ConfigError)


def run_trial(trial, base, search, trials_dir: Path, data_root) -> float:
    from nnzoo.runs.train import train_run

    values = {d.key: d.suggest(trial) for d in search.space}
    config = trial_config(base, search, values)
    run_dir = trials_dir / str(trial.number)
    trial.set_user_attr("run_dir", str(run_dir))
    # every epoch's value goes to the study, which prunes only with a pruner (NopPruner never
    # does): the study alone then holds each trial's curve, wherever its run folder is
    pruning = TrialPruning(trial, search.objective)
    if search.processes > 1:
        results = train_with_torchrun(config, run_dir, data_root, search.processes)
    else:
        results = train_run(
            config, run_dir, data_root=data_root, progress=False, extra_callbacks=[pruning],
        )  # fmt: skip
    trial.set_user_attr("test_accuracy", results["test"]["accuracy"])
    trial.set_user_attr("selected_epoch", results["selected_epoch"])
    trial.set_user_attr("machine", machine_description(config.train.device))
    if pruning.pruned_at is not None:
        raise optuna().TrialPruned(f"pruned at epoch {pruning.pruned_at}")
    return float(results["selected_val"][search.objective])


def run_trials(study, base, search: SearchConfig, trials_dir: Path, data_root) -> int:
    """Draw and train trials until the study's budget is used up; returns how many ran here."""
    from optuna.trial import TrialState

    o = optuna()
    ran = 0
    while len(counted(study.get_trials(deepcopy=False))) < search.trials:
        trial = study.ask()
        ahead = [t for t in counted(study.get_trials(deepcopy=False)) if t.number < trial.number]
        if len(ahead) >= search.trials:  # another worker took the last place meanwhile
            trial.set_user_attr("skipped", "the study already held its trials")
            study.tell(trial, state=TrialState.FAIL)
            break
        try:
            value = run_trial(trial, base, search, trials_dir, data_root)
        except o.TrialPruned as e:
            study.tell(trial, state=TrialState.PRUNED)
            print(f"trial {trial.number}: {e} | {describe(trial.params)}", flush=True)
        except NnzooError as e:  # a run that diverged: it would fail again
            trial.set_user_attr("error", str(e))
            study.tell(trial, state=TrialState.FAIL)
            print(f"trial {trial.number}: failed ({e}) | {describe(trial.params)}", flush=True)
        except BaseException:
            trial.set_user_attr("interrupted", True)
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            raise
        else:
            study.tell(trial, value)
            print(
                f"trial {trial.number}: {search.objective} {value:.4f} | {describe(trial.params)}",
                flush=True,
            )
        ran += 1
    return ran


def load_focus(source: str, study_name: str | None, k: int):
    """(top-k params best first, best trial, where from) of a finished round."""
    o = optuna()
    if "://" in source:
        storage, name = source, study_name
    else:
        folder = Path(source)
        journal = SearchDir(folder).journal
        if not journal.exists():
            raise ConfigError(
                f"--focus-from {folder}: no {journal.name}; is it a search folder? Give the --out "
                "folder of round 1's `nnzoo search`, or its storage URL with --focus-study"
            )
        storage = open_storage(None, folder, create=False)
        name = study_name
        if name is None:
            names = o.study.get_all_study_names(storage)
            if len(names) != 1:
                raise ConfigError(
                    f"--focus-from {folder}: holds studies {names}; pass --focus-study NAME"
                )
            name = names[0]
    if isinstance(storage, str):
        storage = open_storage(storage, Path("."))
    try:
        study = o.load_study(study_name=name, storage=storage)
    except KeyError:
        raise ConfigError(
            f"--focus-from {source}: no study named {name!r}; pass --focus-study with round 1's "
            "study name"
        ) from None
    done = study.get_trials(deepcopy=False, states=(o.trial.TrialState.COMPLETE,))
    if not done:
        raise ConfigError(
            f"--focus-from {source}: study {name!r} has no complete trial; run round 1 until at "
            "least one trial completes (rerun its `nnzoo search`)"
        )
    maximize = study.direction == o.study.StudyDirection.MAXIMIZE
    done = sorted(done, key=lambda t: t.value, reverse=maximize)
    return [t.params for t in done[:k]], done[0], f"{source} (study {name})"


def signature(base_config, search: SearchConfig) -> dict[str, Any]:
    """What must match for a study to be resumed by this command: not how its trials are
    executed (`nnzoo.config.experiment`), so that another machine can go on with it."""
    return {
        "objective": search.objective,
        "sampler": search.sampler,
        "pruner": search.pruner,
        "space": search.space_dict(),
        "config": experiment(base_config).to_dict(),
    }


def comparable(saved: Any) -> Any:
    """A study's saved `signature` as this version writes it: a study started before the
    execution fields were left out kept them in its config, and may still be resumed."""
    try:
        config = config_from_dict(saved["config"], source="the study's config")
        return {**saved, "config": json.loads(json.dumps(experiment(config).to_dict()))}
    except (NnzooError, KeyError, TypeError):
        return saved  # not a signature this version can read: it cannot match


def summary(study, search: SearchConfig, storage: str, command: str) -> dict[str, Any]:
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    out = {
        "name": study.study_name,
        "storage": storage,
        "sampler": search.sampler,
        "pruner": search.pruner,
        "processes": search.processes,
        "objective": search.objective,
        "direction": search.direction,
        "seed": search.seed,
        "n_startup_trials": startup_trials(search),  # TPE's random start-up trials
        "trials": search.trials,
        "space": search.space_dict(),
        "states": {s.name.lower(): states.count(s) for s in TrialState if s in states},
        "best": None,
        "command": command,
    }
    if TrialState.COMPLETE in states:
        best = study.best_trial
        out["best"] = {
            "number": best.number,
            "value": best.value,
            "params": best.params,
            "run_dir": best.user_attrs.get("run_dir"),
        }
    return out


def run_search(
    config: RunConfig | dict[str, Any],
    search: dict[str, Any] | None = None,
    *,
    name: str = "search",
    out: str | Path | None = None,
    storage: str | None = None,
    create: bool = False,
    worker: bool = False,
    focus_from: str | None = None,
    focus_study: str | None = None,
    data_root: str | Path | None = None,
    overrides: list[str] | None = None,
    command: str = "",
    source: str = "search config",
    trials_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Check everything, then run (or create, or join) the study; returns search.json's dict.

    Args:
        config: the run config every trial starts from: a RunConfig, or its tables as nested
            dicts, which may hold the ``[search]`` table too (`nnzoo.config.read_toml` of a
            search config file).
        search: the ``[search]`` table, when ``config`` does not hold it.
        name: the study's name when ``[search]`` gives none, and the folder ``out`` defaults
            to, ``runs/search-<name>``; ``nnzoo search`` passes the config file's stem.
        overrides: ``SECTION.KEY=VALUE`` texts (``--set``) applied to the run config.
        command: the command line, for search.json.
        source: what error messages call the config (``nnzoo search`` passes the file).
        trials_dir: where the trials' run folders go (default ``<out>/trials``), e.g. a scratch
            folder while ``out``, which keeps the study, is committed.
    """
    raw = config.to_dict() if isinstance(config, RunConfig) else copy.deepcopy(config)
    table = search
    if "search" in raw:
        if table is not None:
            raise ConfigError(
                f"{source}: a [search] table in the config and another passed; give only one"
            )
        table = raw.pop("search")
    raw = apply_overrides(raw, overrides or [])
    base_config = config_from_dict(raw, source=source)
    search = parse_search(table, source=source)
    out = Path(out) if out else Path("runs") / f"search-{name}"
    folder = SearchDir(out)
    name = search.name or name
    if (create or worker) and storage is None:
        raise ConfigError("--create and --worker need --storage URL (a shared study)")
    if create and worker:
        raise ConfigError("--create and --worker: pass one (create the study, then start workers)")

    focus = None
    if focus_from:
        top, best, source = load_focus(focus_from, focus_study, search.focus_top_k)
        original = search.space_dict()
        search = dataclasses.replace(search, space=focus_space(search, top, best.params))
        tunable = {d.key for d in search.space if d.tunable}
        focus = {
            "from": source,
            "rule": FOCUS_RULE,
            "top_k": search.focus_top_k,
            "top_params": top,
            "best": {"number": best.number, "value": best.value, "params": best.params},
            "original_space": original,
            "space": search.space_dict(),
            "enqueued": {k: v for k, v in best.params.items() if k in tunable},
        }
    check_space(raw, search)

    o = optuna()
    store = open_storage(storage, out)
    where = storage or str(folder.journal)
    seed = None if worker else search.seed  # parallel workers draw apart
    sampler, pruner = make_sampler(search, seed), make_pruner(search, base_config.train.epochs)
    sig = json.loads(json.dumps(signature(base_config, search)))
    if create:
        try:
            study = o.create_study(study_name=name, storage=store, direction=search.direction)
        except o.exceptions.DuplicatedStudyError:
            raise ConfigError(
                f"study {name!r} already exists in {storage}; start workers on it with --worker, "
                "or set another name in [search]"
            ) from None
        study.set_user_attr("nnzoo_search", sig)
        print(f"created study {name!r} in {storage}; start workers with --worker")
        return summary(study, search, where, command)
    if worker:
        try:
            study = o.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)
        except KeyError:
            raise ConfigError(
                f"no study {name!r} in {storage}; create it first with --create, then start "
                "workers with --worker"
            ) from None
    else:  # load first: create_study(load_if_exists=True) would log a refused create
        try:
            study = o.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)
        except KeyError:
            study = o.create_study(
                study_name=name, storage=store, direction=search.direction, sampler=sampler,
                pruner=pruner,
            )  # fmt: skip
    saved = study.user_attrs.get("nnzoo_search")
    if saved is None and not study.trials:
        study.set_user_attr("nnzoo_search", sig)
    elif comparable(saved) != sig:
        raise ConfigError(
            f"study {name!r} in {where} was made by a different search config; "
            "pass another --out (or [search] name)"
        )
    before = len(study.trials)
    study.sampler = make_sampler(search, sampler_seed(seed, before))
    if storage is None:
        fail_stale(study)
    out.mkdir(parents=True, exist_ok=True)
    if focus is not None:
        if not study.trials and focus["enqueued"]:
            study.enqueue_trial(focus["enqueued"])
        write_atomic(folder.focus, json.dumps(focus, indent=2) + "\n")

    ran = run_trials(
        study, raw, search, Path(trials_dir) if trials_dir else folder.trials, data_root
    )
    result = summary(study, search, storage or folder.journal.name, command)
    # the seed of the last start that drew trials (see sampler_seed): a start that finds the
    # budget used up draws nothing and keeps the recorded one
    result["sampler_seed"] = sampler_seed(seed, before) if ran else recorded_seed(folder, seed)
    summary_path = write_atomic(folder.settings, json.dumps(result, indent=2) + "\n")
    best = result["best"]
    if best is None:
        print(f"no complete trial; {summary_path}")
    else:
        print(
            f"best: trial {best['number']}, {search.objective} {best['value']:.4f} | "
            f"{describe(best['params'])} ({best['run_dir']}); summary: {summary_path}"
        )
    return result
