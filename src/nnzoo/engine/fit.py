"""``fit``: the training loop, readable top to bottom.

Each epoch: reseed (so a resumed run draws the same batches and dropout masks as an
uninterrupted one), shuffle, step through the batches, evaluate on the validation split, log,
and let the callbacks act (schedules, early stopping, checkpoints). The test split is never
looked at here: ``evaluate`` it once, with the checkpoint the validation split picked.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnzoo.config import RunConfig, TrainConfig
from nnzoo.data.base import SequenceSet
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.checkpoint import CheckpointError, load_checkpoint
from nnzoo.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum), Adam, AdamW or RMSprop; ``weight_decay`` is the L2 coefficient."""
    params, lr, wd = model.parameters(), config.lr, config.weight_decay
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"train.lr={lr!r}: expected a learning rate > 0")
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=wd)
    elif config.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    elif config.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    else:
        raise ConfigError(
            f"train.optimizer={config.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}"
        )
    for group in opt.param_groups:
        group.setdefault("initial_lr", group["lr"])
    return opt


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def batches(data: SequenceSet, batch_size: int, generator: torch.Generator | None = None):
    """(x, y, lengths) batches, shuffled when a generator is given, trimmed to their longest."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        x, y = data.x[index], data.y[index]  # (B, T, F), (B,)
        lengths = None
        if data.lengths is not None:
            lengths = data.lengths[index]
            x = x[:, : int(lengths.max())]
        yield x, y, lengths


@torch.no_grad()
def predict(model: nn.Module, data: SequenceSet, batch_size: int = 512, device: str = "cpu"):
    """Class probabilities (N, C) in evaluation mode."""
    model.eval()
    out = []
    for x, _, lengths in batches(data, batch_size):
        lengths = None if lengths is None else lengths.to(device)
        out.append(model(x.to(device), lengths).float().softmax(-1).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


@torch.no_grad()
def evaluate(model: nn.Module, data: SequenceSet, batch_size: int = 512, device: str = "cpu"):
    """{"loss", "accuracy"} of ``model`` on ``data`` in evaluation mode, and the probabilities."""
    probs = predict(model, data, batch_size, device)
    if len(data) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}, probs
    loss = F.nll_loss(probs.clamp_min(1e-12).log(), data.y).item()
    accuracy = (probs.argmax(-1) == data.y).double().mean().item()
    return {"loss": loss, "accuracy": accuracy}, probs


@dataclass
class Loop:
    """What the callbacks see: the model, the optimizer and where training is."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    run_config: RunConfig
    run_dir: Path | None
    callbacks: list[Callback]
    batches_per_epoch: int
    epoch: int = 0  # the epoch running, or the last one finished between epochs
    step: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # stored in checkpoints as it is

    @property
    def config(self) -> TrainConfig:
        return self.run_config.train

    def stop(self, reason: str) -> None:
        self.stop_reason = reason

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)


def resume(loop: Loop, path: Path) -> None:
    """Restore model, optimizer, counters, history and callback state from ``path``."""
    ckpt = load_checkpoint(path)
    if ckpt["run_config"] != loop.run_config:
        raise CheckpointError(
            f"{path}: written by a different config; use a new --out folder or --fresh"
        )
    loop.model.load_state_dict(ckpt["model"])
    loop.optimizer.load_state_dict(ckpt["optimizer"])
    loop.epoch, loop.step, loop.history = ckpt["epoch"], ckpt["step"], list(ckpt["history"])
    loop.stop_reason = ckpt.get("stop_reason", "")
    states = ckpt["callbacks"]
    for callback in loop.callbacks:
        if type(callback).__name__ in states:
            callback.load_state_dict(states[type(callback).__name__])


def fit(
    model: nn.Module,
    train: SequenceSet,
    val: SequenceSet,
    run_config: RunConfig,
    *,
    callbacks: list[Callback] = (),
    run_dir: Path | None = None,
    resume_from: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Loop:
    """Train ``model`` on ``train``, validating on ``val`` after every epoch."""
    config = run_config.train
    device = torch.device(config.device)
    model.to(device)
    optimizer = make_optimizer(model, config)
    per_epoch = -(-len(train) // config.batch_size)
    loop = Loop(model, optimizer, run_config, run_dir, list(callbacks), per_epoch)
    loop.extra = dict(extra or {})
    if resume_from is not None and Path(resume_from).exists():
        resume(loop, Path(resume_from))
    loop.call("on_train_begin")

    while loop.epoch < config.epochs and not loop.stop_reason:
        loop.epoch += 1
        started = time.perf_counter()
        seed = epoch_seed(config.seed, loop.epoch)
        torch.manual_seed(seed)  # dropout masks
        order = torch.Generator().manual_seed(seed)  # batch order
        loop.call("on_epoch_begin")

        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for x, y, lengths in batches(train, config.batch_size, order):
            x, y = x.to(device), y.to(device)  # (B, T, F), (B,)
            lengths = None if lengths is None else lengths.to(device)
            logits = model(x, lengths)  # (B, C)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loop.call("on_before_optimizer_step")
            optimizer.step()
            loop.step += 1
            value = loss.item()
            loop.call("on_batch_end", value)
            if loop.stop_reason:  # a callback may end training within an epoch
                break
            total_loss += value * len(y)
            correct += int((logits.argmax(-1) == y).sum())
            seen += len(y)

        logs: dict[str, Any] = {
            "epoch": loop.epoch,
            "loss": total_loss / seen,
            "accuracy": correct / seen,
        }
        if len(val):
            metrics, _ = evaluate(model, val, device=config.device)
            logs.update(val_loss=metrics["loss"], val_accuracy=metrics["accuracy"])
        logs["lr"] = optimizer.param_groups[0]["lr"]
        logs["seconds"] = time.perf_counter() - started
        loop.history.append(logs)
        loop.call("on_epoch_end", logs)

    loop.call("on_train_end")
    return loop
