"""``nnzoo study convergence``: train each learning rate until the accuracy stops moving.

A run stops at the first epoch e where the monitored metric m (validation accuracy by default)
stayed inside a band narrower than ``threshold`` over the last ``patience`` epochs::

    max(m[e-patience+1 .. e]) - min(m[e-patience+1 .. e]) < threshold

or at the ``--max-epochs`` cap. The table gives, per lr, the epoch of convergence (or "not by
the cap"), the test accuracy there, and the test accuracy at the epoch the validation split
picked. The course reports 90.18% for the base MLP at lr 0.1, converged after 204 epochs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, register
from nnzoo.experiments.lr_sweep import learning_rates
from nnzoo.experiments.options import add_common_arguments, add_training_arguments, course_setup
from nnzoo.experiments.plan import lr_runs, lr_title
from nnzoo.experiments.sections import overlay_section, runs_section
from nnzoo.report.markdown import table

NAME = "convergence"
HELP = "train each learning rate until the monitored accuracy stops moving (or a cap)"
PUBLISHED = {0.1: (90.18, 204)}  # the course's base MLP: test accuracy %, epochs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-convergence")
    add_training_arguments(p, epochs=300)
    p.add_argument("--lrs", default="1,0.1,0.01,0.001", help="learning rates (comma-separated)")
    p.add_argument("--monitor", default="val_accuracy", help="metric watched (val_accuracy)")
    p.add_argument(
        "--threshold", type=float, default=0.002, help="band width of the monitor (0.002)"
    )
    p.add_argument("--patience", type=int, default=10, help="epochs in the window (10)")


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    lrs = learning_rates(args.lrs)
    if args.monitor not in ("val_accuracy", "accuracy"):
        raise ConfigError(f"--monitor={args.monitor!r}: expected val_accuracy or accuracy")
    rule = {"monitor": args.monitor, "threshold": args.threshold, "patience": args.patience}
    from nnzoo.engine.callbacks import Convergence

    Convergence(**rule)  # a bad threshold or patience fails here, before any training
    rows = lr_runs(args, study_dir, lrs, "until convergence", lambda: [Convergence(**rule)])
    for r in rows:
        r["converged"] = str(r.get("stop_reason", "")).startswith("converged")
    return {"title": lr_title("Convergence", args, f"up to {args.epochs} epochs"), "rows": rows}


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    o = record["options"]
    lines = []
    for r in record["rows"]:
        if "diverged" in r:
            lines.append([f"{r['lr']:g}", "diverged", "", "", "", ""])
            continue
        published = PUBLISHED.get(r["lr"]) if o.get("model") == "mlp" and course_setup(o) else None
        epoch = r["epochs"] if r["converged"] else f"not by {o['epochs']}"
        lines.append(
            [
                f"{r['lr']:g}",
                epoch,
                r["final_test"],
                f"{published[0]} ({published[1]} epochs)" if published else "",
                r["selected_test"],
                r["selected_epoch"],
            ]
        )
    headers = [
        "lr",
        "epoch of convergence",
        "test acc. % there",
        "published",
        "test acc. % at the epoch picked on validation",
        "picked epoch",
    ]
    rule = (
        f"Rule: stop once `{o['monitor']}` moved less than {o['threshold']:g} (max - min) over "
        f"the last {o['patience']} epochs, or after {o['epochs']} epochs. The test split was "
        "evaluated after every epoch for the curves only; nothing was selected on it."
    )
    return [
        ("Convergence per learning rate", table(lines, headers, floatfmt=".2f") + "\n\n" + rule),
        overlay_section(study_dir),
        runs_section(study_dir, record["rows"], lambda r: f"lr {r['lr']:g}"),
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
