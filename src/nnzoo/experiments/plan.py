"""A study's runs: one picklable task per run, trained or picked up, and its row of numbers.

``task_for`` describes a run (its key, config and folder); ``run_tasks`` trains every task
through the process pool (`nnzoo.runs.pool`), ``train_task`` being the default worker: it
picks up a finished run of the same config (its results.json) or trains the folder with
`nnzoo.runs.train.train_run`, which resumes a killed run from ``checkpoints/last.pt``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from nnzoo.config import RunConfig
from nnzoo.experiments.options import training_config
from nnzoo.experiments.sections import plot_overlays
from nnzoo.report.html import ReportError
from nnzoo.runs.ledger import Ledger
from nnzoo.runs.pool import map_tasks, workers
from nnzoo.runs.rundir import RunDir, StudyDir
from nnzoo.runs.train import cached_splits


def task_for(
    args: argparse.Namespace, study_dir: Path, key: str, config: RunConfig, **extra: Any
) -> dict[str, Any]:
    """A picklable description of one run for ``train_task`` (``extra``: its options)."""
    return {
        "key": key,
        "config": config,
        "run_dir": str(StudyDir(study_dir).run(key).path),
        "data_root": args.data_root,
        "threads": args.threads,
        **extra,
    }


def run_tasks(
    tasks: Sequence[dict[str, Any]],
    jobs: int,
    fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``fn`` (default ``train_task``) on every task, in ``jobs`` processes; order kept.

    In one process each run shows its own epoch progress bar (on a terminal); with several,
    one bar counts the finished runs.
    """
    if workers(jobs, len(tasks)) == 0:
        tasks = [{**t, "progress": None} for t in tasks]
    return map_tasks(fn or train_task, tasks, jobs)


def train_task(task: dict[str, Any]) -> dict[str, Any] | None:
    """Train (or pick up) one run of a study; runs in a worker process with ``--jobs``.

    ``task``: ``config`` (a RunConfig), ``run_dir``, ``data_root``, ``threads``, and optional
    ``test_curve`` (evaluate the test split after every epoch, for the curves only),
    ``callbacks`` (more callbacks for the run, e.g. a stopping rule; picklable, one set per
    task), ``progress`` (the epoch bar: None on a terminal, False off) and ``ledger`` (a
    folder, `nnzoo.runs.ledger`: a run kept there with this config is taken from it, not
    trained, and a run trained here is kept there; a run parked there unfinished, `Ledger.park`,
    resumes from its last epoch) and ``kept_only`` (train nothing: a run neither finished in
    its folder nor kept in the ledger is None).
    Returns {"key", "run_dir", "results", "history", "resumed", "provenance"} (the command,
    machine and date that trained the run; None for a folder older than provenance.json).
    """
    from nnzoo.engine.callbacks import EvaluateSplit
    from nnzoo.engine.callbacks.nan_guard import NonFiniteLossError
    from nnzoo.runs.train import train_run

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    config = task["config"]
    run_dir = Path(task["run_dir"])
    ledger = Ledger(task["ledger"]) if task.get("ledger") else None
    done = RunDir(run_dir).finished(config)
    out = {"key": task["key"], "run_dir": str(run_dir), "resumed": done is not None}
    if done is None and ledger and (kept := ledger.get(task["key"], config)) is not None:
        ledger.unpark_done(task["key"])  # a copy parked before the run was kept elsewhere
        where, date = ledger.path(task["key"]), kept["provenance"].get("date", "")
        print(f"{task['key']}: {summary_line(kept['results'])} (kept in {where}, trained {date})")
        return {**out, "resumed": True, "results": kept["results"], "history": kept["history"],
                "provenance": kept["provenance"]}  # fmt: skip
    if done is None and task.get("kept_only"):
        return None
    if done is None and ledger and (epoch := ledger.unpark(task["key"], config, run_dir)):
        where = ledger.parked(task["key"]).path
        print(f"{task['key']}: resuming from epoch {epoch}, parked in {where}")
    if done is None:
        splits = cached_splits(config, task.get("data_root"))
        extra = []
        if task.get("test_curve"):
            extra.append(EvaluateSplit(splits.test, "test"))
        extra += task.get("callbacks", [])
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
    out["history"] = RunDir(run_dir).read_history(ReportError)  # [] if none logged
    out["provenance"] = RunDir(run_dir).read_provenance(ReportError)  # None before it existed
    if ledger and ledger.get(task["key"], config) is None:  # trained here, or before the ledger
        ledger.put(task["key"], config, done, out["history"], out["provenance"])
    if ledger:
        ledger.unpark_done(task["key"])
    return out


def lr_runs(
    args: argparse.Namespace,
    study_dir: Path,
    lrs: Sequence[float],
    title: str,
    callbacks: Callable[[], list] = list,
) -> list[dict[str, Any]]:
    """One run per learning rate (``runs/lr<lr>``, the per-epoch test curve on), trained or
    picked up; their rows (`run_row`, ``lr`` first), and their curves overlaid under ``title``.

    ``callbacks`` makes each run's own extra callbacks (e.g. a stopping rule).
    """
    tasks = [
        task_for(args, study_dir, f"lr{lr:g}", training_config(args, {"train.lr": lr}),
                 test_curve=True, callbacks=callbacks())
        for lr in lrs
    ]  # fmt: skip
    done = run_tasks(tasks, args.jobs)
    plot_overlays({f"lr {lr:g}": d["history"] for lr, d in zip(lrs, done)}, study_dir, title)
    return [{"lr": lr, **run_row(d)} for lr, d in zip(lrs, done)]


def lr_title(name: str, args: argparse.Namespace, epochs: str) -> str:
    """The title of a study of `lr_runs`: ``<name>: <model> on <data>, <optimizer>, batch <B>,
    <epochs>``."""
    return (
        f"{name}: {args.model} on {args.data}, {args.optimizer}, batch {args.batch_size}, {epochs}"
    )


def summary_line(results: dict[str, Any]) -> str:
    """``test accuracy 0.9123 at epoch 7/10, 1.2 s/epoch``, in the run's task's own words."""
    from nnzoo.tasks import TASKS

    if "diverged" in results:
        return "diverged"
    task = TASKS.get(results.get("task", "classify"))()  # the headline needs no options
    headline = task.headline(results["test"])
    return (
        f"{headline} at epoch {results['selected_epoch']}/"
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
