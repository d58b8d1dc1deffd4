"""``nnzoo bench CONFIG``: this machine's training throughput for a config, to size a job.

It reads the config's data, builds its model, and times ``--steps`` training steps (forward,
backward, optimizer step; ``--warmup`` more first, not timed) on the config's own batches,
device, precision and threads, exactly as ``fit`` takes them. Beside it, torch.nn.LSTM of the
same shape (the config's features, hidden size and layers, its batch and sequence length, a
linear head, Adam) is timed the same way in the same process, so that the ratio says what the
model costs against the fastest recurrent layer torch has. Nothing is written::

    nnzoo bench runs/uci-har-larnn-s0-1a2b3c4d/config.toml --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from torch import nn

from nnzoo.config import RunConfig
from nnzoo.errors import ConfigError


def add_parser(sub: Any) -> None:
    from nnzoo.cli import add_run_config_flags

    p = sub.add_parser(
        "bench", help="training throughput of a config here, and its ratio to torch.nn.LSTM",
        description=__doc__.split("\n\n")[0],
    )  # fmt: skip
    _, run = add_run_config_flags(p, "bench")
    run.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    run.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")


def timed_steps(step_fn, steps: int, warmup: int, device: torch.device) -> list[float]:
    """Seconds of each of ``steps`` calls of ``step_fn`` after ``warmup`` untimed ones."""
    times = []
    for i in range(warmup + steps):
        started = time.perf_counter()
        step_fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return times


def bench(config: RunConfig, data_root: str | None, steps: int, warmup: int) -> dict[str, Any]:
    """Median seconds per training step of ``config``'s model and of torch.nn.LSTM."""
    from nnzoo.engine.fit import make_optimizer
    from nnzoo.engine.runtime import Runtime, set_threads
    from nnzoo.runs.train import build_model, check_config, load_splits
    from nnzoo.tasks import create_task

    for name, value in (("--steps", steps), ("--warmup", warmup)):
        if value < (1 if name == "--steps" else 0):
            raise ConfigError(f"{name}={value}: expected an integer >= {int(name == '--steps')}")
    check_config(config)
    task = create_task(config.task)
    runtime = Runtime(config.train.device, config.train.precision)
    if runtime.distributed:
        raise ConfigError("nnzoo bench measures one process; run it without torchrun")
    threads = set_threads(config.train.threads)
    splits = load_splits(config, data_root)
    if not len(splits.train):
        raise ConfigError(f"data {config.data.name!r}: no training examples to time")
    model = build_model(config, splits, task)
    stepped = runtime.setup(model)
    optimizer = make_optimizer(model, config.train)
    generator = torch.Generator().manual_seed(config.train.seed)
    batches = [runtime.move(b) for b in task.batches(splits.train, config.train.batch_size,
                                                         generator)]  # fmt: skip
    batch = max(batches, key=lambda b: len(b[0]))  # a full batch
    model.train()

    def model_step() -> None:
        with runtime.autocast():
            step = task.step(stepped, batch)
        optimizer.zero_grad(set_to_none=True)
        runtime.backward(step.loss)
        runtime.optimizer_step(optimizer)

    x = batch[0]  # (B, T, F) features, or (B, T) token ids
    B = len(x)
    T = int(x.shape[1]) if x.dim() >= 2 else 1
    hidden = int(config.model.option("hidden") or 64)
    # token ids: the LSTM reads vectors of the embedding's width
    features = (int(splits.num_features) if x.is_floating_point()
                else int(config.model.option("embedding") or hidden))  # fmt: skip
    layers = int(config.model.option("layers") or 1)
    reference = _LSTMReference(features, hidden, layers, 8).to(runtime.device)
    ref_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)
    ref_x = torch.randn(B, T, features, device=runtime.device)
    ref_y = torch.randint(0, 8, (B,), device=runtime.device)

    def reference_step() -> None:
        with runtime.autocast():
            loss = nn.functional.cross_entropy(reference(ref_x), ref_y)
        ref_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        ref_optimizer.step()

    ours = statistics.median(timed_steps(model_step, steps, warmup, runtime.device))
    theirs = statistics.median(timed_steps(reference_step, steps, warmup, runtime.device))
    return {
        "model": config.model.label, "batch": B, "steps_per_sequence": T,
        "features": features, "hidden": hidden, "layers": layers,
        "device": str(runtime.device), "precision": runtime.precision, "threads": threads,
        "seconds_per_step": ours, "sequences_per_second": B / ours,
        "lstm_seconds_per_step": theirs, "lstm_sequences_per_second": B / theirs,
        "ratio": ours / theirs,
    }  # fmt: skip


class _LSTMReference(nn.Module):
    """torch.nn.LSTM (batch first) and a linear head on the last step."""

    def __init__(self, features: int, hidden: int, layers: int, classes: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def cmd_bench(args: argparse.Namespace) -> int:
    from nnzoo.cli import values_from
    from nnzoo.config import load_config

    config = load_config(args.config, values=values_from(args))
    r = bench(config, args.data_root, args.steps, args.warmup)
    print(
        f"{r['model']}: batch {r['batch']} x {r['steps_per_sequence']} steps x "
        f"{r['features']} features on {r['device']} ({r['precision']}, {r['threads']} "
        f"thread(s)): {r['sequences_per_second']:.1f} sequences/s "
        f"({1000 * r['seconds_per_step']:.1f} ms per training step, median of {args.steps})"
    )
    print(
        f"torch.nn.LSTM({r['features']}, {r['hidden']}, {r['layers']} layer(s)) at the same "
        f"shape: {r['lstm_sequences_per_second']:.1f} sequences/s "
        f"({1000 * r['lstm_seconds_per_step']:.1f} ms per step); ratio {r['ratio']:.2f}x"
    )
    return 0
