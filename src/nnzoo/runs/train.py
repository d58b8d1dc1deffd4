"""A run: config in, run folder out.

``train_run`` reads the data, builds the model, fits it (resuming from ``checkpoints/last.pt``
when the folder already holds the same config), then evaluates the TEST split once, with the
checkpoint the validation split picked (``best.pt``), and writes the folder::

    config.toml  metrics.jsonl  metrics.csv  checkpoints/{best,last}.pt
    plots/curves.png  plots/confusion.png  results.json  report.md

The folder is checked writable before the data is read; a run that cannot start (a bad
learning rate, a checkpoint that does not load) removes what it created of the folder. A disk
that fills mid-run stops the run with one line; ``checkpoints/last.pt`` keeps the last epoch
that was saved whole, and the same command resumes from it. The folder is held while the run
trains (`nnzoo.runs.rundir.hold`): a second command on the same folder meanwhile stops with one
line instead of interleaving its epochs with the first one's.

Under torchrun (``torchrun --nproc-per-node N -m nnzoo train ...``) every process runs this with
its rank (`nnzoo.engine.runtime.Runtime`): rank 0 alone prepares and writes the folder (config,
metrics, checkpoints, results, report) and prints; every rank reads the same
``checkpoints/last.pt`` to resume, so a job killed mid-run restarts with the same command, with
any number of processes (the checkpoint holds the plain model, not DDP's wrapper). On several
machines the run folder must be on a file system they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nnzoo.config import RunConfig
from nnzoo.data import DataSplits, load_dataset
from nnzoo.engine.callbacks import (
    Callback,
    EarlyStopping,
    GradientClipping,
    MetricsLogger,
    ModelCheckpoint,
    NanGuard,
    ProgressBar,
    ReduceLROnPlateau,
    StepDecay,
    TensorBoard,
    TimeLimit,
)
from nnzoo.engine.checkpoint import load_checkpoint, load_weights
from nnzoo.engine.fit import fit
from nnzoo.engine.runtime import Runtime, check_device, set_threads, threads_rule
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import WriteError, as_write_error, check_writable, write_error
from nnzoo.models import check_model, create_model
from nnzoo.runs.rundir import OUT_HINT, RunDir
from nnzoo.tasks import create_task
from nnzoo.tasks.base import Task, move
from nnzoo.utils.environment import provenance


def default_run_dir(config: RunConfig, root: str | Path = "runs") -> Path:
    """runs/<data>-<cell>-s<seed>-<config digest>: the same command finds the same folder.

    ``<cell>`` is the model's name for models other than ``sequence-classifier``.
    """
    name = f"{config.data.name}-{config.model.label}-s{config.train.seed}-{config.digest()}"
    return Path(root) / name


def load_splits(config: RunConfig, data_root: str | Path | None = None) -> DataSplits:
    options = {"seed": config.data.split_seed, **config.data.options}
    return load_dataset(
        config.data.name,
        root=data_root,
        path=config.data.path or None,
        split=config.data.split or None,
        **options,
    )


_SPLITS: dict[tuple[str, str], DataSplits] = {}


def cached_splits(config: RunConfig, data_root: str | Path | None = None) -> DataSplits:
    """``load_splits``, read once per process: runs on the same data (a recipe's models and
    seeds, a study's runs) share one copy."""
    key = (repr(config.data), str(data_root))
    if key not in _SPLITS:
        _SPLITS[key] = load_splits(config, data_root)
    return _SPLITS[key]


def build_model(config: RunConfig, splits: DataSplits, task: Task | None = None) -> torch.nn.Module:
    """The run's model, seeded by ``train.seed``, sized for the data by the task."""
    task = task if task is not None else create_task(config.task)
    dims = task.model_dims(splits)
    torch.manual_seed(config.train.seed)  # initial weights
    return create_model(
        config.model, dims["num_features"], dims["num_classes"], dims.get("input_shape")
    )


def build_callbacks(
    config: RunConfig,
    run_dir: Path,
    progress: bool | None,
    extra: Sequence[Callback] = (),
    main: bool = True,
) -> list[Callback]:
    """Schedules, stopping rules and ``extra`` first, loggers next, the checkpoint last; the
    loggers, the progress bar and the checkpoint only in the ``main`` process (rank 0)."""
    t = config.train
    run = RunDir(run_dir)
    callbacks: list[Callback] = [NanGuard(run.checkpoint("last")), *extra]
    if t.clip_norm > 0 or t.clip_value > 0:
        callbacks.append(GradientClipping(norm=t.clip_norm, value=t.clip_value))
    if t.lr_step_every > 0:
        callbacks.append(StepDecay(t.lr_step_every, t.lr_step_factor))
    if t.plateau_patience > 0:
        callbacks.append(ReduceLROnPlateau(t.monitor, t.plateau_factor, t.plateau_patience))
    if t.early_stopping > 0:
        callbacks.append(EarlyStopping(t.monitor, t.early_stopping))
    if t.time_limit > 0:
        callbacks.append(TimeLimit(t.time_limit))
    if not main:
        return callbacks
    callbacks.append(ProgressBar(progress))
    callbacks.append(MetricsLogger(run.metrics, run.metrics_csv))
    if t.tensorboard:
        callbacks.append(TensorBoard(run.tensorboard))
    callbacks.append(
        ModelCheckpoint(
            run.checkpoint("best"), run.checkpoint("last"), t.monitor, t.checkpoint_every
        )
    )
    return callbacks


def check_config(config: RunConfig) -> None:
    """Fail on a bad name or option before any data is read."""
    from nnzoo.engine.fit import OPTIMIZERS

    check_model(config.model)  # unknown cells, models and options raise here
    task = create_task(config.task)  # unknown tasks and task options raise here
    t = config.train
    if t.optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"train.optimizer={t.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}"
        )
    for name in ("epochs", "batch_size"):
        if getattr(t, name) < 1:
            raise ConfigError(f"train.{name}={getattr(t, name)!r}: expected an integer >= 1")
    monitors = task.monitors()
    if t.monitor not in monitors:
        listing = ", ".join(monitors[:-1]) + f" or {monitors[-1]}"
        hint = "" if task.name == "classify" else f" (task {task.name})"
        raise ConfigError(f"train.monitor={t.monitor!r}: expected {listing}{hint}")
    check_device(t.device)  # this machine has it (configs from elsewhere still load)


def train_run(
    config: RunConfig,
    run_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    fresh: bool = False,
    progress: bool | None = None,
    splits: DataSplits | None = None,
    write_report: bool = True,
    extra_callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train (or resume), test once with the best-on-validation checkpoint, write the folder.

    ``extra_callbacks`` run before the loggers, so what they add to an epoch's logs is saved.
    """
    check_config(config)
    task = create_task(config.task)
    run_dir = Path(run_dir)
    runtime = Runtime(config.train.device, config.train.precision)
    if runtime.is_main:
        check_writable(run_dir, folder=True, hint=OUT_HINT)  # before the data is read
    splits = splits if splits is not None else load_splits(config, data_root)
    threads = set_threads(config.train.threads)
    model = build_model(config, splits, task)
    check_model_takes(model, task, splits, str(runtime.device))
    run = RunDir(run_dir)
    runtime.join()
    made = run.prepare(config, fresh) if runtime.is_main else None
    runtime.barrier()  # the folder is ready (and a --fresh one emptied) before anyone reads it
    started = Started()
    try:
        return _train(config, run, task, model, splits, threads, progress, write_report,
                      extra_callbacks, started, runtime)  # fmt: skip
    except BaseException as e:
        if not runtime.is_main:
            raise
        if not started.begun:
            run.discard(made)
        # a write to an open file (metrics.jsonl) fails without naming it: the run folder
        error = as_write_error(e, None if getattr(e, "filename", None) else run.path)
        if error is None:
            raise
        raise stopped(error, run, started.begun) from None
    finally:
        run.release(made)  # the folder is free for the next command (a resume)


def check_model_takes(model: torch.nn.Module, task: Task, splits: DataSplits, device: str) -> None:
    """Run the task's step on the first two training examples, in evaluation mode and without
    gradients (the weights and batch-norm statistics stay as built): data the model cannot take
    (another rank, another feature count) is one line before the run folder is made, not an
    error in the first batch of a half-made run."""
    if not len(splits.train):
        return
    model.eval()
    batch = next(iter(task.batches(splits.train, 2)))
    with torch.no_grad():
        task.step(model.to(device), move(batch, device))


class Started(Callback):
    """The last callback: ``begun`` once every callback's on_train_begin has run."""

    def __init__(self) -> None:
        self.begun = False

    def on_train_begin(self, loop) -> None:
        self.begun = True


def stopped(error: WriteError, run: RunDir, begun: bool) -> WriteError:
    """``error`` (a write that failed) with what it means for the run and what to do."""
    where, reason = error.path or run.path, error.reason or "it cannot be written"
    if not begun:
        hint = f"free some space on that disk, or {OUT_HINT}" if error.no_space else OUT_HINT
        return write_error(where, reason, hint, error.no_space)
    fix = "free some space on that disk" if error.no_space else "make the folder writable"
    last = run.checkpoint("last")
    try:
        kept = f"{last} (epoch {load_checkpoint(last)['epoch']}) is kept"
    except NnzooError:
        kept = "no checkpoint was saved before it"
    return write_error(
        where, reason, f"the run stopped and {kept}; {fix}, then run the same command to "
        "resume", error.no_space,
    )  # fmt: skip


def _train(
    config: RunConfig,
    run: RunDir,
    task: Task,
    model: torch.nn.Module,
    splits: DataSplits,
    threads: int,
    progress: bool | None,
    write_report: bool,
    extra_callbacks: Sequence[Callback],
    started: Started,
    runtime: Runtime,
) -> dict[str, Any]:
    run_dir = run.path
    callbacks = [*build_callbacks(config, run_dir, progress, extra_callbacks, runtime.is_main),
                 started]  # fmt: skip
    last = run.checkpoint("last")
    extra = task.data_extra(splits)
    try:
        loop = fit(
            model, splits.train, splits.val, config, task=task, callbacks=callbacks,
            resume_from=last if last.exists() else None, extra=extra, runtime=runtime,
        )  # fmt: skip
    finally:
        if not runtime.is_main:  # only rank 0 tests and writes
            runtime.leave()
    if not runtime.is_main:
        return {"run_dir": str(run_dir), "rank": runtime.rank}
    runtime.leave()

    device = str(runtime.device)
    final = task.test(model, splits.test, extra, device)  # the last epoch's model
    best_path = run.checkpoint("best")
    chosen_path = best_path if best_path.exists() else last
    best = load_checkpoint(chosen_path)
    load_weights(model, best["model"], chosen_path)
    chosen = task.test(model, splits.test, extra, device)  # the model the validation split picked
    seconds = [row["seconds"] for row in loop.history]
    results = {
        "run_dir": str(run_dir),
        "task": task.name,
        "data": splits.name,
        "data_info": {k: v for k, v in splits.info.items() if k != "standardize"},
        "params": sum(p.numel() for p in model.parameters()),
        "epochs_run": loop.epoch,
        "stop_reason": loop.stop_reason or f"reached {config.train.epochs} epochs",
        "selected_epoch": best["epoch"],
        "monitor": config.train.monitor,
        "selected_val": {k: v for k, v in best["history"][-1].items() if k.startswith("val_")},
        "test": chosen,
        "final_epoch_test": final,
        "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else 0.0,
        **task.results(splits),
    }
    run.write_results(results)
    env = {
        **provenance(device),
        "threads": threads_rule(config.train.threads, threads),
        "seeds": {"train.seed": config.train.seed, "data.split_seed": config.data.split_seed},
        "training_seconds": round(sum(seconds), 1),  # the epochs' own times, summed
    }
    run.write_provenance(env)  # by the run, not as a side effect of its report
    if write_report:
        from nnzoo.report.run import write_run_report

        write_run_report(run_dir, config, loop.history, results, env=env)
    return results
