"""StepDecay: lr = base_lr * factor ** ((epoch - 1) // every), the LARNN paper's x0.75 schedule."""

from __future__ import annotations

from nnzoo.engine.callbacks.base import Callback


class StepDecay(Callback):
    def __init__(self, every: int, factor: float = 0.75):
        self.every, self.factor = every, factor

    def on_epoch_begin(self, loop) -> None:
        scale = self.factor ** ((loop.epoch - 1) // self.every)
        for group in loop.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * scale
