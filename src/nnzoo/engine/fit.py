"""``fit``: the training loop, readable top to bottom, and knowing no task.

Each epoch: reseed (so a resumed run draws the same batches and dropout masks as an
uninterrupted one), shuffle, step through the batches, evaluate on the validation split, log,
and let the callbacks act (schedules, early stopping, checkpoints). What a batch is, its loss
and the metrics of an evaluation come from the task (`nnzoo.tasks`): the loop only asks. The
test split is never looked at here: the run evaluates it once, with the checkpoint the
validation split picked.

Where and how it computes is the `nnzoo.engine.runtime.Runtime`'s: the device, the precision
(autocast, gradient scaling) and, under torchrun, the ranks. With W processes every rank draws
the same shuffled order (the epoch's seed, as torch's ``DistributedSampler.set_epoch`` does)
and takes its share of each global batch of ``train.batch_size`` rows, each rank's loss is
weighted by its share so that DDP's averaged gradient is the global batch's, and the epoch's
training metrics are summed over the ranks: the same global batches, hence (without dropout,
whose masks each rank draws for its own rows) the same parameters as one process, up to
rounding. A last global batch with fewer rows than processes is left out. After each epoch
every rank takes rank 0's buffers (batch norms' running statistics) and evaluates the whole
validation split, so that every rank's callbacks decide alike.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnzoo.config import RunConfig, TrainConfig
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.checkpoint import REDO, CheckpointError, load_checkpoint, load_weights
from nnzoo.engine.runtime import Runtime, flushing_denormals
from nnzoo.errors import ConfigError
from nnzoo.tasks import create_task
from nnzoo.tasks.base import Step, Task, Totals

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum), Adam, AdamW or RMSprop; ``weight_decay`` is the L2 coefficient.

    A model with a ``parameter_groups(lr) -> list[dict]`` method gives its own groups, each
    with its own ``lr`` (a pretrained backbone fine-tuned at a fraction of the head's rate,
    `nnzoo.models.transfer`); any other model is one group at ``train.lr``. Parameters with
    ``requires_grad = False`` (frozen layers) are left out either way, and every group keeps
    the lr it starts at as ``initial_lr`` for the schedules.
    """
    lr, wd = config.lr, config.weight_decay
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"train.lr={lr!r}: expected a learning rate > 0")
    groups = getattr(model, "parameter_groups", None)
    groups = groups(lr) if callable(groups) else [{"params": list(model.parameters())}]
    params = [
        {**group, "params": [p for p in group["params"] if p.requires_grad]} for group in groups
    ]
    params = [group for group in params if group["params"]]
    if not params:
        raise ConfigError(
            f"model {type(model).__name__} has no trainable parameters (all have "
            "requires_grad = False); unfreeze some layers"
        )
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


def reduce_totals(totals: Totals, runtime: Runtime) -> Totals:
    """The epoch's training sums over every rank (``totals`` itself in one process)."""
    if not runtime.distributed:
        return totals
    keys = sorted(totals.counts)
    summed = runtime.all_sum([totals.loss_sum, float(totals.size),
                              *(float(totals.counts[k]) for k in keys)])  # fmt: skip
    counts = {k: round(v) for k, v in zip(keys, summed[2:])}
    return Totals(summed[0], round(summed[1]), counts)


@dataclass
class Loop:
    """What the callbacks see: the model, the optimizer and where training is."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    run_config: RunConfig
    callbacks: list[Callback]
    batches_per_epoch: int
    task: Task | None = None  # None: the config's [task]
    epoch: int = 0  # the epoch running, or the last one finished between epochs
    step: int = 0  # optimizer steps taken
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # stored in checkpoints as it is
    last_step: Step | None = None  # the latest training batch's loss, size and counts
    runtime: Runtime | None = None  # device, precision, ranks (set by fit)

    def __post_init__(self) -> None:
        if self.task is None:
            self.task = create_task(self.run_config.task)

    @property
    def config(self) -> TrainConfig:
        return self.run_config.train

    def stop(self, reason: str) -> None:
        """End training after this epoch (or batch). Every reason given is kept, in the order
        given (``"early stopping: ...; time limit: ..."``), so that a run two rules stopped at
        once names both, the first callback's first."""
        if reason not in self.stop_reason.split("; "):
            self.stop_reason = f"{self.stop_reason}; {reason}" if self.stop_reason else reason

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
    load_weights(loop.model, ckpt["model"], path)
    restoring = "the optimizer's state"
    try:
        loop.optimizer.load_state_dict(ckpt["optimizer"])
        states = ckpt["callbacks"]
        for callback in loop.callbacks:
            restoring = f"the state of the {type(callback).__name__} callback"
            if type(callback).__name__ in states:
                callback.load_state_dict(states[type(callback).__name__])
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
        raise CheckpointError(
            f"{path}: {restoring} does not fit this run ({type(e).__name__}); the file was "
            f"changed after training or written by another nnzoo; {REDO}"
        ) from None
    loop.epoch, loop.step, loop.history = ckpt["epoch"], ckpt["step"], list(ckpt["history"])
    loop.stop_reason = ckpt.get("stop_reason", "")


def fit(
    model: nn.Module,
    train: Any,
    val: Any,
    run_config: RunConfig,
    *,
    task: Task | None = None,
    callbacks: list[Callback] = (),
    resume_from: Path | None = None,
    extra: dict[str, Any] | None = None,
    runtime: Runtime | None = None,
) -> Loop:
    """Train ``model`` on ``train``, validating on ``val`` after every epoch.

    ``task`` (default: the config's ``[task]``) makes the batches, computes each batch's loss
    and evaluates ``val``; ``runtime`` (default: from ``train.device``, ``train.precision`` and
    torchrun's environment) says where. The loop writes no file: callbacks do, at the paths
    they were given.
    """
    config = run_config.train
    task = task if task is not None else create_task(run_config.task)
    runtime = runtime if runtime is not None else Runtime(config.device, config.precision)
    if runtime.world_size > config.batch_size:
        raise ConfigError(
            f"train.batch_size={config.batch_size} is smaller than the {runtime.world_size} "
            "processes, which share every batch; raise train.batch_size or start fewer "
            "processes (torchrun --nproc-per-node)"
        )
    stepped = runtime.setup(model)  # the model itself, or DDP around it
    device = runtime.device
    optimizer = make_optimizer(model, config)
    per_epoch = -(-len(train) // config.batch_size)
    loop = Loop(model, optimizer, run_config, list(callbacks), per_epoch, task)
    loop.extra = dict(extra or {})
    loop.runtime = runtime
    shard = runtime.shard if runtime.distributed else None
    if resume_from is not None and Path(resume_from).exists():
        resume(loop, Path(resume_from))
    loop.call("on_train_begin")
    with flushing_denormals(device):  # see nnzoo.engine.runtime: subnormals are slow on CPUs
        while loop.epoch < config.epochs and not loop.stop_reason:
            loop.epoch += 1
            started = time.perf_counter()
            seed = epoch_seed(config.seed, loop.epoch)
            torch.manual_seed(seed + runtime.rank * 1_000_000_007)  # dropout masks, per rank
            order = torch.Generator().manual_seed(seed)  # batch order, the same on every rank
            loop.call("on_epoch_begin")

            model.train()
            totals = Totals()
            for batch in task.batches(train, config.batch_size, order, shard=shard):
                with runtime.autocast():
                    step = task.step(stepped, runtime.move(batch))
                local = float(step.loss.detach())
                # this rank's share of the global batch, and the global batch's mean loss
                weight, value = runtime.global_mean(local, step.size)
                optimizer.zero_grad(set_to_none=True)
                runtime.backward(step.loss if weight == 1.0 else step.loss * weight)
                runtime.unscale(optimizer)
                loop.call("on_before_optimizer_step")
                runtime.optimizer_step(optimizer)
                loop.step += 1
                loop.last_step = step
                loop.call("on_batch_end", value)
                totals.add(local, step)
                if loop.stop_reason:  # a callback may end training within an epoch
                    break

            totals = reduce_totals(totals, runtime)
            runtime.sync_buffers(model)
            logs: dict[str, Any] = {"epoch": loop.epoch, **task.epoch_logs(totals)}
            if len(val):
                metrics = task.evaluate(model, val, device=device)
                logs.update({f"val_{k}": v for k, v in metrics.items()})
            logs["lr"] = optimizer.param_groups[0]["lr"]
            logs["seconds"] = time.perf_counter() - started
            loop.history.append(logs)
            loop.call("on_epoch_end", logs)

    loop.call("on_train_end")
    return loop
