"""What every study shares: its folder, its runs (resumable, in parallel) and its report.

A study is one command that trains a family of runs and compares them::

    <study dir>/
        study.json      the study's name, options, rows and provenance (written at the end)
        runs/<key>/     one ordinary run folder per run (config.toml, metrics, checkpoints,
                        plots/curves.png, report.md/html): ``nnzoo evaluate`` works on each
        plots/*.png     the study's own plots
        report.md       tables, plots, the exact command, versions, machine, duration
        report.html     the same page, self-contained

Repeating the command picks up finished runs (their results.json) and resumes killed ones
from ``checkpoints/last.pt``; ``--jobs N`` trains independent runs in N processes.

A study module defines ``NAME``, ``HELP``, ``add_arguments(parser)``,
``run(args, study_dir) -> record`` (a JSON-able dict with at least ``"title"``) and
``report(study_dir, record) -> sections`` (the (heading, Markdown) pairs of its report).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nnzoo.config import RunConfig, config_from_toml
from nnzoo.errors import ConfigError
from nnzoo.report.markdown import table, write_atomic, write_report
from nnzoo.report.plots import plot_compare
from nnzoo.runs.train import cached_splits
from nnzoo.utils.environment import provenance

STUDY_FILE = "study.json"


# -- options shared by every study -------------------------------------------------------------


def add_common_arguments(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--out", default=default_out, help=f"study folder (default: {default_out})")
    p.add_argument("--data-root", help="folder of datasets (default: $NNZOO_DATA)")
    p.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0: default)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument(
        "--results",
        help="also write the report as this .md file (plots copied beside it) and a .json",
    )


def add_training_arguments(
    p: argparse.ArgumentParser, *, epochs: int, lr: float = 0.1, model: str | None = "mlp"
) -> None:
    """The course's image-training setup: Fashion-MNIST, SGD, batch 64."""
    p.add_argument("--data", default="fashion-mnist", help="dataset (default fashion-mnist)")
    if model is not None:
        p.add_argument("--model", default=model, help=f"registered model (default {model})")
    p.add_argument("--optimizer", default="sgd", help="sgd | adam | adamw | rmsprop (default sgd)")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr:g})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs per run (default {epochs})")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any other config value, e.g. --set model.options.dropout=0.1 (repeatable)",
    )


def training_config(args: argparse.Namespace, *overrides: str) -> RunConfig:
    """The RunConfig of one run: the study's training flags, then ``overrides``."""
    from nnzoo.config import load_config

    base = [
        f"data.name={args.data}",
        f"train.optimizer={args.optimizer}",
        f"train.lr={args.lr!r}",
        f"train.momentum={args.momentum!r}",
        f"train.batch_size={args.batch_size}",
        f"train.epochs={args.epochs}",
        f"train.seed={args.seed}",
    ]
    if getattr(args, "model", None):
        base.append(f"model.name={args.model}")
    config = load_config(None, [*base, *args.set, *overrides])
    from nnzoo.runs.train import check_config

    check_config(config)
    return config


def task_for(
    args: argparse.Namespace, study_dir: Path, key: str, config: RunConfig, **extra: Any
) -> dict[str, Any]:
    """A picklable description of one run for ``train_task``."""
    return {
        "key": key,
        "config": config.to_toml(),
        "run_dir": str(Path(study_dir) / "runs" / key),
        "data_root": args.data_root,
        "threads": args.threads,
        **extra,
    }


def parse_list(flag: str, text: str, kind: Callable[[str], Any] = str) -> list[Any]:
    """``"1,0.1,0.01"`` -> [1.0, 0.1, 0.01]; one line naming the flag on anything else."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{flag}={text!r}: expected a comma-separated list")
    try:
        values = [kind(t) for t in items]
    except ValueError:
        raise ConfigError(
            f"{flag}={text!r}: expected a comma-separated list of {kind.__name__}s"
        ) from None
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:  # two runs would share one folder
        raise ConfigError(f"{flag}={text!r}: {repeated[0]!r} is listed twice")
    return values


CELLS_HELP = (
    "comma-separated registered cells, each optionally with cell options after a colon, "
    "separated by semicolons: CELL[:KEY=VALUE[;KEY=VALUE]], e.g. "
    "elman,gru,lstm,lstm:forget_bias=1 (quote the list for the shell when it holds a ';')"
)


@dataclass(frozen=True)
class CellSpec:
    """One entry of a study's ``--cells``: a registered cell and its options.

    ``label`` is the entry as typed (``lstm:forget_bias=1``), the name in tables and plots;
    ``key`` its filesystem-safe form for run folders and plot files (``lstm-forget_bias1``),
    the bare cell name when there are no options, so plain cells keep their folders.
    """

    label: str
    name: str
    options: tuple[tuple[str, str], ...] = ()  # (key, value as typed: a TOML value)

    @property
    def key(self) -> str:
        parts = [self.name]
        for key, text in self.options:
            value = re.sub(r"[^A-Za-z0-9._+-]+", "_", text.strip("'\""))
            parts.append(f"{key}{value}")
        return "-".join(parts)

    def overrides(self) -> list[str]:
        """The options as config overrides: ``model.cell_options.forget_bias=1``."""
        return [f"model.cell_options.{key}={text}" for key, text in self.options]


def parse_cells(flag: str, text: str) -> list[CellSpec]:
    """``"gru,lstm:forget_bias=1"`` -> its CellSpecs, names and option names checked."""
    from nnzoo.cells import CELLS

    specs = []
    for item in parse_list(flag, text):
        name, colon, rest = (part.strip() for part in item.partition(":"))
        if name not in CELLS:
            raise ConfigError(
                f"{flag}: unknown cell {name!r}; expected some of: {', '.join(CELLS.names())}"
            )
        options: dict[str, str] = {}
        for entry in rest.split(";") if colon else []:
            key, equals, value = (part.strip() for part in entry.partition("="))
            if not (key and equals and value):
                raise ConfigError(
                    f"{flag}: {item!r}: expected CELL:KEY=VALUE[;KEY=VALUE], "
                    "e.g. lstm:forget_bias=1"
                )
            accepted = CELLS.options(name)
            if key not in accepted:
                raise ConfigError(
                    f"{flag}: {item!r}: cell {name!r} has no option {key!r}; "
                    f"expected some of: {', '.join(accepted) or '(none)'}"
                )
            if key in options:
                raise ConfigError(f"{flag}: {item!r}: option {key!r} is given twice")
            options[key] = value
        specs.append(CellSpec(item, name, tuple(options.items())))
    keys: dict[str, str] = {}
    for spec in specs:
        if spec.key in keys:
            raise ConfigError(
                f"{flag}: {keys[spec.key]!r} and {spec.label!r} would share the run folder "
                f"name {spec.key!r}; expected distinct cells"
            )
        keys[spec.key] = spec.label
    return specs


def check_common(args: argparse.Namespace) -> None:
    if args.jobs < 1:
        raise ConfigError(f"--jobs={args.jobs}: expected an integer >= 1")
    if args.threads < 0:
        raise ConfigError(f"--threads={args.threads}: expected an integer >= 0")


# -- runs --------------------------------------------------------------------------------------


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """A run's metrics.jsonl; [] when no epoch was logged (a run that diverged in epoch 1)."""
    from nnzoo.report.rebuild import read_history as read_metrics

    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file() or not path.read_text().strip():
        return []
    return read_metrics(path)  # a malformed line is one error naming the file and line


def finished(run_dir: Path, config: RunConfig) -> dict[str, Any] | None:
    """The results of a finished run of exactly this config, or None."""
    run_dir = Path(run_dir)
    results, saved = run_dir / "results.json", run_dir / "config.toml"
    if not (results.exists() and saved.exists()):
        return None
    if config_from_toml(saved.read_text(), source=str(saved)) != config:
        return None
    return json.loads(results.read_text())


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """Train (or pick up) one run of a study; runs in a worker process with ``--jobs``.

    ``task``: ``config`` (TOML text), ``run_dir``, ``data_root``, ``threads``, and optional
    ``test_curve`` (evaluate the test split after every epoch, for the curves only) and
    ``convergence`` ({monitor, threshold, patience}: stop once the monitor stops moving).
    Returns {"key", "run_dir", "results", "history", "resumed"}.
    """
    from nnzoo.engine.callbacks import Convergence, EvaluateSplit
    from nnzoo.engine.callbacks.nan_guard import NonFiniteLossError
    from nnzoo.runs.train import train_run

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    config = config_from_toml(task["config"], source=task["key"])
    run_dir = Path(task["run_dir"])
    done = finished(run_dir, config)
    out = {"key": task["key"], "run_dir": str(run_dir), "resumed": done is not None}
    if done is None:
        splits = cached_splits(config, task.get("data_root"))
        extra = []
        if task.get("test_curve"):
            extra.append(EvaluateSplit(splits.test, "test"))
        if task.get("convergence"):
            extra.append(Convergence(**task["convergence"]))
        started = time.perf_counter()
        try:
            progress = task.get("progress", False)
            done = train_run(
                config, run_dir, splits=splits, progress=progress, extra_callbacks=extra
            )
        except NonFiniteLossError as e:  # a diverging run is a result of the study
            done = {"diverged": str(e)}
        print(f"{task['key']}: {summary_line(done)} ({time.perf_counter() - started:.0f} s)")
    out["results"] = done
    out["history"] = read_history(run_dir)
    return out


def summary_line(results: dict[str, Any]) -> str:
    if "diverged" in results:
        return "diverged"
    return (
        f"test {results['test']['accuracy']:.4f} at epoch {results['selected_epoch']}/"
        f"{results['epochs_run']}, {results['seconds_per_epoch']:.1f} s/epoch"
    )


def run_row(done: dict[str, Any]) -> dict[str, Any]:
    """One run's numbers for a study table, accuracies in percent.

    ``final_test`` and ``mean_test`` need the per-epoch test curve (``test_curve=True``);
    ``selected_test`` is the test accuracy at the epoch the validation split picked.
    """
    results, history = done["results"], done["history"]
    test = [100 * h["test_accuracy"] for h in history if "test_accuracy" in h]
    out = {"run": done["run_dir"], "epochs": len(history)}
    if "diverged" in results:
        return {**out, "diverged": results["diverged"]}
    return {
        **out,
        "final_test": test[-1] if test else None,
        "mean_test": statistics.fmean(test) if test else None,
        "selected_test": 100 * results["test"]["accuracy"],
        "selected_epoch": results["selected_epoch"],
        "final_train_loss": history[-1]["loss"] if history else None,
        "final_val": 100 * history[-1]["val_accuracy"]
        if history and "val_accuracy" in history[-1]
        else None,
        "stop_reason": results["stop_reason"],
        "params": results["params"],
        "seconds_per_epoch": results["seconds_per_epoch"],
    }


def map_tasks(
    fn: Callable[[dict[str, Any]], dict[str, Any]], tasks: Sequence[dict[str, Any]], jobs: int
) -> list[dict[str, Any]]:
    """``[fn(t) for t in tasks]``, in ``jobs`` spawned processes when jobs > 1; order kept.

    In one process each run shows its own epoch progress bar (on a terminal); with several, one
    bar counts the finished runs.
    """
    if jobs <= 1 or len(tasks) <= 1:
        return [fn({**t, "progress": None}) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=context) as pool:
        runs = pool.map(fn, tasks)
        bar = tqdm(runs, total=len(tasks), desc="runs", disable=not sys.stderr.isatty())
        return list(bar)


def course_setup(options: dict[str, Any], epochs: int | None = None) -> bool:
    """Whether a study ran with the course's setup, so that its published numbers compare:
    Fashion-MNIST, plain SGD, batch 64, no other config changes (and ``epochs``, if given)."""
    return (
        options.get("data") == "fashion-mnist"
        and options.get("optimizer") == "sgd"
        and options.get("momentum") == 0.0
        and options.get("batch_size") == 64
        and not options.get("set")
        and (epochs is None or options.get("epochs") == epochs)
    )


# -- plots and sections shared by the studies -----------------------------------------------


OVERLAYS = ("loss", "val_loss", "accuracy", "val_accuracy", "test_accuracy")


def plot_overlays(histories: dict[str, list], plots: Path, title: str) -> None:
    """Loss and accuracy curves of every run on shared axes: train, validation and test."""
    for key in OVERLAYS:
        if any(key in row for h in histories.values() for row in h):
            plot_compare(histories, key, plots / f"{key}.png", title=f"{title}: {key}")


def overlay_section(study_dir: Path) -> tuple[str, str]:
    """The overlaid curves ``plot_overlays`` drew."""
    drawn = [k for k in OVERLAYS if (Path(study_dir) / "plots" / f"{k}.png").exists()]
    return "Curves (all runs overlaid)", "\n\n".join(f"![{k}](plots/{k}.png)" for k in drawn)


def runs_section(rows: list[dict[str, Any]], label: str) -> tuple[str, str]:
    """Every run's own loss / accuracy curves (its plots/curves.png)."""
    parts = []
    for r in rows:
        run = Path(r["run"]).name
        parts.append(f"**{label(r)}** (`runs/{run}`)\n\n![{run}](runs/{run}/plots/curves.png)")
    return "Curves of every run", "\n\n".join(parts)


# -- the study folder --------------------------------------------------------------------------


def provenance_section(record: dict[str, Any]) -> tuple[str, str]:
    env = record["provenance"]
    rows = [[k, str(v)] for k, v in env.items()]
    rows.append(["duration", f"{record['seconds']:.0f} s"])
    rows.append(["options", ", ".join(f"{k}={v}" for k, v in record["options"].items())])
    return "Provenance", table(rows, ["", ""])


def run_study(module: Any, args: argparse.Namespace) -> Path:
    """Run ``module``'s study with ``args``; write study.json, report.md and report.html."""
    check_common(args)
    study_dir = Path(args.out)
    if args.data_root is None:
        from nnzoo.data import data_root

        args.data_root = str(data_root())
    started = time.perf_counter()
    study_dir.mkdir(parents=True, exist_ok=True)
    record = module.run(args, study_dir)
    record["study"] = module.NAME
    record["options"] = {k: v for k, v in sorted(vars(args).items()) if k not in ("study", "argv")}
    record["provenance"] = provenance("cpu")
    if getattr(args, "argv", None):
        record["provenance"]["command"] = "nnzoo " + shlex.join(map(str, args.argv))
    record["seconds"] = time.perf_counter() - started
    write_atomic(study_dir / STUDY_FILE, json.dumps(record, indent=2) + "\n")
    path = write_study_report(module, study_dir, record)
    print(f"report: {path}")
    return study_dir


def write_study_report(module: Any, study_dir: Path, record: dict[str, Any]) -> Path:
    sections = [*module.report(study_dir, record), provenance_section(record)]
    path = write_report(study_dir / "report.md", record["title"], sections)
    results = record["options"].get("results")
    if results:
        publish(Path(study_dir), Path(results), record, sections)
    return path


_IMAGE = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)(\))")


def publish(
    study_dir: Path, target: Path, record: dict[str, Any], sections: list[tuple[str, str]]
) -> Path:
    """Write the report as ``target`` (.md), its plots beside it, and the record as .json.

    A plot ``plots/curves.png`` of study ``target = results/fashion-lr-sweep.md`` is copied to
    ``results/fashion-lr-sweep-curves.png``; a run's ``runs/lr0.1/plots/curves.png`` to
    ``results/fashion-lr-sweep-lr0.1-curves.png``. Links are rewritten to match.
    """
    if target.suffix != ".md":
        raise ConfigError(f"--results={target}: expected a .md file name")
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy(match: re.Match) -> str:
        source = match.group(2)
        parts = [p for p in Path(source).parts if p not in ("plots", "runs")]
        name = f"{target.stem}-{'-'.join(parts)}"
        write_atomic(target.parent / name, (study_dir / source).read_bytes())
        return f"{match.group(1)}{name}{match.group(3)}"

    moved = [(heading, _IMAGE.sub(copy, text)) for heading, text in sections]
    write_atomic(target.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return write_report(target, record["title"], moved)


def load_record(study_dir: Path) -> dict[str, Any]:
    path = Path(study_dir) / STUDY_FILE
    if not path.exists():
        raise ConfigError(f"{study_dir}: no {STUDY_FILE}; not a study folder")
    try:
        record = json.loads(path.read_text())
    except ValueError:
        record = None
    if not isinstance(record, dict) or not {"study", "title", "options"} <= set(record):
        raise ConfigError(f"{path}: malformed; run the study again to rewrite it")
    return record
