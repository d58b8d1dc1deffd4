"""ModelCheckpoint: ``checkpoints/last.pt`` every epoch, ``best.pt`` when the monitor improves.

Run it after every other callback of an epoch, so that the checkpoint holds their updated state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnzoo.engine.callbacks.base import Callback, improved, mode_of
from nnzoo.engine.checkpoint import save_checkpoint


class ModelCheckpoint(Callback):
    def __init__(self, folder: Path, monitor: str = "val_accuracy"):
        self.folder, self.monitor, self.mode = Path(folder), monitor, mode_of(monitor)
        self.best: float | None = None
        self.best_epoch = 0

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        value = logs.get(self.monitor)
        if value is not None and improved(value, self.best, self.mode):
            self.best, self.best_epoch = value, logs["epoch"]
            save_checkpoint(self.folder / "best.pt", loop)
        save_checkpoint(self.folder / "last.pt", loop)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
