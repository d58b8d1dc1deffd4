r"""``nnzoo study gradient-flow``: how far back the error signal reaches, cell by cell.

For a batch (x, y) of a long-lag task and a classifier that reads the top recurrent layer's last
state, the study measures, for every step t = 1..T,

.. math::
    g_t = \Big\lVert \frac{\partial L}{\partial h_t} \Big\rVert_F, \qquad
    \frac{\partial L}{\partial h_{t-1}}
      = \Big(\frac{\partial h_t}{\partial h_{t-1}}\Big)^{\!\top} \frac{\partial L}{\partial h_t}

where L is the batch's mean cross-entropy and h_t (B, H) the hidden state of the top layer at
step t: the total derivative, through every later step, not only through the readout. For an
Elman cell the Jacobian is diag(1 - h_t^2) W, so g_1 / g_T shrinks (or grows) geometrically in
T. An LSTM's additive cell state and a GRU's interpolating update can keep it near 1, but only
once training has opened their gates: at torch's default initialisation the gates sit near 1/2
and the signal fades about as fast as an Elman cell's. A forget-gate bias of 1 at
initialisation (``lstm:forget_bias=1``) starts the LSTM's forget gate near 0.73: the signal
still fades, more slowly.

Curves per cell: the initial weights, the weights after ``--epochs`` of training without
clipping, and after training with the global gradient norm clipped at ``--clip-norm``.
Clipping changes nothing at a given set of weights; it changes the weights training reaches.
During training a callback records the global gradient norm before clipping (per epoch: mean,
max, share of steps above ``--clip-norm``), saved in each run's metrics.

To see h_t, `hidden_gradients` unrolls every layer with `nnzoo.unroll` (``collect``: each step's
h_t, the tensor that feeds step t + 1) and asks autograd for dL/dh_t directly; the logits it
computes equal the model's forward (fused kernel or scan).
Writes ``plots/<cell>.png`` (log scale), ``plots/all-cells.png``,
``plots/training-grad-norm.png``, ``gradient-norms.csv`` and one run folder per (cell, clipping)
under ``runs/``. ``--cells`` entries may carry cell options, as in ``nnzoo study long-lag``:
``--cells 'elman,gru,lstm,lstm:forget_bias=1'`` adds an LSTM whose forget-gate bias starts at 1
(tables and plots name it as typed; its files use ``lstm-forget_bias1``).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.engine.callbacks import Callback
from nnzoo.errors import ConfigError
from nnzoo.experiments import Experiment, long_lag, register
from nnzoo.experiments.options import add_common_arguments
from nnzoo.experiments.plan import run_tasks, task_for
from nnzoo.experiments.sections import run_folder
from nnzoo.layers.scan import unroll
from nnzoo.report.markdown import table, write_atomic
from nnzoo.runs.rundir import RunDir, StudyDir
from nnzoo.runs.train import cached_splits

NAME = "gradient-flow"
HELP = "||dL/dh_t|| against t for recurrent cells on a long-lag task, before and after training"
CONDITIONS = ("init", "trained", "trained-clipped")
CSV_FILE = "gradient-norms.csv"


# -- the measurement ---------------------------------------------------------------------------


def unroll_states(model: nn.Module, x: Tensor) -> tuple[list[Tensor], Tensor]:
    """Run a ``sequence-classifier`` step by step; the top layer's h_1..h_T and the logits.

    Every layer is unrolled by `nnzoo.unroll` with ``collect``, so each h_t (B, H) is the tensor
    that feeds step t + 1 and the readout. Dropout is not applied (call it in eval mode).
    """
    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(model, "head") or not hasattr(model, "projection"):
        raise ConfigError(
            f"gradient flow: expected a sequence-classifier, got {type(model).__name__}"
        )
    if model.bidirectional or model.readout != "last":
        raise ConfigError(
            "gradient flow: expected a one-directional sequence-classifier with readout 'last'"
        )
    inputs = model.projection(x)  # (B, T, P)
    for index, cell in enumerate(encoder.layers):
        hs: list[Tensor] = []
        outputs, _ = unroll(cell, inputs, collect=hs)  # (B, T, H)
        if encoder.residual_layers[index]:
            outputs = outputs + inputs
        inputs = outputs
    return hs, model.head(inputs[:, -1])


def hidden_gradients(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """(T,) ||dL/dh_t|| for t = 1..T: L the mean cross-entropy of the batch (x, y)."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            hs, logits = unroll_states(model, x)
            loss = F.cross_entropy(logits, y)
            grads = torch.autograd.grad(loss, hs)
    finally:
        model.train(was_training)
    return torch.stack([g.norm() for g in grads]).detach()


class GradientNorm(Callback):
    """Logs the global gradient norm of every step before clipping: mean and max per epoch.

    ``train_run`` calls extra callbacks before ``GradientClipping``, so the gradients seen here
    are the raw ones. With ``clip_norm`` > 0 it also logs the share of steps above it.
    """

    def __init__(self, clip_norm: float = 0.0) -> None:
        self.clip_norm = clip_norm
        self.norms: list[float] = []

    def on_epoch_begin(self, loop) -> None:
        self.norms = []

    def on_before_optimizer_step(self, loop) -> None:
        grads = [p.grad.detach() for p in loop.model.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        self.norms.append(float(norm))

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        if not self.norms:
            return
        logs["grad_norm_mean"] = statistics.fmean(self.norms)
        logs["grad_norm_max"] = max(self.norms)
        if self.clip_norm > 0:
            logs["clipped_share"] = sum(n > self.clip_norm for n in self.norms) / len(self.norms)


# -- the study ---------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-gradient-flow")
    long_lag.add_task_arguments(p, epochs=20, train_size=1000)
    p.add_argument("--length", type=int, default=100, help="sequence length T (default 100)")
    p.add_argument(
        "--clip-norm", type=float, default=1.0, help="global norm of the clipped runs (1.0)"
    )
    p.add_argument(
        "--grad-batch", type=int, default=256, help="test sequences in the measured batch (256)"
    )


def run_key(cell: str, clip: float) -> str:
    """The run folder of a cell's key (``CellSpec.key``) and a clipping norm (0: none)."""
    return f"{cell}-clip{clip:g}" if clip > 0 else cell


def trained_model(config, splits, run_dir: Path) -> nn.Module | None:
    """The run's model after its last epoch (``checkpoints/last.pt``), or None if it has none."""
    from nnzoo.engine.checkpoint import load_checkpoint, load_weights
    from nnzoo.runs.train import build_model

    last = RunDir(run_dir).checkpoint("last")
    if not last.exists():
        return None
    model = build_model(config, splits)
    load_weights(model, load_checkpoint(last)["model"], last)
    return model


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    from nnzoo.runs.train import build_model

    long_lag.check_task(args)
    cells = long_lag.check_cells(args.cells)
    length = long_lag.check_length("--length", args.length)
    if not (args.clip_norm > 0 and math.isfinite(args.clip_norm)):
        raise ConfigError(f"--clip-norm={args.clip_norm!r}: expected a norm > 0")
    if args.grad_batch < 1:
        raise ConfigError(f"--grad-batch={args.grad_batch}: expected an integer >= 1")
    clips = (0.0, args.clip_norm)
    configs = {
        (cell, clip): long_lag.run_config(args, cell, length, {"train.clip_norm": clip})
        for cell in cells
        for clip in clips
    }
    chance = long_lag.chance(configs[cells[0], 0.0], args.data_root)
    tasks = [
        task_for(args, study_dir, run_key(cell.key, clip), config,
                 callbacks=[GradientNorm(config.train.clip_norm)])
        for (cell, clip), config in configs.items()
    ]  # fmt: skip
    done = dict(zip(configs, run_tasks(tasks, args.jobs)))

    splits = cached_splits(configs[cells[0], 0.0], args.data_root)
    x, y = splits.test.x[: args.grad_batch], splits.test.y[: args.grad_batch]  # (B, T, F), (B,)
    curves: dict[str, dict[str, list[float]]] = {}
    runs: list[dict[str, Any]] = []
    for cell in cells:
        config = configs[cell, 0.0]
        models = {"init": build_model(config, splits)}
        for clip, condition in zip(clips, CONDITIONS[1:]):
            d = done[cell, clip]
            model = trained_model(configs[cell, clip], splits, Path(d["run_dir"]))
            if model is not None:
                models[condition] = model
            runs.append(run_summary(cell.label, clip, condition, d))
        curves[cell.label] = {
            condition: hidden_gradients(model.double(), x.double(), y).tolist()
            for condition, model in models.items()
        }  # float64: the smallest norms stay above float32's underflow
    rows = [
        {"cell": label, "condition": condition, **ratios(norms)}
        for label, by_condition in curves.items()
        for condition, norms in by_condition.items()
    ]
    write_csv(study_dir / CSV_FILE, curves)
    study = StudyDir(study_dir)
    cell_plots = {}
    for cell in cells:
        label = cell.label
        path = plot_cells({label: curves[label]}, study.plot(cell.key),
                          f"{label}: ||dL/dh_t||, T={length}")  # fmt: skip
        cell_plots[label] = study.link(path)
    plot_cells(curves, study.plot("all-cells"), f"||dL/dh_t|| against t, T = {length}")
    histories = {run_key(cell.label, clip): done[cell, clip]["history"] for cell, clip in configs}
    plot_training_norms(histories, study.plot("training-grad-norm"))
    return {
        "title": f"Gradient flow: ||dL/dh_t|| against t ({args.task}, T = {length})",
        "task": args.task,
        "length": length,
        "cells": [cell.label for cell in cells],
        "cell_plots": cell_plots,
        "chance": 100 * chance,
        "batch": len(x),
        "rows": rows,
        "runs": runs,
        "curves": curves,
    }


def ratios(norms: list[float]) -> dict[str, float]:
    first, last = norms[0], norms[-1]
    return {
        "first": first,
        "last": last,
        "ratio": first / last if last > 0 else math.inf,
        "min": min(norms),
        "max": max(norms),
    }


def run_summary(cell: str, clip: float, condition: str, done: dict[str, Any]) -> dict[str, Any]:
    results, history = done["results"], done["history"]
    norms = [h["grad_norm_mean"] for h in history if "grad_norm_mean" in h]
    peaks = [h["grad_norm_max"] for h in history if "grad_norm_max" in h]
    shares = [h["clipped_share"] for h in history if "clipped_share" in h]
    out = {
        "cell": cell,
        "condition": condition,
        "clip_norm": clip,
        "run": done["run_dir"],
        "epochs": len(history),
        "grad_norm_first_epoch": norms[0] if norms else None,
        "grad_norm_last_epoch": norms[-1] if norms else None,
        "grad_norm_max": max(peaks) if peaks else None,
        "clipped_share": statistics.fmean(shares) if shares else None,
    }
    if "diverged" in results:
        return {**out, "diverged": results["diverged"]}
    return {
        **out,
        "test_accuracy": 100 * results["test"]["accuracy"],
        "final_epoch_test_accuracy": 100 * results["final_epoch_test"]["accuracy"],
        "selected_epoch": results["selected_epoch"],
    }


def write_csv(path: Path, curves: dict[str, dict[str, list[float]]]) -> Path:
    """Long format: cell, condition, t (1-based), grad_norm."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["cell", "condition", "t", "grad_norm"])
    for cell, by_condition in curves.items():
        for condition, norms in by_condition.items():
            writer.writerows([cell, condition, t, repr(n)] for t, n in enumerate(norms, 1))
    return write_atomic(path, buffer.getvalue())


STYLES = {"init": ":", "trained": "-", "trained-clipped": "--"}


def plot_cells(curves: dict[str, dict[str, list[float]]], path: Path, title: str) -> Path:
    """||dL/dh_t|| against t on a log scale: one colour per cell, one dash per condition."""
    from nnzoo.report.plots import _figure, _save

    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    for index, (cell, by_condition) in enumerate(curves.items()):
        colour = f"C{index}"
        for condition, norms in by_condition.items():
            t = [i for i, n in enumerate(norms, 1) if n > 0 and math.isfinite(n)]
            values = [norms[i - 1] for i in t]
            label = condition if len(curves) == 1 else f"{cell} {condition}"
            ax.plot(t, values, STYLES[condition], color=colour, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_training_norms(histories: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Mean (solid) and max (dotted) gradient norm before clipping, per epoch, log scale."""
    from nnzoo.report.plots import _figure, _save

    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    for index, (key, history) in enumerate(histories.items()):
        rows = [h for h in history if "grad_norm_mean" in h]
        epochs = [h["epoch"] for h in rows]
        ax.plot(epochs, [h["grad_norm_mean"] for h in rows], color=f"C{index}", label=key)
        ax.plot(epochs, [h["grad_norm_max"] for h in rows], ":", color=f"C{index}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("||g|| before clipping")
    ax.set_title("Global gradient norm during training: mean (solid), max (dotted) per epoch")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return _save(fig, path)


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    study = StudyDir(study_dir)
    o, T = record["options"], record["length"]
    flow = [
        [r["cell"], r["condition"], r["first"], r["last"], r["ratio"], r["min"], r["max"]]
        for r in record["rows"]
    ]
    flow_headers = [
        "cell",
        "weights",
        "||dL/dh_1||",
        f"||dL/dh_{T}||",
        f"ratio h_1 / h_{T}",
        "min over t",
        "max over t",
    ]
    budget = (
        f"{long_lag.setup(o)} T = {T}. Norms are measured in float64 on the first "
        f"{record['batch']} test sequences, L their mean cross-entropy. `trained`: the model "
        "after the last epoch (`checkpoints/last.pt`); `trained-clipped`: the same training with "
        f"the global gradient norm clipped at {o['clip_norm']:g}."
    )
    runs = []
    for r in record["runs"]:
        runs.append(
            [
                r["cell"],
                f"{r['clip_norm']:g}" if r["clip_norm"] else "off",
                "diverged" if r.get("diverged") else r["test_accuracy"],
                r.get("final_epoch_test_accuracy"),
                r.get("selected_epoch"),
                r["grad_norm_first_epoch"],
                r["grad_norm_last_epoch"],
                r["grad_norm_max"],
                None if r["clipped_share"] is None else 100 * r["clipped_share"],
                f"`{study.link(run_folder(study_dir, r['run']).path)}`",
            ]
        )
    runs_headers = [
        "cell",
        "clip norm",
        "test % (picked epoch)",
        "test % (last epoch)",
        "picked epoch",
        "mean ||g|| epoch 1",
        "mean ||g|| last epoch",
        "max ||g||",
        "% steps clipped",
        "run folder",
    ]
    runs_note = (
        f"Chance: {record['chance']:.1f} %. ||g||: the global gradient norm of a training step "
        "before clipping."
    )
    cell_plots = record.get("cell_plots") or {
        c: study.link(study.plot(c)) for c in record["cells"]
    }  # a record written before it held the plots' links
    plots = "\n\n".join(f"![{label}]({path})" for label, path in cell_plots.items())
    link = {name: study.link(study.plot(name)) for name in ("all-cells", "training-grad-norm")}
    return [
        ("||dL/dh_t|| against t", f"![all cells]({link['all-cells']})\n\n" + budget),
        ("First and last step", table(flow, flow_headers, floatfmt=".3g")),
        (
            "Trained runs",
            table(runs, runs_headers, floatfmt=".3g")
            + "\n\n"
            + runs_note
            + f"\n\n![gradient norm during training]({link['training-grad-norm']})",
        ),
        ("Per cell", plots + f"\n\nEvery value: `{CSV_FILE}`."),
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
