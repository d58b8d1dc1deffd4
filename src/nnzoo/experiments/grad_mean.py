"""``nnzoo study grad-mean``: the gradients of the loss over the first training steps.

For each step s = 1..S (before the optimizer step), over every element g of every trainable
parameter's gradient (N elements in all; a parameter the loss does not reach counts as zeros)::

    mean(g) = Σ g / N        mean|g| = Σ |g| / N        ‖g‖ = sqrt(Σ g²)

The course plots mean(g) for the first 100 steps of the base MLP (SGD, lr 0.1, batch 64). Here:
one curve per (model, lr) for each statistic, a CSV of every value, and each run's per-step loss
and batch accuracy.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnzoo.config import RunConfig, TrainConfig, config_from_toml
from nnzoo.data.base import SequenceSet
from nnzoo.errors import ConfigError
from nnzoo.experiments import base
from nnzoo.report.markdown import table, write_atomic
from nnzoo.report.plots import _figure, _save, plot_curves

NAME = "grad-mean"
HELP = "mean, mean |.| and norm of the loss gradients over the first training steps"
COLUMNS = ("step", "loss", "accuracy", "grad_mean", "grad_abs_mean", "grad_norm")


def add_arguments(p: argparse.ArgumentParser) -> None:
    base.add_common_arguments(p, "runs/study-grad-mean")
    base.add_training_arguments(p, epochs=1, model=None)
    p.add_argument("--models", default="mlp", help="registered models (comma-separated)")
    p.add_argument("--lrs", default="0.1", help="learning rates (comma-separated)")
    p.add_argument("--steps", type=int, default=100, help="training steps recorded (100)")


def gradient_stats(
    model: nn.Module, data: SequenceSet, config: TrainConfig, steps: int
) -> list[dict[str, float]]:
    """Train ``model`` for ``steps`` steps as ``fit`` would; the statistics of every step."""
    from nnzoo.engine.fit import batches, epoch_seed, make_optimizer

    optimizer = make_optimizer(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    rows: list[dict[str, float]] = []
    epoch = 0
    while len(rows) < steps:
        epoch += 1
        seed = epoch_seed(config.seed, epoch)
        torch.manual_seed(seed)
        model.train()
        for x, y, lengths in batches(data, config.batch_size, torch.Generator().manual_seed(seed)):
            logits = model(x, lengths)  # (B, C)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=False)
            loss.backward()
            g = torch.cat([p.grad.reshape(-1) for p in params]).double()  # (N,)
            rows.append(
                {
                    "step": len(rows) + 1,
                    "loss": loss.item(),
                    "accuracy": (logits.argmax(-1) == y).double().mean().item(),
                    "grad_mean": g.mean().item(),
                    "grad_abs_mean": g.abs().mean().item(),
                    "grad_norm": g.norm().item(),
                }
            )
            optimizer.step()
            if len(rows) == steps:
                break
    return rows


def grad_task(task: dict[str, Any]) -> dict[str, Any]:
    """One (model, lr) run, picked up from its folder when it already holds this config."""
    from nnzoo.runs.train import build_model

    if task.get("threads"):
        torch.set_num_threads(task["threads"])
    run_dir = Path(task["run_dir"])
    config = config_from_toml(task["config"], source=task["key"])
    saved, values = run_dir / "config.toml", run_dir / "steps.json"
    if values.exists() and saved.exists() and saved.read_text() == task["config"]:
        return {"key": task["key"], "run_dir": str(run_dir), "rows": json.loads(values.read_text())}
    splits = base.cached_splits(config, task.get("data_root"))
    model = build_model(config, splits)
    rows = gradient_stats(model, splits.train, config.train, task["steps"])
    write_atomic(saved, task["config"])
    write_atomic(run_dir / "steps.csv", to_csv(rows))
    write_atomic(values, json.dumps(rows) + "\n")
    plot_curves(rows, run_dir / "plots" / "curves.png", title=f"{task['key']}: per step (train)")
    print(f"{task['key']}: {len(rows)} steps, loss {rows[0]['loss']:.3f} -> {rows[-1]['loss']:.3f}")
    return {"key": task["key"], "run_dir": str(run_dir), "rows": rows}


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
    names = base.parse_list("--models", args.models)
    lrs = base.parse_list("--lrs", args.lrs, float)
    if args.steps < 1:
        raise ConfigError(f"--steps={args.steps}: expected an integer >= 1")
    tasks = []
    for name in names:
        for lr in lrs:
            config: RunConfig = base.training_config(args, f"model.name={name}", f"train.lr={lr!r}")
            key = f"{name}-lr{lr:g}"
            tasks.append(base.task_for(args, study_dir, key, config, steps=args.steps))
    done = base.map_tasks(grad_task, tasks, args.jobs)
    runs = {d["key"]: d["rows"] for d in done}
    plot_stats(runs, study_dir / "plots" / "grad-mean.png")
    write_atomic(
        study_dir / "grad-mean.csv",
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
    runs = "\n\n".join(
        f"**{r['run']}**\n\n![{r['run']}](runs/{Path(r['run_dir']).name}/plots/curves.png)"
        for r in record["rows"]
    )
    return [
        (
            "Gradient statistics",
            table(lines, headers, floatfmt=".3g")
            + "\n\n![gradient statistics](plots/grad-mean.png)\n\n"
            "Every value of every step is in `grad-mean.csv` (and each run's `steps.csv`). "
            "The statistics are taken over all trainable parameter elements, after "
            "`loss.backward()` and before the optimizer step.",
        ),
        ("Loss and batch accuracy of every run, per step", runs),
    ]
