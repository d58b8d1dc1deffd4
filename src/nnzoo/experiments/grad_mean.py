"""``nnzoo study grad-mean``: the gradients of the loss over the first training steps.

For each step s = 1..S (before the optimizer step), over every element g of every trainable
parameter's gradient (N elements in all; a parameter the loss does not reach counts as zeros)::

    mean(g) = Σ g / N        mean|g| = Σ |g| / N        ‖g‖ = sqrt(Σ g²)

The course plots mean(g) for the first 100 steps of the base MLP (SGD, lr 0.1, batch 64). Here:
one curve per (model, lr) for each statistic, a CSV of every value, and each run's per-step loss
and batch accuracy. The steps are those of ``fit``, the one training loop (same seeds, batches
and dropout masks as any run of the config); a `GradientStatistics` callback records them.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnzoo.config import RunConfig
from nnzoo.data.base import SequenceSet
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.runtime import set_threads
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import (
    add_common_arguments,
    add_training_arguments,
    parse_list,
    training_config,
)
from nnzoo.experiments.plan import run_tasks, task_for
from nnzoo.experiments.sections import run_folder
from nnzoo.io import read_json
from nnzoo.report.markdown import table, write_atomic
from nnzoo.report.plots import _figure, _save, plot_curves
from nnzoo.runs.rundir import RunDir, StudyDir
from nnzoo.runs.train import cached_splits

NAME = "grad-mean"
HELP = "mean, mean |.| and norm of the loss gradients over the first training steps"
COLUMNS = ("step", "loss", "accuracy", "grad_mean", "grad_abs_mean", "grad_norm")
STEPS_JSON, STEPS_CSV = "steps.json", "steps.csv"  # in each run folder: every step's values
STUDY_CSV = "grad-mean.csv"  # in the study folder: every run's steps


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-grad-mean")
    add_training_arguments(p, epochs=1, model=None)
    p.add_argument("--models", default="mlp", help="registered models (comma-separated)")
    p.add_argument("--lrs", default="0.1", help="learning rates (comma-separated)")
    p.add_argument("--steps", type=int, default=100, help="training steps recorded (100)")


class GradientStatistics(Callback):
    """Records every training step's gradient statistics, loss and batch accuracy; stops
    ``fit`` after ``steps`` steps.

    The statistics are taken over every element of every trainable parameter's gradient, after
    ``loss.backward()`` and before the optimizer step; a parameter the loss does not reach (its
    gradient is None) counts as zeros. Loss and accuracy are those of the batch the step
    trained on (the accuracy from the task's count of correct predictions).
    """

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.rows: list[dict[str, float]] = []
        self._grads: dict[str, float] = {}

    def on_before_optimizer_step(self, loop) -> None:
        g = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in loop.model.parameters()
                if p.requires_grad
            ]
        ).double()  # (N,)
        self._grads = {
            "grad_mean": g.mean().item(),
            "grad_abs_mean": g.abs().mean().item(),
            "grad_norm": g.norm().item(),
        }

    def on_batch_end(self, loop, loss: float) -> None:
        step = loop.last_step
        accuracy = step.counts["correct"] / step.size
        self.rows.append({"step": len(self.rows) + 1, "loss": loss, "accuracy": accuracy,
                          **self._grads})  # fmt: skip
        if len(self.rows) == self.steps:
            loop.stop(f"recorded {self.steps} steps")


def gradient_stats(
    model: nn.Module, data: SequenceSet, config: RunConfig, steps: int
) -> list[dict[str, float]]:
    """Train ``model`` on ``data`` with ``fit`` for ``steps`` steps; the statistics of each.

    ``fit`` runs as many epochs as the steps take (``config.train.epochs`` is not a limit
    here) and validates on nothing.
    """
    from nnzoo.engine.fit import fit

    recorder = GradientStatistics(steps)
    enough = config.replace(train=dataclasses.replace(config.train, epochs=steps))
    fit(model, data, data.subset(torch.arange(0)), enough, callbacks=[recorder])
    return recorder.rows


def grad_task(task: dict[str, Any]) -> dict[str, Any]:
    """One (model, lr) run, picked up from its folder when it already holds this config."""
    from nnzoo.runs.train import build_model

    set_threads(task.get("threads") or 0)
    run = RunDir(task["run_dir"])
    config: RunConfig = task["config"]
    done = {"key": task["key"], "run_dir": str(run.path)}
    values = run.path / STEPS_JSON
    if values.exists() and run.holds(config):
        return {**done, "rows": read_json(values, kind=list)}
    splits = cached_splits(config, task.get("data_root"))
    model = build_model(config, splits)
    rows = gradient_stats(model, splits.train, config, task["steps"])
    run.write_config(config)
    write_atomic(run.path / STEPS_CSV, to_csv(rows))
    write_atomic(values, json.dumps(rows) + "\n")
    plot_curves(rows, run.curves, title=f"{task['key']}: per step (train)")
    print(f"{task['key']}: {len(rows)} steps, loss {rows[0]['loss']:.3f} -> {rows[-1]['loss']:.3f}")
    return {**done, "rows": rows}


def to_csv(rows: list[dict[str, Any]], first: tuple[str, ...] = ()) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*first, *COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def plot_stats(runs: dict[str, list[dict[str, float]]], path: Path) -> Path:
    fig = _figure(13.0, 3.8)
    panels = (("grad_mean", "mean of gradients"), ("grad_abs_mean", "mean |gradient|"),
              ("grad_norm", "global gradient norm"))  # fmt: skip
    for i, (key, title) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        for label, rows in runs.items():
            ax.plot([r["step"] for r in rows], [r[key] for r in rows], label=label)
        if key == "grad_mean":
            ax.axhline(0.0, color="grey", linewidth=0.8)
        else:
            ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    names = parse_list("--models", args.models)
    lrs = parse_list("--lrs", args.lrs, float)
    if args.steps < 1:
        raise ConfigError(f"--steps={args.steps}: expected an integer >= 1")
    tasks = []
    for name in names:
        for lr in lrs:
            config = training_config(args, {"model.name": name, "train.lr": lr})
            key = f"{name}-lr{lr:g}"
            tasks.append(task_for(args, study_dir, key, config, steps=args.steps))
    done = run_tasks(tasks, args.jobs, grad_task)
    runs = {d["key"]: d["rows"] for d in done}
    plot_stats(runs, StudyDir(study_dir).plot("grad-mean"))
    write_atomic(
        study_dir / STUDY_CSV,
        to_csv([{"run": k, **r} for k, rows in runs.items() for r in rows], first=("run",)),
    )
    summary = []
    for d in done:
        rows = d["rows"]
        summary.append(
            {
                "run": d["key"],
                "run_dir": d["run_dir"],
                "first": rows[0],
                "last": rows[-1],
                "mean_of_means": sum(r["grad_mean"] for r in rows) / len(rows),
            }
        )
    return {
        "title": f"Gradient statistics over the first {args.steps} steps on {args.data} "
        f"({args.optimizer}, batch {args.batch_size})",
        "rows": summary,
    }


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [
        [
            r["run"],
            r["first"]["grad_mean"],
            r["last"]["grad_mean"],
            r["mean_of_means"],
            r["first"]["grad_abs_mean"],
            r["last"]["grad_abs_mean"],
            r["first"]["grad_norm"],
            r["last"]["grad_norm"],
            r["first"]["loss"],
            r["last"]["loss"],
        ]
        for r in record["rows"]
    ]
    n = record["options"]["steps"]
    headers = ["run", "mean(g) step 1", f"mean(g) step {n}", f"mean(g) over {n} steps",
               "mean|g| step 1", f"mean|g| step {n}", "‖g‖ step 1", f"‖g‖ step {n}",
               "loss step 1", f"loss step {n}"]  # fmt: skip
    study = StudyDir(study_dir)
    runs = "\n\n".join(
        f"**{r['run']}**\n\n![{r['run']}]({study.link(run_folder(study_dir, r['run_dir']).curves)})"
        for r in record["rows"]
    )
    return [
        (
            "Gradient statistics",
            table(lines, headers, floatfmt=".3g")
            + f"\n\n![gradient statistics]({study.link(study.plot('grad-mean'))})\n\n"
            f"Every value of every step is in `{STUDY_CSV}` (and each run's `{STEPS_CSV}`). "
            "The statistics are taken over all trainable parameter elements, after "
            "`loss.backward()` and before the optimizer step.",
        ),
        ("Loss and batch accuracy of every run, per step", runs),
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
