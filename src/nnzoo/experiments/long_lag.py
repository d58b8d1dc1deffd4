r"""``nnzoo study long-lag``: test accuracy against sequence length, one line per cell.

On a long-lag task (``first-symbol`` by default, see `nnzoo.data.synthetic`) the label is fixed
at step 1 and read out at step T, so the error signal must travel back T - 1 steps:

.. math::
    \frac{\partial L}{\partial h_1}
      = \frac{\partial L}{\partial h_T} \prod_{t=2}^{T} \frac{\partial h_t}{\partial h_{t-1}}

An Elman cell multiplies T - 1 Jacobians diag(1 - h_t^2) W and the product shrinks (or
grows) geometrically. The additive cell state of an LSTM, and the interpolating update of a GRU,
can carry the signal once their gates learn to hold it (at torch's default initialisation the
gates sit near 1/2 and the signal fades there too; ``lstm:forget_bias=1`` starts the LSTM's
forget gate near 0.73). The study trains one run per (cell, length, seed), a one-layer
``sequence-classifier`` reading its last state with Adam, and tabulates the test accuracy at the
epoch the validation split picks, averaged over the seeds (``--seeds``: whether a run finds the
long-lag solution at all depends on its initial weights), against the chance level of the task.

``--cells`` entries may carry cell options, ``CELL:KEY=VALUE[;KEY=VALUE]``: ``--cells
'gru,lstm,lstm:forget_bias=1'`` compares the LSTM with and without a forget-gate bias of 1 at
initialisation. Tables and plots name a cell as typed; its run folders use a filesystem-safe
form (``lstm-forget_bias1``). Every run is an ordinary run folder
``runs/<cell>-T<length>-s<seed>``; repeating the command picks up finished runs. The task flags
here (``--task``, ``--cells``, sizes, optimiser) are shared with ``nnzoo study gradient-flow``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import (
    CELLS_HELP,
    CellSpec,
    add_common_arguments,
    make_config,
    parse_cells,
    parse_list,
)
from nnzoo.experiments.plan import run_tasks, task_for
from nnzoo.experiments.sections import run_folder
from nnzoo.report.markdown import table
from nnzoo.runs.rundir import StudyDir
from nnzoo.runs.train import cached_splits

NAME = "long-lag"
HELP = "test accuracy against sequence length for recurrent cells on a long-lag task"
TASKS = ("first-symbol", "adding")


# -- the task flags, shared with gradient-flow -------------------------------------------------


def add_task_arguments(p: argparse.ArgumentParser, *, epochs: int, train_size: int) -> None:
    p.add_argument("--task", default="first-symbol", help="first-symbol | adding")
    p.add_argument(
        "--cells", default="elman,gru,lstm", help=CELLS_HELP + "; default elman,gru,lstm"
    )
    p.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    p.add_argument("--symbols", type=int, default=4, help="first-symbol alphabet (default 4)")
    p.add_argument("--train-size", type=int, default=train_size, help="training sequences")
    p.add_argument("--val-size", type=int, default=200, help="validation sequences (200)")
    p.add_argument("--test-size", type=int, default=1000, help="test sequences (1000)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs per run ({epochs})")
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (0.01)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (32)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any other config value, e.g. --set model.cell_options.nonlinearity=relu",
    )


def check_cells(text: str) -> list[CellSpec]:
    return parse_cells("--cells", text)


def check_length(flag: str, length: int) -> int:
    if length < 2:
        raise ConfigError(f"{flag}: length {length} is too short; expected lengths >= 2")
    return length


def check_task(args: argparse.Namespace) -> None:
    if args.task not in TASKS:
        raise ConfigError(f"--task={args.task!r}: expected one of {', '.join(TASKS)}")
    for flag in ("hidden", "symbols", "train_size", "val_size", "test_size", "batch_size"):
        if getattr(args, flag) < 1:
            name = "--" + flag.replace("_", "-")
            raise ConfigError(f"{name}={getattr(args, flag)}: expected an integer >= 1")


def run_config(
    args: argparse.Namespace,
    cell: CellSpec,
    length: int,
    settings: dict[str, Any] | None = None,
) -> RunConfig:
    """One run: a one-layer classifier of ``cell`` on the task at ``length``, then ``--set``,
    the cell's options and ``settings`` (typed values, e.g. ``{"train.seed": 3}``).

    The cell's own options come after ``--set``, so ``lstm:forget_bias=1`` wins over a
    ``--set model.cell_options.forget_bias=...`` meant for every cell.
    """
    flags: dict[str, Any] = {
        "data.name": args.task,
        "data.options.length": length,
        "data.options.train_size": args.train_size,
        "data.options.val_size": args.val_size,
        "data.options.test_size": args.test_size,
    }
    if args.task == "first-symbol":
        flags["data.options.symbols"] = args.symbols
    flags |= {
        "model.name": "sequence-classifier",
        "model.cell": cell.name,
        "model.hidden": args.hidden,
        "model.layers": 1,
        "model.readout": "last",
        "train.optimizer": "adam",
        "train.lr": args.lr,
        "train.batch_size": args.batch_size,
        "train.epochs": args.epochs,
        "train.seed": args.seed,
        "train.monitor": "val_accuracy",
    }
    return make_config(flags, args.set, cell.settings(), settings or {})


def chance(config: RunConfig, data_root: str | None) -> float:
    """The task's chance accuracy (and a check of its options: bad ones raise here)."""
    return float(cached_splits(config, data_root).info["chance"])


def setup(o: dict[str, Any], seeds: list[int] | None = None) -> str:
    """The training budget of the study's options, in one sentence for the report."""
    epochs = f"{o['epochs']} epoch" + "s" * (o["epochs"] != 1)
    seeds = seeds or [o["seed"]]
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
    return (
        f"Task `{o['task']}`; one-layer `sequence-classifier`, {o['hidden']} hidden units, "
        f"last-state readout; Adam lr {o['lr']:g}, batch {o['batch_size']}, {epochs}; "
        f"{o['train_size']} / {o['val_size']} / {o['test_size']} train / val / test sequences; "
        f"{seed_text}."
    )


def accuracy(done: dict[str, Any], key: str = "test") -> float | None:
    """Test accuracy in % at the validation-picked epoch (``final_epoch_test``: last epoch)."""
    results = done["results"]
    return None if "diverged" in results else 100 * results[key]["accuracy"]


# -- the study ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-long-lag")
    add_task_arguments(p, epochs=20, train_size=1000)
    p.add_argument("--lengths", default="25,50,100,200", help="sequence lengths (25,50,100,200)")
    p.add_argument(
        "--seeds",
        help="training seeds, one run each per (cell, length) (default: --seed); the data "
        "stay the same, the initial weights and batch order change",
    )


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    check_task(args)
    cells = check_cells(args.cells)
    lengths = [check_length("--lengths", n) for n in parse_list("--lengths", args.lengths, int)]
    seeds = [args.seed]
    if args.seeds is not None:
        seeds = parse_list("--seeds", args.seeds, int)
    configs = {
        (cell, n, seed): run_config(args, cell, n, {"train.seed": seed})
        for cell in cells
        for n in lengths
        for seed in seeds
    }
    chance_pct = 100 * chance(configs[cells[0], lengths[0], seeds[0]], args.data_root)
    for n in lengths:  # every length's data, drawn (and checked) before any training
        chance(configs[cells[0], n, seeds[0]], args.data_root)
    tasks = [
        task_for(args, study_dir, f"{cell.key}-T{n}-s{seed}", config)
        for (cell, n, seed), config in configs.items()
    ]
    done = run_tasks(tasks, args.jobs)
    rows = []
    for (cell, n, seed), d in zip(configs, done):
        results = d["results"]
        rows.append(
            {
                "cell": cell.label,
                "length": n,
                "seed": seed,
                "run": d["run_dir"],
                "test_accuracy": accuracy(d),
                "final_epoch_test_accuracy": accuracy(d, "final_epoch_test"),
                "selected_epoch": results.get("selected_epoch"),
                "epochs": len(d["history"]),
                "seconds_per_epoch": results.get("seconds_per_epoch"),
                "params": results.get("params"),
                "diverged": results.get("diverged"),
            }
        )
    labels = [cell.label for cell in cells]
    means = mean_table(rows, labels, lengths)
    plot_accuracy(rows, means, lengths, chance_pct, StudyDir(study_dir).plot("accuracy"))
    return {
        "title": f"Long-lag: test accuracy against sequence length ({args.task})",
        "task": args.task,
        "cells": labels,
        "lengths": lengths,
        "seeds": seeds,
        "chance": chance_pct,
        "means": means,
        "rows": rows,
    }


def mean_table(
    rows: list[dict[str, Any]], cells: list[str], lengths: list[int]
) -> dict[str, list[float | None]]:
    """cell -> mean test accuracy over the seeds at each length (None if every seed diverged)."""
    out = {}
    for cell in cells:
        out[cell] = []
        for n in lengths:
            values = [
                r["test_accuracy"]
                for r in rows
                if r["cell"] == cell and r["length"] == n and r["test_accuracy"] is not None
            ]
            out[cell].append(statistics.fmean(values) if values else None)
    return out


def plot_accuracy(
    rows: list[dict[str, Any]],
    means: dict[str, list[float | None]],
    lengths: list[int],
    chance_pct: float,
    path: Path,
) -> Path:
    """Mean over seeds (line) and every seed (dots), one colour per cell, and the chance line."""
    from nnzoo.report.plots import _figure, _save

    fig = _figure(6.5, 4.0)
    ax = fig.add_subplot()
    for index, (cell, values) in enumerate(means.items()):
        colour = f"C{index}"
        points = [(n, v) for n, v in zip(lengths, values) if v is not None]
        if points:
            ax.plot(*zip(*points), marker="o", color=colour, label=cell)
        dots = [(r["length"], r["test_accuracy"]) for r in rows if r["cell"] == cell]
        dots = [(n, v) for n, v in dots if v is not None]
        if dots:
            ax.scatter(*zip(*dots), s=12, color=colour, alpha=0.4)
    ax.axhline(chance_pct, color="grey", linestyle="--", label=f"chance ({chance_pct:.0f} %)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test accuracy % (epoch picked on validation)")
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    study = StudyDir(study_dir)
    o, lengths, rows, seeds = record["options"], record["lengths"], record["rows"], record["seeds"]
    lines = [[cell, *values] for cell, values in record["means"].items()]
    headers = ["cell", *(f"T = {n}" for n in lengths)]
    what = "mean over the seeds; lines: means, dots: seeds" if len(seeds) > 1 else "one seed"
    budget = f"{setup(o, seeds)} Chance level: **{record['chance']:.1f} %**."
    detail = [
        [
            r["cell"],
            r["length"],
            r["seed"],
            "diverged" if r["diverged"] else r["test_accuracy"],
            r["final_epoch_test_accuracy"],
            r["selected_epoch"],
            r["epochs"],
            r["seconds_per_epoch"],
            f"`{study.link(run_folder(study_dir, r['run']).path)}`",
        ]
        for r in rows
    ]
    detail_headers = [
        "cell",
        "T",
        "seed",
        "test % (picked epoch)",
        "test % (last epoch)",
        "picked epoch",
        "epochs",
        "s / epoch",
        "run folder",
    ]
    return [
        (
            f"Test accuracy % at the epoch picked on validation ({what.split(';')[0]})",
            table(lines, headers, floatfmt=".1f") + "\n\n" + budget,
        ),
        (
            "Accuracy against length",
            f"![accuracy against length]({study.link(study.plot('accuracy'))})\n\n"
            f"{what.capitalize()}.",
        ),
        ("Every run", table(detail, detail_headers, floatfmt=".2f")),
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
