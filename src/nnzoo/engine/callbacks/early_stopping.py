"""EarlyStopping: stop when the monitored metric has not improved for ``patience`` epochs."""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback, improved, mode_of


class EarlyStopping(Callback):
    def __init__(self, monitor: str = "val_accuracy", patience: int = 10, min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = mode_of(monitor)
        self.best: float | None = None
        self.wait = 0

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is None:
            return
        if improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            loop.stop(f"early stopping: {self.monitor} did not improve for {self.patience} epochs")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]
