"""The analysis report of a hyperparameter search (``nnzoo report SEARCH_DIR``).

    SEARCH_DIR/search.json       name, storage, sampler, pruner, objective, space, command
    SEARCH_DIR/focus.json        round 2 (optional): the rule and the space it derived
    SEARCH_DIR/search.journal    the Optuna storage (unless search.json names another)
    SEARCH_DIR/trials/<n>/       one run folder of nnzoo train per trial (metrics.jsonl)
        -> SEARCH_DIR/report.md, report.html, plots/*.png

The report follows the analysis of the LARNN paper: the best trials, validation accuracy
through the epochs of every trial (the best one highlighted), each hyperparameter against the
objective, parameter importances, and the optimisation history; then the search's settings,
its trial counts and how it was run. Test accuracy is shown beside the best trials, in a column
of its own, and is never used to rank them.

The report reads only what the search folder holds, and creates nothing but its own files: the
storage search.json names must be the journal or an SQLite file inside the folder (opened
read-only; a missing one is an error) or a ``postgresql://`` study (a shared search's
``--storage``; no tables are created); any other URL, a file outside, or a link out of the folder
is refused with one line. A trial whose run folder lies outside (another worker's ``--out``, or
``run_search``'s ``trials_dir``) is not read: it is drawn from the values it reported to Optuna
(every trial reports each epoch's), and the report says so. A journal whose last record was cut
is repaired first (`nnzoo.search.journal`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import read_json
from nnzoo.report.markdown import table, write_report
from nnzoo.report.plots import _figure, _save
from nnzoo.runs.rundir import RunDir, SearchDir

HISTORY = RunDir.metrics.name  # a curve read from the trial's run folder
TOP = 10  # rows of the best-trials table
TEST_COLUMN = "test (not used for selection)"
CURVE_METRIC = "val_accuracy"
STATES = ("COMPLETE", "PRUNED", "FAIL")  # always counted; RUNNING / WAITING when there are any


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the report sees it: Optuna's record and what its run folder holds."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    curve: list[tuple[float, float]]  # (epoch, val_accuracy), else (step, reported value)
    curve_source: str  # HISTORY (metrics.jsonl), "reported" or "" (no curve)
    last_reported: float | None  # the last intermediate value (a pruned trial's last word)
    epochs: int | None
    test_accuracy: float | None
    outside: bool = False  # its run folder lies outside the search folder: not read


def is_search(path: str | os.PathLike) -> bool:
    """True for a folder holding search.json."""
    return SearchDir(path).settings.is_file()


def read_settings(path: Path, required: bool) -> dict[str, Any]:
    """A search folder's search.json (or focus.json) as a dict; {} when absent and not
    required."""
    if not path.is_file():
        if required:
            raise ConfigError(
                f"{path.parent}: no {path.name}; not the folder of an nnzoo search: give the "
                "--out folder of `nnzoo search`"
            )
        return {}
    settings = read_json(path, ConfigError)
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return settings


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, links followed, lies in the folder ``root``."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def _file_inside(search: SearchDir, recorded: str, what: str) -> Path:
    """The file ``recorded`` (relative to the search folder, or as the search wrote it: relative
    to where it ran, or absolute) inside the search folder; a ConfigError if it is elsewhere."""
    given = Path(recorded)
    candidates = [given] if given.is_absolute() else [search.path / given, given]
    for path in candidates:
        if path.is_file() and inside(search.path, path):
            return path
    moved = search.path / given.name  # a search folder moved since: its own file of that name
    if moved.is_file() and inside(search.path, moved) and moved.name == search.journal.name:
        return moved
    if any(path.exists() for path in candidates):
        raise ConfigError(
            f"{search.settings}: 'storage' names a {what} outside {search.path}; the report reads "
            "only the search folder's own files: move it into the folder and name it there"
        )
    raise ConfigError(
        f"{search.path / given.name}: no such {what}; the search's trials are stored there: "
        "put it back in the search folder, or run `nnzoo search` again"
    )


def _storage(search: SearchDir, url: Any) -> Any:
    """The Optuna storage search.json names, opened read-only: the journal file (the default)
    or an SQLite file, inside the search folder; or a PostgreSQL server (``--storage`` of a
    shared study). Any other URL is refused, and nothing is created."""
    import optuna

    from nnzoo.search.journal import open_journal
    from nnzoo.search.run import database_url

    if url is None:
        url = search.journal.name
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{search.settings}: 'storage' should be a path or a URL")
    scheme = url.split("://", 1)[0].lower() if "://" in url else "journal"
    if scheme == "journal":
        path = _file_inside(search, url.removeprefix("journal://"), "journal file")
        return open_journal(path, create=False)
    if scheme == "sqlite":
        recorded = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not recorded or recorded.startswith(":memory:") or recorded.startswith("file:"):
            raise ConfigError(
                f"{search.settings}: 'storage' is an SQLite URL without a database file; "
                "name the search's .db file inside the search folder (sqlite:///NAME.db)"
            )
        path = _file_inside(search, recorded.split("?", 1)[0], "SQLite database")
        quoted = urllib.parse.quote(str(path.resolve()))
        url, kwargs = f"sqlite:///file:{quoted}?mode=ro&uri=true", {}
    elif scheme.split("+", 1)[0] == "postgresql":
        url, kwargs = database_url(url), {}
    else:
        raise ConfigError(
            f"{search.settings}: 'storage' is a {scheme!r} URL; the report opens only the "
            "search's journal or SQLite file in its folder, or a postgresql:// study: set "
            "'storage' to one of those"
        )
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_table_creation=True)
    except Exception as e:  # a bad URL, a missing driver, a server that does not answer
        reason = type(e).__name__
        raise ConfigError(
            f"{search.settings}: cannot open the search's storage ({reason}); check 'storage'"
        ) from None


def load_search_study(search_dir: str | os.PathLike, settings: dict[str, Any]) -> Any:
    """The Optuna study of a search folder, from the storage and name in search.json."""
    import optuna

    search = SearchDir(search_dir)
    storage = _storage(search, settings.get("storage"))
    name = settings.get("name", settings.get("study_name"))
    try:
        if name is None:
            names = optuna.study.get_all_study_names(storage)
            if len(names) != 1:
                raise ConfigError(
                    f"{search.settings}: no 'name', and the storage holds "
                    f"{len(names)} studies; name the study"
                )
            name = names[0]
        return optuna.load_study(study_name=str(name), storage=storage)
    except NnzooError:
        raise
    except Exception as e:
        raise ConfigError(
            f"{search.path}: cannot load study {name!r} ({e}); check 'name' and 'storage' in "
            f"{search.settings.name}"
        ) from None


def _history(run: RunDir) -> list[dict[str, Any]]:
    """A trial's history (`RunDir.read_history`); [] when it is missing, unreadable or
    malformed: the trial is drawn from the values it reported instead."""
    try:
        return run.read_history()
    except NnzooError:
        return []


def _results(run: RunDir) -> dict[str, Any]:
    """A trial's results.json (`RunDir.read_results`); {} when it has none it can read."""
    try:
        return run.read_results()
    except NnzooError:
        return {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _run_dir(search: SearchDir, trial: Any) -> RunDir | None:
    """The trial's run folder inside the search folder; None when it lies elsewhere (another
    worker's ``--out``, a link out of the folder): the report does not read it."""
    own = search.trial(trial.number).path
    candidates = []
    run_dir = trial.user_attrs.get("run_dir")
    if isinstance(run_dir, str) and run_dir:
        given = Path(run_dir)
        candidates = [given] if given.is_absolute() else [search.path / given, given]
    for candidate in [*candidates, own]:
        if candidate.is_dir():
            files = (candidate, candidate / RunDir.metrics.name, candidate / RunDir.results.name)
            if all(inside(search.path, f) for f in files):
                return RunDir(candidate)
    if any(c.is_dir() for c in [*candidates, own]):
        return None
    return RunDir(own)  # no run folder at all: nothing to read


def collect_trials(search_dir: str | os.PathLike, study: Any) -> list[TrialRecord]:
    """Every trial of ``study`` with its validation accuracy through the epochs (from its run
    folder's metrics.jsonl, else the values it reported to Optuna), epochs run and test
    accuracy."""
    search = SearchDir(search_dir)
    records = []
    for trial in study.trials:
        run = _run_dir(search, trial)
        history = [] if run is None else _history(run)
        results = {} if run is None else _results(run)
        curve = [
            (float(r.get("epoch", i + 1)), float(r[CURVE_METRIC]))
            for i, r in enumerate(history)
            if _number(r.get(CURVE_METRIC)) is not None
        ]
        source = HISTORY if curve else ""
        reported = sorted(trial.intermediate_values.items())
        if not curve:
            curve = [(float(step), float(v)) for step, v in reported if _number(v) is not None]
            source = "reported" if curve else ""
        test = _number(trial.user_attrs.get("test_accuracy"))
        if test is None and isinstance(results.get("test"), dict):
            test = _number(results["test"].get("accuracy"))
        epochs = results.get("epochs_run")
        if not isinstance(epochs, int) or isinstance(epochs, bool):
            epochs = len(history) or len(reported) or None
        records.append(
            TrialRecord(
                number=trial.number,
                state=trial.state.name,
                value=_number(trial.value) if trial.state.name == "COMPLETE" else None,
                params=dict(trial.params),
                curve=curve,
                curve_source=source,
                last_reported=_number(reported[-1][1]) if reported else None,
                epochs=epochs,
                test_accuracy=test,
                outside=run is None,
            )
        )
    return records


def _param_names(study: Any, records: list[TrialRecord]) -> list[str]:
    return list(dict.fromkeys(name for r in records for name in r.params))


def _distributions(study: Any) -> dict[str, Any]:
    """Each parameter's distribution, from the latest trial that has it."""
    out: dict[str, Any] = {}
    for trial in study.trials:
        out.update(trial.distributions)
    return out


def _param_text(value: Any) -> Any:
    if isinstance(value, float):
        return format(value, ".4g")  # 0.0001, not .4f's 0.0001 for 1e-4 and 0.0000 for 1e-5
    return value if value is None or isinstance(value, int) else str(value)


def _ranked(records: list[TrialRecord], maximize: bool) -> list[TrialRecord]:
    done = [r for r in records if r.value is not None]
    return sorted(done, key=lambda r: (-r.value if maximize else r.value, r.number))


def best_trials_table(
    records: list[TrialRecord], names: list[str], maximize: bool, objective: str
) -> str:
    """The best ``TOP`` complete trials by objective, best first."""
    rows = [
        [
            r.number,
            r.value,
            *(_param_text(r.params.get(n)) for n in names),
            r.epochs,
            r.state,
            r.test_accuracy,
        ]
        for r in _ranked(records, maximize)[:TOP]
    ]
    headers = ["trial", objective, *names, "epochs run", "state", TEST_COLUMN]
    return table(rows, headers)


def plot_trial_curves(
    records: list[TrialRecord], best: int | None, metric: str, path: Path
) -> Path:
    """``metric`` through the epochs, one line per trial, the best trial highlighted."""
    fig = _figure(7.0, 4.5)
    ax = fig.add_subplot()
    for r in records:
        if not r.curve or r.number == best:
            continue
        xs, ys = zip(*r.curve)
        style = "--" if r.state == "PRUNED" else "-"
        ax.plot(xs, ys, style, color="0.6", linewidth=0.9, alpha=0.7)
    ax.plot([], [], "-", color="0.6", label="other trials")
    if any(r.state == "PRUNED" and r.curve for r in records):
        ax.plot([], [], "--", color="0.6", label="pruned trials")
    for r in records:
        if r.number == best and r.curve:
            xs, ys = zip(*r.curve)
            ax.plot(
                xs,
                ys,
                color="C3",
                linewidth=2.2,
                marker="o",
                markersize=3,
                label=f"best trial ({r.number})",
            )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} through epochs, every trial")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _is_log(distribution: Any) -> bool:
    return bool(getattr(distribution, "log", False))


def plot_scatter_matrix(
    records: list[TrialRecord],
    names: list[str],
    distributions: dict[str, Any],
    objective: str,
    path: Path,
) -> Path:
    """One panel per hyperparameter: its value against the objective of complete trials
    (pruned trials at their last reported value, hollow). Log-distributed parameters get a log
    x-axis; categorical ones are jittered around their category's position."""
    from optuna.distributions import CategoricalDistribution

    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = _figure(4.0 * cols, 3.3 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    rng = np.random.default_rng(0)
    for ax, name in zip(axes, names):
        dist = distributions.get(name)
        categorical = isinstance(dist, CategoricalDistribution)
        choices = list(dist.choices) if categorical else []
        for kind, style in (("COMPLETE", "o"), ("PRUNED", "x")):
            points = [
                (r.params[name], r.value if kind == "COMPLETE" else r.last_reported)
                for r in records
                if r.state == kind and name in r.params
            ]
            points = [(x, y) for x, y in points if y is not None]
            if not points:
                continue
            xs, ys = zip(*points)
            if categorical:
                xs = [choices.index(x) if x in choices else -1 for x in xs]
                xs = np.asarray(xs, dtype=float) + rng.uniform(-0.15, 0.15, len(xs))
            label = "complete" if kind == "COMPLETE" else "pruned (last reported)"
            color = "C0" if kind == "COMPLETE" else "0.5"
            ax.scatter(xs, ys, marker=style, s=22, color=color, alpha=0.8, label=label)
        if categorical:
            ax.set_xticks(range(len(choices)), [str(c) for c in choices])
            ax.set_xlim(-0.6, len(choices) - 0.4)
        elif _is_log(dist):
            ax.set_xscale("log")
        ax.set_xlabel(name + (" (log)" if _is_log(dist) else ""))
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    if any(r.state == "PRUNED" for r in records):
        axes[0].legend(fontsize=8)
    fig.suptitle(f"each hyperparameter against {objective}")
    return _save(fig, path)


def importances(study: Any, records: list[TrialRecord]) -> tuple[dict[str, float], str]:
    """(parameter -> importance, "") or ({}, why they cannot be computed)."""
    import optuna

    complete = [r for r in records if r.value is not None]
    if len(complete) < 2:
        return {}, f"needs at least 2 complete trials; the search has {len(complete)}"
    varying = [
        n
        for n in _param_names(study, complete)
        if len({repr(r.params.get(n)) for r in complete}) > 1
    ]
    if not varying:
        return {}, "no hyperparameter takes more than one value among the complete trials"
    try:
        return dict(optuna.importance.get_param_importances(study)), ""
    except Exception as e:  # an evaluator can refuse a study too small or too uniform
        return {}, f"Optuna could not compute them ({type(e).__name__}: {e})"


def plot_importances(values: dict[str, float], path: Path) -> Path:
    names = list(values)[::-1]  # most important at the top
    fig = _figure(6.0, 1.2 + 0.45 * len(names))
    ax = fig.add_subplot()
    ax.barh(names, [values[n] for n in names], color="C0")
    ax.set_xlabel("importance (sums to 1)")
    ax.set_title("parameter importances")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_history(records: list[TrialRecord], maximize: bool, objective: str, path: Path) -> Path:
    """Objective of each complete trial by trial number, and the best so far."""
    done = sorted((r for r in records if r.value is not None), key=lambda r: r.number)
    xs = [r.number for r in done]
    ys = [r.value for r in done]
    best = list(np.maximum.accumulate(ys) if maximize else np.minimum.accumulate(ys))
    fig = _figure(6.5, 4.0)
    ax = fig.add_subplot()
    ax.scatter(xs, ys, s=20, color="C0", label="trial")
    ax.step(xs, best, where="post", color="C3", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.set_title("optimisation history")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _describe(distribution: Any) -> list[Any]:
    kind = type(distribution).__name__.removesuffix("Distribution").lower()
    if hasattr(distribution, "choices"):
        return [kind, ", ".join(str(c) for c in distribution.choices), "", ""]
    step = getattr(distribution, "step", None)
    return [
        kind,
        f"{distribution.low:g} .. {distribution.high:g}",
        "yes" if _is_log(distribution) else "no",
        "" if step is None else f"{step:g}",
    ]


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _space_table(space: Any) -> str:
    if isinstance(space, dict) and space:
        return table([[k, _value_text(v)] for k, v in space.items()], ["parameter", "space"])
    return f"`{_value_text(space)}`"


def settings_sections(
    settings: dict[str, Any], focus: dict[str, Any], study: Any
) -> list[tuple[str, str]]:
    """The search's settings, its space (as given, and as Optuna recorded it), and round 2."""
    shown = ("name", "storage", "sampler", "pruner", "objective", "direction")
    rows = [[key, _value_text(settings[key])] for key in shown if key in settings]
    if "name" not in settings:
        rows.insert(0, ["study", study.study_name])
    startup, budget = settings.get("n_startup_trials"), settings.get("trials")
    if isinstance(startup, int) and not isinstance(startup, bool):
        text = f"{startup}"
        if isinstance(budget, int) and startup >= budget:
            text += f" (not fewer than the {budget} trials: every trial was drawn at random)"
        rows.append(["random start-up trials (TPE)", text])
    direction = study.direction.name.lower()
    if settings.get("direction") != direction:
        rows.append(["direction (as the study holds it)", direction])
    sections = [("Settings", table(rows, ["", ""]))]
    body = []
    if "space" in settings:
        body.append(_space_table(settings["space"]))
    recorded = _distributions(study)
    if recorded:
        body.append("As Optuna recorded it:")
        rows = [[name, *_describe(d)] for name, d in recorded.items()]
        body.append(table(rows, ["parameter", "distribution", "range / choices", "log", "step"]))
    sections.append(("Search space", "\n\n".join(body) or "No parameters."))
    if focus:
        body = []
        if "rule" in focus:
            body.append(f"Rule: {_value_text(focus['rule'])}")
        if "space" in focus:
            body.append("Derived space:\n\n" + _space_table(focus["space"]))
        rest = [[k, _value_text(v)] for k, v in focus.items() if k not in ("rule", "space")]
        if rest:
            body.append(table(rest, ["", ""]))
        sections.append(("Round 2 (focus.json)", "\n\n".join(body)))
    return sections


def counts_table(records: list[TrialRecord]) -> str:
    counts = Counter(r.state for r in records)
    states = [*STATES, *sorted(s for s in counts if s not in STATES)]
    return table(
        [[s, counts.get(s, 0)] for s in states] + [["total", len(records)]], ["state", "trials"]
    )


def provenance_sections(settings: dict[str, Any]) -> list[tuple[str, str]]:
    body = []
    if "command" in settings:
        command = settings["command"]
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        body.append(f"```\n{command}\n```")
    if isinstance(settings.get("best_trial"), dict):
        rows = [[k, _value_text(v)] for k, v in settings["best_trial"].items()]
        body.append("Best trial as search.json recorded it:\n\n" + table(rows, ["", ""]))
    provenance = settings.get("provenance")
    if isinstance(provenance, dict) and provenance:
        rows = [[k, _value_text(v)] for k, v in provenance.items()]
        body.append(table(rows, ["", ""]))
    elif provenance is not None:
        body.append(_value_text(provenance))
    return [("How the search was run", "\n\n".join(body) or "Not recorded in search.json.")]


def write_search_report(search_dir: str | os.PathLike, study: Any = None) -> Path:
    """Write report.md and report.html of a search folder; return the path of report.md.

    Args:
        search_dir: the folder of the search (search.json, the storage, trials/).
        study: the search's Optuna study; loaded from the storage search.json names when None.
    """
    search = SearchDir(search_dir)
    if not search.path.is_dir():
        raise ConfigError(f"{search.path}: no such folder; give the --out folder of `nnzoo search`")
    for entry in (search.settings, search.focus, search.plots, search.report):
        if (entry.exists() or entry.is_symlink()) and not inside(search.path, entry):
            raise ConfigError(
                f"{entry}: a link out of the search folder; the report reads and writes only "
                f"inside {search.path}: replace the link with the file or folder itself"
            )
    settings = read_settings(search.settings, required=study is None)
    focus = read_settings(search.focus, required=False)
    if study is None:
        study = load_search_study(search.path, settings)
    if len(study.directions) != 1:
        raise ConfigError(f"{search.path}: a multi-objective study; the report needs one objective")
    maximize = study.direction.name == "MAXIMIZE"
    objective = str(settings.get("objective", "objective"))
    records = collect_trials(search.path, study)
    sources = {r.curve_source for r in records if r.curve}
    metric = {
        frozenset({HISTORY}): CURVE_METRIC,
        frozenset({"reported"}): f"{objective} (reported)",
    }.get(frozenset(sources), f"{CURVE_METRIC} or {objective} (reported)")
    names = _param_names(study, records)
    ranked = _ranked(records, maximize)
    best = ranked[0].number if ranked else None
    title = f"Search {settings.get('name', study.study_name)}"

    sections: list[tuple[str, str]] = []
    if ranked:
        summary = (
            f"Best trial: **{best}**, {objective} = {ranked[0].value:.4f} "
            f"({'maximised' if maximize else 'minimised'}). Test accuracy is shown for "
            "reference only; trials are ranked by the objective."
        )
        sections.append(
            (
                f"Best trials (top {min(TOP, len(ranked))})",
                summary + "\n\n" + best_trials_table(records, names, maximize, objective),
            )
        )
    else:
        sections.append(("Best trials", "No trial has completed."))
    body = counts_table(records)
    outside = [r.number for r in records if r.outside]
    if outside:
        numbers = ", ".join(str(n) for n in outside)
        note = (
            f"trial{'s' if len(outside) > 1 else ''} {numbers}: run folder outside {search.path} "
            "(another worker's --out, a trials folder of its own, or a link), not read; drawn "
            "from the values reported to Optuna"
        )
        print(f"nnzoo: warning: {note}", file=sys.stderr, flush=True)
        body += f"\n\nNot read: {note}."
    sections.append(("Trials", body))
    if sources:
        plot = plot_trial_curves(records, best, metric, search.plot("trial_curves"))
        body = f"![{metric} of every trial]({search.link(plot)})"
        if metric != CURVE_METRIC:
            body += (
                f"\n\nTrials without {CURVE_METRIC} in their run folder's {HISTORY} are "
                "drawn with the values they reported to Optuna."
            )
        sections.append(("Accuracy through epochs", body))
    if names and ranked:
        plot = plot_scatter_matrix(
            records, names, _distributions(study), objective, search.plot("scatter_matrix")
        )
        sections.append(
            ("Hyperparameters against the objective", f"![scatter]({search.link(plot)})")
        )
    values, why = importances(study, records)
    if values:
        plot = plot_importances(values, search.plot("importances"))
        body = (
            "From `optuna.importance.get_param_importances` (its default evaluator), over the "
            f"complete trials.\n\n![importances]({search.link(plot)})\n\n"
        ) + table([[n, v] for n, v in values.items()], ["parameter", "importance"])
    else:
        body = f"Not computable: {why}."
    sections.append(("Parameter importances", body))
    if ranked:
        plot = plot_history(records, maximize, objective, search.plot("history"))
        sections.append(("Optimisation history", f"![history]({search.link(plot)})"))
    sections += settings_sections(settings, focus, study)
    sections += provenance_sections(settings)
    return write_report(search.report, title, sections)
