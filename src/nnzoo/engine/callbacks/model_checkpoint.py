"""ModelCheckpoint: the last checkpoint every epoch, the best one when the monitor improves.

With ``every`` N > 1 the files are written every N epochs and when training ends: the best
epoch between two writes is kept in memory (a copy of its checkpoint) until the next one, so
best.pt still holds the best epoch, and last.pt is at most N - 1 epochs behind a killed run.

Run it after every other callback of an epoch, so that the checkpoint holds their updated state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnzoo.engine.callbacks.base import Callback, improved, mode_of
from nnzoo.engine.checkpoint import checkpoint_of, save_checkpoint, write_checkpoint


class ModelCheckpoint(Callback):
    """Saves to ``last`` after every epoch and to ``best`` when ``monitor`` improves (a run's
    checkpoints/last.pt and best.pt)."""

    def __init__(
        self,
        best: str | os.PathLike,
        last: str | os.PathLike,
        monitor: str = "val_accuracy",
        every: int = 1,
    ):
        self.best_path, self.last_path = Path(best), Path(last)
        self.monitor, self.mode = monitor, mode_of(monitor)
        self.every = every
        self.best: float | None = None
        self.best_epoch = 0
        self.pending: dict[str, Any] | None = None  # the best epoch's checkpoint, not written
        self.saved_epoch = -1

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        due = loop.epoch % self.every == 0 or loop.epoch >= loop.config.epochs
        if value is not None and improved(value, self.best, self.mode):
            self.best, self.best_epoch = value, logs["epoch"]
            if due:
                self.pending = None
                save_checkpoint(self.best_path, loop)
            else:
                self.pending = checkpoint_of(loop, copy=True)
        if due:
            self._write(loop)

    def on_train_begin(self, loop) -> None:
        self.saved_epoch = loop.epoch  # 0, or the epoch of the checkpoint resumed from

    def on_train_end(self, loop) -> None:
        if self.saved_epoch != loop.epoch:  # stopped early, between two writes
            self._write(loop)

    def _write(self, loop) -> None:
        if self.pending is not None:
            write_checkpoint(self.best_path, self.pending)
            self.pending = None
        save_checkpoint(self.last_path, loop)
        self.saved_epoch = loop.epoch

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
