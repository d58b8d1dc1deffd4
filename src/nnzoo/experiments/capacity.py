"""``nnzoo study capacity``: deeper or wider? Accuracy and parameters of several models.

The course compares its base MLP (669,706 parameters) with a deeper CNN (1,475,338) and a wider
MLP (1,557,330), all trained the same way (SGD, lr 0.1, batch 64, 10 epochs). The table gives,
per model, its trainable and total parameters, the test accuracy at the epoch the validation
split picked, after the last epoch and averaged over epochs; below it, each model's per-layer
parameter table (``nnzoo.models.summary.parameter_table``, whose totals equal torchinfo's).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import (
    add_common_arguments,
    add_training_arguments,
    course_setup,
    parse_list,
    training_config,
)
from nnzoo.experiments.plan import run_row, run_tasks, task_for
from nnzoo.experiments.sections import overlay_section, plot_overlays, runs_section
from nnzoo.models.summary import count_parameters, parameter_table
from nnzoo.report.markdown import table

NAME = "capacity"
HELP = "accuracy and trainable parameters of several models (base / deeper / wider)"
# The course's test accuracy (%) after 10 epochs of SGD at lr 0.1, batch 64.
PUBLISHED = {"mlp": 87.2, "deeper": 86.79, "wider": 87.49}
TARGETS = {"deeper": 92.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-capacity")
    add_training_arguments(p, epochs=10, model=None)
    p.add_argument("--models", default="mlp,deeper,wider", help="registered models to compare")


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    from nnzoo.runs.train import build_model, cached_splits

    names = parse_list("--models", args.models)
    configs = [training_config(args, {"model.name": name}) for name in names]
    tasks = [
        task_for(args, study_dir, name, config, test_curve=True)
        for name, config in zip(names, configs)
    ]
    done = run_tasks(tasks, args.jobs)
    rows, layers = [], {}
    for name, config, d in zip(names, configs, done):
        model = build_model(config, cached_splits(config, args.data_root))
        layers[name] = [
            {k: r[k] for k in ("name", "type", "params", "trainable")}
            | {"shapes": {k: list(v) for k, v in r["shapes"].items()}}
            for r in parameter_table(model)
        ]
        rows.append(
            {
                "model": name,
                **run_row(d),
                "params": count_parameters(model),
                "trainable": count_parameters(model, trainable_only=True),
            }
        )
    plot_overlays({n: d["history"] for n, d in zip(names, done)}, study_dir, "capacity")
    return {
        "title": f"Capacity: {', '.join(names)} on {args.data}, {args.optimizer} lr {args.lr:g}, "
        f"batch {args.batch_size}, {args.epochs} epochs",
        "rows": rows,
        "layers": layers,
    }


def verdict(name: str, accuracy: float | None) -> str:
    if name not in TARGETS or accuracy is None:
        return ""
    met = "met" if accuracy >= TARGETS[name] else "MISSED"
    return f"≥ {TARGETS[name]:g}: {met}"


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    o = record["options"]
    lines = []
    for r in record["rows"]:
        if "diverged" in r:
            lines.append([r["model"], "", "", "diverged", "", "", "", ""])
            continue
        published = PUBLISHED.get(r["model"]) if course_setup(o, 10) and o["lr"] == 0.1 else None
        lines.append(
            [
                r["model"],
                r["trainable"],
                r["params"],
                r["selected_test"],
                r["final_test"],
                r["mean_test"],
                published,
                verdict(r["model"], r["selected_test"]),
            ]
        )
    headers = [
        "model",
        "trainable params",
        "params",
        "test acc. % (epoch picked on validation)",
        f"test acc. % after epoch {o['epochs']}",
        f"test acc. % mean over {o['epochs']} epochs",
        "published (epoch 10)",
        "target",
    ]
    sections = [
        (
            "Accuracy and size",
            table(lines, headers, floatfmt=".2f", intfmt=",")
            + "\n\nThe test split was evaluated after every epoch for the curves only; the "
            "validation split picked the epoch. Published: the course's numbers for the same "
            "models after 10 epochs of SGD (lr 0.1, batch 64).",
        ),
    ]
    for name, rows in record["layers"].items():
        body = [
            [
                r["name"] or "(model)",
                r["type"],
                ", ".join(f"{k} {list(v)}" for k, v in r["shapes"].items()),
                r["params"],
                r["trainable"],
            ]
            for r in rows
        ]
        total = sum(r["params"] for r in rows)
        body.append(["total", "", "", total, sum(r["trainable"] for r in rows)])
        sections.append(
            (
                f"Parameters per layer: {name}",
                table(body, ["layer", "type", "shapes", "params", "trainable"], intfmt=","),
            )
        )
    sections.append(overlay_section(study_dir))
    sections.append(runs_section(study_dir, record["rows"], lambda r: r["model"]))
    return sections


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
