"""What the studies of NumPy networks on 2-D points share (``init``, ``regularization``).

Their flags (``--iterations``, ``--lr``, ``--quick``), the config of a full-batch gradient
descent run of ``scratch-mlp``, the training of the runs, the final model's numbers on every
split, its decision regions, and the cost plots and tables of the report.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from nnzoo.config import RunConfig
from nnzoo.errors import ConfigError
from nnzoo.experiments.options import add_common_arguments, make_config
from nnzoo.experiments.plan import run_tasks, task_for
from nnzoo.experiments.sections import runs_section
from nnzoo.report.markdown import table
from nnzoo.report.plots import (
    DecisionGrid,
    decision_grid,
    plot_decision_boundaries,
    plot_functions,
)
from nnzoo.runs.rundir import StudyDir

COST_EVERY = 1000  # the course prints (and plots) the cost every 1000 iterations
QUICK_ITERATIONS = 200  # --quick: a smoke test
NOT_COURSE_BUDGET = (
    "\n\n**Not the course's budget** (`--quick`, `--iterations` or `--lr`): the published "
    "numbers are left out."
)


def add_scratch_arguments(
    p: argparse.ArgumentParser, default_out: str, *, iterations: int, lr: float
) -> None:
    """The flags of a course study of full-batch NumPy networks: the common ones, then
    ``--iterations``, ``--lr`` and ``--quick``."""
    add_common_arguments(p, default_out)
    p.add_argument(
        "--iterations", type=int,
        help=f"full-batch gradient-descent iterations per run (default {iterations:,}, the "
        f"course's; {QUICK_ITERATIONS} with --quick)",
    )  # fmt: skip
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr:g})")
    p.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_ITERATIONS} iterations per run (a smoke test; nothing compares then)",
    )  # fmt: skip


def iterations_of(args: argparse.Namespace, full: int) -> int:
    """``--iterations``, else `QUICK_ITERATIONS` with ``--quick``, else ``full``; checked."""
    n = (
        args.iterations
        if args.iterations is not None
        else (QUICK_ITERATIONS if args.quick else full)
    )
    if n < 1:
        raise ConfigError(f"--iterations={n}: expected an integer >= 1")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        raise ConfigError(f"--lr={args.lr!r}: expected a learning rate > 0")
    return n


def scratch_config(
    args: argparse.Namespace,
    data: str,
    data_options: Mapping[str, Any],
    widths: Sequence[int],
    model_options: Mapping[str, Any],
    iterations: int,
) -> RunConfig:
    """One binary ``scratch-mlp`` run trained by full-batch gradient descent: plain SGD on a
    batch of the whole training set, one epoch per iteration, checkpoints every 1000."""
    return make_config(
        {
            "data.name": data,
            "data.options": dict(data_options),
            "model.name": "scratch-mlp",
            "model.options": {"widths": list(widths), **model_options},
            "task.name": "classify",
            "task.options": {"binary": True},
            "train.optimizer": "sgd",
            "train.momentum": 0.0,
            "train.lr": args.lr,
            "train.batch_size": int(data_options["train_size"]),  # one batch: the whole set
            "train.epochs": iterations,
            "train.checkpoint_every": min(COST_EVERY, iterations),
            "train.monitor": "val_accuracy",
            "train.seed": args.seed,
        }
    )


def train_scratch_runs(
    args: argparse.Namespace, study_dir: Path, configs: Mapping[str, RunConfig]
) -> dict[str, dict[str, Any]]:
    """Train (or pick up) one run per key in ``runs/<key>``; `nnzoo.experiments.plan.train_task`'s
    results by key."""
    tasks = [task_for(args, study_dir, key, config) for key, config in configs.items()]
    return {d["key"]: d for d in run_tasks(tasks, args.jobs)}


class StudyRuns(NamedTuple):
    """A study's trained runs, by run key.

    Attributes:
        iterations: the iterations each run was trained for.
        done: `train_scratch_runs`'s results.
        splits: the data's train, val and test splits (the same for every run).
        rows: `final_numbers` of each run.
        labels: each run's label, for plots and tables.
    """

    iterations: int
    done: dict[str, dict[str, Any]]
    splits: Any
    rows: dict[str, dict[str, Any]]
    labels: dict[str, str]


def labels_of(runs: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """run key -> label, from a study's ``RUNS`` (key -> (label, model options))."""
    return {key: label for key, (label, _) in runs.items()}


def train_study(
    args: argparse.Namespace,
    study_dir: Path,
    runs: Mapping[str, tuple[str, Mapping[str, Any]]],
    *,
    data: str,
    data_options: Mapping[str, Any],
    widths: Sequence[int],
    iterations: int,
    init: Mapping[str, Any] | None = None,
) -> StudyRuns:
    """Train (or pick up) every run of a study on the same data, and read its final numbers.

    Args:
        args: the study's flags (`add_scratch_arguments`).
        study_dir: the study folder; run ``key`` trains in ``runs/<key>``.
        runs: key -> (label, ``scratch-mlp`` options).
        data: the dataset's name.
        data_options: its options (``train_size`` is the batch).
        widths: the hidden widths.
        iterations: the course's iterations (`iterations_of` applies the flags).
        init: model options every run shares, under its own.
    """
    from nnzoo.runs.train import cached_splits

    n = iterations_of(args, iterations)
    configs = {
        key: scratch_config(args, data, data_options, widths, {**(init or {}), **options}, n)
        for key, (_, options) in runs.items()
    }
    done = train_scratch_runs(args, study_dir, configs)
    splits = cached_splits(next(iter(configs.values())), args.data_root)
    rows = {key: final_numbers(done[key], splits) for key in runs}
    return StudyRuns(n, done, splits, rows, labels_of(runs))


def draw_study(study_dir: Path, study: StudyRuns, title: str) -> None:
    """plots/costs.png, plots/costs-log.png (`draw_costs`) and plots/boundaries.png
    (`draw_boundaries`) of every run."""
    histories = {study.labels[k]: study.done[k]["history"] for k in study.rows}
    draw_costs(study_dir, histories, title)
    draw_boundaries(study_dir, study.rows, study.labels, study.splits, title)


def classes_of(model: torch.nn.Module, points: np.ndarray) -> np.ndarray:
    """The class (0 / 1) the binary model predicts for points (P, 2), in evaluation mode:
    1 where sigmoid(z) > 1/2, as the course's ``predict``."""
    model.eval()
    x = torch.as_tensor(np.asarray(points), dtype=torch.float32)[:, None, :]  # (P, 1, 2)
    with torch.no_grad():
        z = model(x).squeeze(-1)  # (P,) logits in float64
    return (torch.sigmoid(z) > 0.5).long().numpy()


def final_model(run_dir: str | Path) -> torch.nn.Module:
    """The model after the last iteration (``checkpoints/last.pt``), in evaluation mode."""
    from nnzoo.runs.trained import load_trained

    return load_trained(run_dir, "last").model


def final_numbers(done: dict[str, Any], splits: Any) -> dict[str, Any]:
    """A run's row: the final model's accuracy % on train, val and test, its costs every
    `COST_EVERY` iterations (and the last), its weights' symmetry, the run's timing."""
    model = final_model(done["run_dir"])
    history = done["history"]
    row: dict[str, Any] = {"run": done["run_dir"], "iterations": len(history)}
    for part in ("train", "val", "test"):
        data = getattr(splits, part)
        predicted = classes_of(model, data.x[:, 0].numpy())
        row[f"{part}_accuracy"] = 100 * float(np.mean(predicted == data.y.numpy()))
    # the loss logged for epoch i + 1 is the cost of iteration i (before its update)
    costs = [[i, history[i]["loss"]] for i in range(0, len(history), COST_EVERY)]
    if costs[-1][0] != len(history) - 1:
        costs.append([len(history) - 1, history[-1]["loss"]])
    row["costs"] = costs
    row["weights"] = symmetry(model)
    results = done["results"]
    row["params"] = results.get("params")
    row["seconds_per_iteration"] = results.get("seconds_per_epoch")
    return row


def symmetry(model: torch.nn.Module) -> dict[str, Any]:
    """Distinct rows of every weight matrix, distinct units of every hidden layer (a unit is its
    row of W[l], its b[l] and its column of W[l+1]), and the largest |W| of each matrix."""
    params = {name: p.detach().numpy() for name, p in model.named_parameters()}
    layers = sum(name.startswith("W") for name in params)
    out: dict[str, Any] = {"rows": {}, "units": {}, "max_abs": {}}
    for l in range(1, layers + 1):
        W = params[f"W{l}"]
        out["rows"][f"W{l}"] = [len(np.unique(W, axis=0)), int(W.shape[0])]
        out["max_abs"][f"W{l}"] = float(np.abs(W).max())
        if l < layers:
            units = np.concatenate([W, params[f"b{l}"], params[f"W{l + 1}"].T], axis=1)
            out["units"][f"layer {l}"] = [len(np.unique(units, axis=0)), int(W.shape[0])]
    return out


def model_grid(run_dir: str | Path, points: np.ndarray, steps: int = 200) -> DecisionGrid:
    """The final model's classes on a grid around ``points`` (N, 2)."""
    model = final_model(run_dir)
    return decision_grid(lambda nodes: classes_of(model, nodes), points, steps=steps)


def draw_boundaries(
    study_dir: Path,
    rows: Mapping[str, dict[str, Any]],
    labels: Mapping[str, str],
    splits: Any,
    title: str,
) -> Path:
    """plots/boundaries.png: each run's decision regions with the training points."""
    x, y = splits.train.x[:, 0].numpy(), splits.train.y.numpy()  # (N, 2), (N,)
    panels = {
        f"{labels[key]}: train {row['train_accuracy']:.1f} %": (model_grid(row["run"], x), x, y)
        for key, row in rows.items()
    }
    return plot_decision_boundaries(panels, StudyDir(study_dir).plot("boundaries"), title=title)


def draw_costs(
    study_dir: Path, histories: Mapping[str, list[dict[str, Any]]], title: str
) -> list[Path]:
    """plots/costs.png and plots/costs-log.png: the training cost of every run against the
    iteration, on linear axes and on log-log axes, with the line ln 2 (a coin flip's cost)."""
    lines = {}
    for label, history in histories.items():
        lines[label] = ([h["epoch"] for h in history], [h["loss"] for h in history])
    n = max(len(h) for h in histories.values())
    lines["ln 2"] = ([1, max(n, 2)], [math.log(2), math.log(2)])
    study = StudyDir(study_dir)
    return [
        plot_functions({f"training cost{scale}": lines}, study.plot(name), xlabel=xlabel,
                       logx=log, logy=log, title=title)
        for name, xlabel, scale, log in (
            ("costs", "iteration", "", False),
            ("costs-log", "iteration (log scale)", " (log scale)", True),
        )
    ]  # fmt: skip


def course_budget(record: dict[str, Any], iterations: int, lr: float) -> bool:
    """Whether a study ran the course's budget (so that its published numbers compare)."""
    return record["iterations"] == iterations and record["options"].get("lr") == lr


def budget_note(course: bool) -> str:
    """The report's note that the published numbers are left out, unless ``course``."""
    return "" if course else NOT_COURSE_BUDGET


def accuracy_lines(
    rows: Mapping[str, dict[str, Any]],
    labels: Mapping[str, str],
    published: Mapping[str, tuple[float, float]] | None,
) -> list[list[Any]]:
    lines = []
    for key, row in rows.items():
        shown = f"{published[key][0]:g} / {published[key][1]:g}" if published else ""
        lines.append([labels[key], row["train_accuracy"], row["val_accuracy"],
                      row["test_accuracy"], shown, f"{row['costs'][-1][1]:.6f}"])  # fmt: skip
    return lines


ACCURACY_HEADERS = [
    "run",
    "train acc. %",
    "val acc. %",
    "test acc. %",
    "published train / test %",
    "last cost",
]


def cost_table(rows: Mapping[str, dict[str, Any]], labels: Mapping[str, str]) -> str:
    """The cost of every run at the iterations the course prints (every 1000, and the last)."""
    iterations = [i for i, _ in next(iter(rows.values()))["costs"]]
    lines = [
        [f"{i:,}", *(f"{dict(map(tuple, row['costs']))[i]:.6f}" for row in rows.values())]
        for i in iterations
    ]
    return table(lines, ["cost after iteration", *(labels[k] for k in rows)])


def figure_sections(
    study_dir: Path, rows: Mapping[str, dict[str, Any]], labels: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """The report sections of the figures ``draw_costs`` and ``draw_boundaries`` drew, and of
    every run's own curves: ``{"costs": ..., "boundaries": ..., "runs": ...}``."""
    study = StudyDir(study_dir)
    costs = (
        f"![costs]({study.link(study.plot('costs'))})\n\n"
        f"![costs, log-log axes]({study.link(study.plot('costs-log'))})\n\n"
        + cost_table(rows, labels)
    )
    boundaries = f"![decision boundaries]({study.link(study.plot('boundaries'))})"
    return {
        "costs": ("Cost curves", costs),
        "boundaries": ("Decision boundaries (training points)", boundaries),
        "runs": runs_section(
            study_dir, [{"key": k, **r} for k, r in rows.items()], lambda r: labels[r["key"]]
        ),
    }
