"""The LARNN paper's two-round hyperparameter search on UCI HAR: ``nnzoo reproduce
larnn-har-search``.

Round 1 draws from the paper's diffuse space with a hyperopt-compatible TPE sampler (pruning
off); round 2 is focused on round 1 by ``--focus-from`` (`nnzoo.search.space.FOCUS_RULE`). Both
rounds are ordinary ``nnzoo search`` folders (``round1/``, ``round2/``, each with its report).

Across machines. The round folders live in ``--rounds`` (default
``<out>/larnn-har-search-rounds/``): each keeps its study (Optuna's journal, search.json,
focus.json) and its report, small enough to commit with the results, while the trials' run
folders go to ``<runs>/roundN/trials/``. The same command on another machine (with other
``--threads``) goes on with the journal: finished trials count, a trial a killed command left
running is trained again, and ``--trials`` may grow a round. Each trial keeps its value, the
epoch its validation picked and that epoch's test accuracy in the study, so the results are
written whether or not its run folder is still there. Round 2 is focused on round 1 as it
stands when round 2 starts: grow round 1 after that so that its best trials change, and round
2's study no longer matches its space (one line, exit 2); move round 2's folder away to redo it.

Cell. The trials train the LARNN as the paper wrote it (``larnn-paper``: its BN-ELU core, c_0
in the window), and the space draws, as the paper's did, the residual or layer mode, the
concatenated positional encoding on or off and BN(ELU) on the keys and values on or off
(``kv_norm`` "elu-batch" / "none"), so that round 1 can test the paper's three findings.

Sampler. TPE draws its first trials at random (`nnzoo.search.run.startup_trials`: hyperopt's 20,
at most half of a round's budget); the report states how many, so that a round whose start-up
covers its budget is not called TPE.

Data. By default every trial trains on all the windows of the 16 training subjects. LARNN is slow
on a CPU, so ``--train-windows`` can cut them to that many windows (one window of each subject
first, so that the seeded choice of validation subjects is unchanged, then a seeded random
draw); validation is the 5 held-out subjects, as
in ``larnn-har`` (``--val-windows`` keeps that many of their windows, each subject at least one),
and ``--test-windows`` cuts the test split the same way (every trial tests once, for reference).
The subset is written in the original UCI HAR format (the chosen lines of the original files,
byte for byte), so every trial is an ordinary run folder that ``nnzoo evaluate`` can read.
The test split never drives a choice: the best round-2 trial is picked on validation, and its
test accuracy (at its validation-picked epoch, computed once by its run) is reported as such.

Heads. The LARNN needs the attention width to be a multiple of the heads. The paper's width is
the hidden size; here the attention width is fixed at ``ATTENTION_SIZE`` = 72 (the
divisor-rich width nearest the centre 68 of the hidden range), so that the hidden size stays an
integer range and the heads a categorical of the divisors of 72 between 6 and 36 (the paper
drew 6 to 36 heads), and every pair is a valid model.

The findings (residual vs layer, positional encoding, layers) are computed from round 1's
complete trials, whose categoricals are drawn freely (round 2 fixes them).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import tomli_w
import torch

from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import fill_data_root
from nnzoo.runs.rundir import Folder, RunDir, SearchDir

NAME = "larnn-har-search"
HELP = "the LARNN paper's two-round hyperparameter search on UCI HAR (TPE, larnn-paper)"
ATTENTION_SIZE = 72
HEADS = [6, 8, 9, 12, 18, 24, 36]  # the divisors of ATTENTION_SIZE from 6 to 36
DEFAULTS = {"trials": (10, 6), "epochs": 3, "train_windows": None}  # None: every window
PAPER = {
    "model.cell_options.mode": "residual mode won",
    "model.cell_options.positional_encoding": "positional encoding did not help",
    "model.cell_options.kv_norm": "BN-ELU on the keys and values helped",
    "model.layers": "no finding stated for 2 vs 3 layers (its best had 3)",
}
PLOTS = [
    ("trial_curves", "validation accuracy of every trial"),
    ("scatter_matrix", "hyperparameters against the objective"),
    ("importances", "importances"),
    ("history", "optimisation history"),
]


def space() -> dict[str, Any]:
    """Round 1: the paper's diffuse space, written as ``[search.space]``."""
    return {
        "train.lr": {"log_uniform": [0.006 * math.exp(-0.4), 0.006 * math.exp(0.4)]},
        "train.lr_step_every": {"int": [6, 50]},
        "train.lr_step_factor": {"fixed": 0.75},
        "train.weight_decay": {"log_uniform": [0.002 * math.exp(-1.3), 0.002 * math.exp(1.3)]},
        "model.dropout": {"uniform": [0.05, 0.5]},
        "model.hidden": {"int": [round(68 * math.exp(-0.3)), round(68 * math.exp(0.3))]},
        "model.cell_options.num_heads": {"categorical": HEADS},
        "model.cell_options.window": {"int": [25, 100]},
        "model.cell_options.mode": {"categorical": ["residual", "layer"]},
        "model.cell_options.positional_encoding": {"categorical": ["concat", False]},
        "model.cell_options.kv_norm": {"categorical": ["elu-batch", "none"]},
        "model.layers": {"int": [2, 3]},
    }


def base_config(data_path: Path, epochs: int, threads: int) -> dict[str, Any]:
    """The run config every trial starts from (the space overrides what it names)."""
    return {
        "data": {"name": "uci-har", "path": str(data_path)},
        "model": {
            "cell": "larnn-paper",
            "residual": True,
            "readout": "last",
            "cell_options": {"attention_size": ATTENTION_SIZE},
        },
        "train": {
            "optimizer": "adam",
            "batch_size": 256,
            "epochs": epochs,
            "threads": threads,
        },
    }


def write_configs(
    folder: Path, data_path: Path, trials: tuple[int, int], epochs: int, threads: int
) -> list[tuple[Path, dict[str, Any]]]:
    """round1.toml and round2.toml: the same space; round 2 is focused at run time. They are
    the record (``nnzoo search roundN.toml`` reruns a round, as its report says); each comes
    with its config in memory, which is what the recipe passes to ``run_search``."""
    paths = []
    for n, count in enumerate(trials, 1):
        search = {
            "trials": count,
            "objective": "val_accuracy",
            "sampler": "hyperopt-compatible",
            "seed": n - 1,
            "pruner": "none",
            "name": f"larnn-har-round{n}",
            "focus_top_k": 5,
            "space": space(),
        }
        raw = {**base_config(data_path, epochs, threads), "search": search}
        path = folder / f"round{n}.toml"
        path.write_text(tomli_w.dumps(raw))
        paths.append((path, raw))
    return paths


# -- the training subset, in the original format -------------------------------------------
def draw(rows: list[int], groups: list[int], k: int | None, gen: torch.Generator) -> set[int]:
    """``k`` of ``rows`` (all when ``k`` is None or too large): one row of each group first,
    so that no group disappears, then a seeded random draw."""
    if k is None or k >= len(rows):
        return set(rows)
    order = [rows[i] for i in torch.randperm(len(rows), generator=gen).tolist()]
    first: dict[int, int] = {}
    for row in order:
        first.setdefault(groups[row], row)
    if k < len(first):
        raise ConfigError(f"{k} windows: expected at least {len(first)} (one per subject)")
    chosen = set(first.values())
    for row in order:
        if len(chosen) >= k:
            break
        chosen.add(row)
    return chosen


def pick_windows(
    subjects: list[int], val: list[int], k: int, val_k: int | None = None, seed: int = 0
) -> list[int]:
    """Row numbers kept from the training part: ``k`` rows of the training subjects and
    ``val_k`` (default all) of the validation subjects, each subject keeping one at least."""
    gen = torch.Generator().manual_seed(seed)
    train_rows = [i for i, s in enumerate(subjects) if s not in val]
    val_rows = [i for i, s in enumerate(subjects) if s in val]
    return sorted(draw(train_rows, subjects, k, gen) | draw(val_rows, subjects, val_k, gen))


def write_subset(
    source: Path,
    target: Path,
    train_windows: int | None,
    val_windows: int | None = None,
    test_windows: int | None = None,
) -> dict[str, Any]:
    """A UCI HAR folder with ``train_windows`` training-subject windows (and, when given,
    ``val_windows`` of the validation subjects and ``test_windows`` test windows)."""
    from nnzoo.data.uci_har import CHANNELS, load_uci_har, open_tree

    tree = open_tree(source)
    full = load_uci_har(source, standardize_features=False)
    val = sorted(set(full.val.groups.tolist()))
    subjects = [int(s) for s in tree.read_text("train/subject_train.txt").split()]
    rows = {"train": pick_windows(subjects, val, train_windows, val_windows)}
    tests = list(range(len(full.test)))
    gen = torch.Generator().manual_seed(1)
    rows["test"] = sorted(draw(tests, [0] * len(tests), test_windows, gen))
    done = target / "facts.json"
    facts = {
        "source": str(tree),
        "train_windows": sum(subjects[r] not in val for r in rows["train"]),
        "train_windows_available": sum(s not in val for s in subjects),
        "val_subjects": val,
        "val_windows": sum(subjects[r] in val for r in rows["train"]),
        "val_windows_available": sum(s in val for s in subjects),
        "test_windows": len(rows["test"]),
        "test_windows_available": len(tests),
    }
    if done.exists() and json.loads(done.read_text()) == facts:
        return facts
    folder = target / "UCI HAR Dataset"
    names = ["activity_labels.txt"]
    for part in ("train", "test"):
        names += [f"{part}/y_{part}.txt", f"{part}/subject_{part}.txt"]
        names += [f"{part}/Inertial Signals/{c}_{part}.txt" for c in CHANNELS]
    for name in names:
        text = tree.read_text(name)
        part = name.split("/")[0]
        if part in rows:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[r] for r in rows[part])
        path = folder / (name + ".gz" if "Inertial" in name else name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode(), compresslevel=1))
        else:
            path.write_text(text)
    check = load_uci_har(target, standardize_features=False)
    if sorted(set(check.val.groups.tolist())) != val:
        raise ConfigError(f"{target}: the subset changed the validation subjects; report this")
    done.write_text(json.dumps(facts, indent=2) + "\n")
    return facts


# -- findings ----------------------------------------------------------------------------
def group_stats(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "mean": statistics.fmean(values) if values else None,
        "median": statistics.median(values) if values else None,
        "sd": statistics.stdev(values) if len(values) > 1 else None,
    }


def compare(trials: list[dict[str, Any]], key: str, levels: list[Any]) -> dict[str, Any]:
    """The objective of the complete trials grouped by ``key``, and whether it says anything.

    A comparison concludes only when each group has at least 5 trials and the difference of
    the means is more than twice its standard error; otherwise it is "inconclusive".
    """
    groups = {
        str(level): group_stats([t["value"] for t in trials if t["params"].get(key) == level])
        for level in levels
    }
    a, b = (groups[str(level)] for level in levels)
    verdict = "inconclusive"
    if min(a["n"], b["n"]) >= 5 and a["sd"] is not None and b["sd"] is not None:
        se = math.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"])
        diff = a["mean"] - b["mean"]
        if abs(diff) > 2 * se:
            better = levels[0] if diff > 0 else levels[1]
            verdict = f"{key.rsplit('.', 1)[-1]}={better} is better"
    return {"key": key, "groups": groups, "verdict": verdict}


def trial_rows(search_dir: Path) -> list[dict[str, Any]]:
    """Every complete trial of a search folder: number, value, params, run folder, test acc."""
    from nnzoo.search.report import load_search_study, read_settings

    settings = read_settings(SearchDir(search_dir).settings, required=True)
    study = load_search_study(search_dir, settings)
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name != "COMPLETE":
            continue
        rows.append(
            {
                "number": t.number,
                "value": t.value,
                "params": t.params,
                "run_dir": t.user_attrs.get("run_dir"),
                "test_accuracy": t.user_attrs.get("test_accuracy"),
                "selected_epoch": t.user_attrs.get("selected_epoch"),
                "seconds": t.duration.total_seconds() if t.duration is not None else None,
                "machine": t.user_attrs.get("machine"),
            }
        )
    return sorted(rows, key=lambda r: -r["value"])


# -- the recipe ----------------------------------------------------------------------------
def parse_trials(text: str | None) -> tuple[int, int]:
    if text is None:
        return DEFAULTS["trials"]
    try:
        n1, n2 = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--trials={text}: expected two counts, e.g. --trials 10,6") from None
    if n1 < 1 or n2 < 1:
        raise ConfigError(f"--trials={text}: expected counts >= 1")
    return n1, n2


def command_text(args: argparse.Namespace) -> str:
    parts = ["nnzoo", "reproduce", "larnn-har-search"]
    for flag in (
        "trials",
        "epochs",
        "train_windows",
        "val_windows",
        "test_windows",
        "threads",
        "data_root",
        "out",
        "runs",
        "rounds",
    ):
        value = getattr(args, flag, None)
        if value:
            parts.append(f"--{flag.replace('_', '-')} {value}")
    return " ".join(parts)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This recipe's own flags of ``nnzoo reproduce`` (the shared ones:
    `nnzoo.experiments.options.add_recipe_arguments`)."""
    p.add_argument("--trials", help="larnn-har-search: trials of round 1 and round 2, e.g. 10,6")
    p.add_argument(
        "--train-windows", type=int,
        help="larnn-har-search: training windows per trial (default: all of them)",
    )  # fmt: skip
    p.add_argument("--val-windows", type=int, help="larnn-har-search: validation windows")
    p.add_argument("--test-windows", type=int, help="larnn-har-search: test windows")
    p.add_argument(
        "--rounds",
        help="larnn-har-search: the folder that keeps each round's study (journal, search.json, "
        "report), committed with the results so that a later command, on any machine, goes on "
        f"with the search (default: <out>/{NAME}-rounds); the trials' run folders go under --runs",
    )  # fmt: skip


def reproduce(args: argparse.Namespace) -> int:
    from nnzoo.search import run_search
    from nnzoo.search.report import write_search_report

    trials = parse_trials(getattr(args, "trials", None))
    epochs = args.epochs or DEFAULTS["epochs"]
    windows = getattr(args, "train_windows", None) or DEFAULTS["train_windows"]
    threads = args.threads or 0
    if epochs < 1 or (windows is not None and windows < 1):
        raise ConfigError("--epochs and --train-windows: expected integers >= 1")
    out = Path(args.out or "results")
    runs = Path(args.runs or "runs/larnn-har-search")
    fill_data_root(args)
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    facts = write_subset(
        Path(args.data_root) / "uci-har",
        runs / "data" / "uci-har",
        windows,
        getattr(args, "val_windows", None),
        getattr(args, "test_windows", None),
    )
    data_path = runs / "data" / "uci-har"
    configs = write_configs(runs, data_path, trials, epochs, threads)
    command = command_text(args)
    studies = Path(getattr(args, "rounds", None) or out / f"{NAME}-rounds")
    rounds = []
    for n, (config, raw) in enumerate(configs, 1):
        folder = studies / f"round{n}"
        focus = str(studies / "round1") if n == 2 else None
        sub = ["nnzoo", "search", str(config), "--out", str(folder)]
        sub += ["--focus-from", focus] if focus else []
        run_search(
            raw, out=folder, focus_from=focus, command=" ".join(sub), source=str(config),
            trials_dir=SearchDir(runs / f"round{n}").trials,
        )  # fmt: skip
        write_search_report(folder)
        rounds.append({"round": n, "folder": str(folder), "config": str(config)})
    seconds = time.perf_counter() - started
    write_results(studies, out, rounds, facts, trials, epochs, threads, command, seconds)
    return 0


def write_results(
    runs: Path,
    out: Path,
    rounds: list[dict[str, Any]],
    facts: dict[str, Any],
    trials: tuple[int, int],
    epochs: int,
    threads: int,
    command: str,
    seconds: float,
) -> Path:
    from nnzoo.experiments.folder import publish
    from nnzoo.report.markdown import table
    from nnzoo.search.report import read_settings
    from nnzoo.utils.environment import provenance

    env = {**provenance(), "command": command}
    threads_used = threads or torch.get_num_threads()
    for r in rounds:
        search = SearchDir(r["folder"])
        r["trials"] = trial_rows(search.path)
        r["search"] = read_settings(search.settings, required=True)
        if search.focus.exists():
            r["focus"] = read_settings(search.focus, required=False)
    round1, round2 = rounds
    findings = [
        compare(round1["trials"], "model.cell_options.mode", ["residual", "layer"]),
        compare(round1["trials"], "model.cell_options.positional_encoding", ["concat", False]),
        compare(round1["trials"], "model.cell_options.kv_norm", ["elu-batch", "none"]),
        compare(round1["trials"], "model.layers", [2, 3]),
    ]
    best2 = round2["trials"][0] if round2["trials"] else None
    tested = None
    if best2 is not None:
        # the study keeps both (a trial from an older nnzoo kept only the test accuracy there)
        epoch, accuracy = best2["selected_epoch"], best2["test_accuracy"]
        if epoch is None or accuracy is None:
            results = RunDir(best2["run_dir"]).read_results(ConfigError)
            epoch, accuracy = results["selected_epoch"], results["test"]["accuracy"]
        tested = {
            "trial": best2["number"],
            "run_dir": best2["run_dir"],
            "val_accuracy": best2["value"],
            "selected_epoch": epoch,
            "test_accuracy": accuracy,
        }
    budget = {
        "trials": list(trials),
        "epochs": epochs,
        "train_windows": facts["train_windows"],
        "train_windows_available": facts["train_windows_available"],
        "val_windows": facts["val_windows"],
        "val_windows_available": facts["val_windows_available"],
        "val_subjects": facts["val_subjects"],
        "test_windows": facts["test_windows"],
        "test_windows_available": facts["test_windows_available"],
        "threads": threads_used,
        "seconds": seconds,
        # what the complete trials took, in whichever sittings ran them (a resumed search's
        # own wall time covers only the trials it ran)
        "trial_seconds": sum(t["seconds"] or 0.0 for r in rounds for t in r["trials"]),
    }
    record = {
        "title": "LARNN hyperparameter search on UCI HAR, two rounds",
        **env,
        "budget": budget,
        "rounds": rounds,
        "findings": findings,
        "best_round2_test": tested,
    }

    def best_table(r: dict[str, Any], top: int = 5) -> str:
        keys = list(space())
        fixed = {k: v["fixed"] for k, v in r["search"]["space"].items() if "fixed" in v}
        rows = [
            [t["number"], f"{100 * t['value']:.2f}"]
            + [
                f"{v:.4g}" if isinstance(v, float) else v
                for v in ({**fixed, **t["params"]}.get(k, "") for k in keys)
            ]
            for t in r["trials"][:top]
        ]
        short = [k.rsplit(".", 1)[-1] for k in keys]
        return table(rows, ["trial", "val acc. %", *short]) if rows else "No complete trial."

    def finding_table() -> str:
        rows = []
        for f in findings:
            for level, g in f["groups"].items():
                mean = "—" if g["mean"] is None else f"{100 * g['mean']:.2f}"
                median = "—" if g["median"] is None else f"{100 * g['median']:.2f}"
                rows.append([f"{f['key']} = {level}", g["n"], mean, median, f["verdict"]])
        return table(rows, ["round-1 trials with", "n", "mean val acc. %", "median", "verdict"])

    paper = "\n".join(
        f"- `{f['key']}`: here **{f['verdict']}**; the paper: {PAPER[f['key']]}." for f in findings
    )
    small = (
        f"At {trials[0]} round-1 trials of {epochs} epoch(s) on {facts['train_windows']} training "
        "windows, a comparison concludes only when each side has at least 5 trials and the "
        "difference of the means exceeds twice its standard error; anything else is marked "
        "inconclusive: this budget is too small to confirm or contradict the paper there."
    )
    hours, trial_hours = seconds / 3600, budget["trial_seconds"] / 3600
    machines = sorted({t["machine"] for r in rounds for t in r["trials"] if t["machine"]})
    unrecorded = sum(1 for r in rounds for t in r["trials"] if not t["machine"])
    trained_on = "; ".join(machines) or "not recorded"
    if machines and unrecorded:
        trained_on += f" ({unrecorded} trial(s) from before nnzoo recorded the machine: unknown)"
    startup = [r["search"].get("n_startup_trials") for r in rounds]
    budget_text = (
        f"- trials: {trials[0]} in round 1 (diffuse space, hyperopt-compatible TPE, no pruning) "
        f"+ {trials[1]} in round 2 (focused on round 1); TPE's random start-up trials: "
        f"{startup[0]} and {startup[1]} (the rest are drawn by TPE)\n"
        f"- epochs per trial: {epochs}\n"
        f"- training subset: {facts['train_windows']} of the "
        f"{facts['train_windows_available']} windows of the 16 training subjects; validation: "
        f"{facts['val_windows']} of the {facts['val_windows_available']} windows of the "
        f"held-out subjects {facts['val_subjects']}; test: {facts['test_windows']} of the "
        f"{facts['test_windows_available']} test windows (never used for selection)\n"
        f"- trials trained on: {trained_on}; torch threads: {threads_used}; this report written "
        f"on {env['machine']}, torch {env['torch']}\n"
        f"- date: {env['date']}; the complete trials took {trial_hours:.2f} h of training "
        f"(summed over every sitting that ran them); this command ran {hours:.2f} h\n"
        f"- command: `{command}`\n\n"
        "The paper searched with far more trials on the whole training set and trained each "
        "for many more epochs; these numbers are a small-budget rerun of its procedure, not of "
        "its accuracies."
    )
    test_text = "No complete round-2 trial."
    if tested is not None:
        test_text = (
            f"Best round-2 trial (picked on validation): trial {tested['trial']}, validation "
            f"accuracy {100 * tested['val_accuracy']:.2f}% at epoch {tested['selected_epoch']}. "
            f"**Test accuracy of that epoch's weights, evaluated once: "
            f"{100 * tested['test_accuracy']:.2f}%** on {facts['test_windows']} of the "
            f"{facts['test_windows_available']} test windows (trained on the "
            f"{facts['train_windows']}-window subset for {epochs} epoch(s); not comparable with "
            f"the paper's 91.92%). The same weights on the whole test split: "
            f"`nnzoo evaluate {tested['run_dir']} --data-path "
            f"{facts['source']}`."
        )
    focus = round2.get("focus", {})
    sections = [
        ("Budget", budget_text),
        (
            "Space (round 1)",
            "The paper's diffuse space: lr 0.006·e^U(±0.4), L2 0.002·e^U(±1.3) (both "
            "log-uniform), lr × 0.75 every 6–50 epochs, dropout 0.05–0.5, hidden ≈ 68·e^U(±0.3) "
            f"(integers {space()['model.hidden']['int']}), heads {HEADS} on a fixed attention "
            f"width of {ATTENTION_SIZE} (so every hidden size takes every head count), window "
            "25–100, mode residual / layer, the concatenated positional encoding on / off, "
            "BN(ELU) on keys and values on / off, 2–3 residual layers; the cell is "
            "`larnn-paper` (the BN-ELU core, c_0 in the window).",
        ),
        ("Round 1: best trials", best_table(round1)),
        (
            "Round 2: best trials",
            f"Focus rule: {focus.get('rule', '')}.\n\n" + best_table(round2),
        ),
        ("Best round-2 configuration on the test split", test_text),
        ("Findings", finding_table() + "\n\n" + paper + "\n\n" + small),
    ]
    for r in rounds:
        search = SearchDir(runs / f"round{r['round']}")
        drawn = [(label, search.plot(stem)) for stem, label in PLOTS]
        plots = [f"![{label}]({Folder(runs).link(path)})" for label, path in drawn if path.exists()]
        if plots:
            sections.append((f"Round {r['round']}: plots", "\n\n".join(plots)))
    sections.append(("Provenance", table([[k, v] for k, v in env.items()], ["", ""])))
    target = publish(runs, out / "larnn-har-search.md", record, sections)
    print(f"wrote {target} and {target.with_suffix('.json')}")
    return target


EXPERIMENT = register(Experiment(NAME, "recipe", HELP, add_arguments, reproduce))
