"""``nnzoo study lr-sweep``: one model, SGD at several learning rates, a fixed number of epochs.

The course's setup: Fashion-MNIST, the base MLP, SGD, batch 64, lr in {1, 0.1, 0.01, 0.001},
10 epochs each. For every lr the table gives the test accuracy after the last epoch, the mean of
the per-epoch test accuracies (the course's "mean over epochs"), and the test accuracy at the
epoch the validation split picks. The per-epoch test accuracies are recorded for the curves and
those two course columns only; nothing is selected on them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import (
    add_common_arguments,
    add_training_arguments,
    course_setup,
    parse_list,
)
from nnzoo.experiments.plan import lr_runs, lr_title
from nnzoo.experiments.sections import overlay_section, runs_section
from nnzoo.report.markdown import table

NAME = "lr-sweep"
HELP = "test accuracy of one model trained with SGD at several learning rates"

# The course's published numbers for the base MLP (lr 0.1, 10 epochs).
PUBLISHED = {0.1: {"final": 87.2, "mean": 84.7}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-lr-sweep")
    add_training_arguments(p, epochs=10)
    p.add_argument("--lrs", default="1,0.1,0.01,0.001", help="learning rates (comma-separated)")


def learning_rates(text: str) -> list[float]:
    lrs = parse_list("--lrs", text, float)
    bad = [lr for lr in lrs if not lr > 0]
    if bad:
        raise ConfigError(f"--lrs: {bad[0]!r} is not a learning rate; expected numbers > 0")
    return lrs


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    rows = lr_runs(args, study_dir, learning_rates(args.lrs), "SGD")
    return {"title": lr_title("Learning-rate sweep", args, f"{args.epochs} epochs"), "rows": rows}


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    rows = record["rows"]
    o = record["options"]
    lines = []
    for r in rows:
        if "diverged" in r:
            lines.append([f"{r['lr']:g}", "diverged", "", "", "", "", ""])
            continue
        published = (
            PUBLISHED.get(r["lr"]) if o.get("model") == "mlp" and course_setup(o, 10) else None
        )
        lines.append(
            [
                f"{r['lr']:g}",
                r["final_test"],
                r["mean_test"],
                f"{published['final']} / {published['mean']}" if published else "",
                r["selected_test"],
                r["selected_epoch"],
                r["seconds_per_epoch"],
            ]
        )
    headers = [
        "lr",
        f"test acc. % after epoch {o['epochs']} (final)",
        f"test acc. % mean over {o['epochs']} epochs",
        "published final / mean",
        "test acc. % at the epoch picked on validation",
        "picked epoch",
        "s / epoch",
    ]
    notes = (
        "The test split was evaluated after every epoch to draw the course's curves and the two "
        "course columns; nothing was selected on it. The honest number is the column picked on "
        "validation. Published numbers: the course's base MLP (lr 0.1, 10 epochs)."
    )
    return [
        ("Test accuracy per learning rate", table(lines, headers, floatfmt=".2f") + "\n\n" + notes),
        overlay_section(study_dir),
        runs_section(study_dir, rows, lambda r: f"lr {r['lr']:g}"),
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
