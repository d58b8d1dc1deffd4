"""ReduceLROnPlateau: multiply the learning rate by ``factor`` after ``patience`` flat epochs."""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback, improved, mode_of


class ReduceLROnPlateau(Callback):
    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.5,
        patience: int = 5,
        min_lr: float = 0.0,
        cooldown: int = 0,
        min_delta: float = 0.0,
    ):
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.min_lr, self.cooldown, self.min_delta = min_lr, cooldown, min_delta
        self.mode = mode_of(monitor)
        self.best: float | None = None
        self.wait = self.cooling = 0

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is None:
            return
        if self.cooling > 0:
            self.cooling -= 1
            self.wait = 0
        if improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            for group in loop.optimizer.param_groups:
                lr = max(group["lr"] * self.factor, self.min_lr)
                if "initial_lr" in group and group["lr"] > 0:
                    # StepDecay sets lr = initial_lr * its factor: scale both, so it keeps the cut
                    group["initial_lr"] *= lr / group["lr"]
                group["lr"] = lr
            self.wait, self.cooling = 0, self.cooldown

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooling": self.cooling}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait, self.cooling = state["best"], state["wait"], state["cooling"]
