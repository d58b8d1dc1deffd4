"""ModelCheckpoint: the last checkpoint every epoch, the best one when the monitor improves.

Run it after every other callback of an epoch, so that the checkpoint holds their updated state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnzoo.engine.callbacks.base import Callback, improved, mode_of
from nnzoo.engine.checkpoint import save_checkpoint


class ModelCheckpoint(Callback):
    """Saves to ``last`` after every epoch and to ``best`` when ``monitor`` improves (a run's
    checkpoints/last.pt and best.pt)."""

    def __init__(
        self, best: str | os.PathLike, last: str | os.PathLike, monitor: str = "val_accuracy"
    ):
        self.best_path, self.last_path = Path(best), Path(last)
        self.monitor, self.mode = monitor, mode_of(monitor)
        self.best: float | None = None
        self.best_epoch = 0

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is not None and improved(value, self.best, self.mode):
            self.best, self.best_epoch = value, logs["epoch"]
            save_checkpoint(self.best_path, loop)
        save_checkpoint(self.last_path, loop)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
