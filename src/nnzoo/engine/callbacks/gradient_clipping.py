"""GradientClipping: clip the global gradient norm, or every element, before each step."""

from __future__ import annotations

import torch

from nnzoo.engine.callbacks.base import Callback


class GradientClipping(Callback):
    def __init__(self, norm: float = 0.0, value: float = 0.0):
        self.norm, self.value = norm, value

    def on_before_optimizer_step(self, loop) -> None:
        params = [p for p in loop.model.parameters() if p.grad is not None]
        if self.value > 0:
            torch.nn.utils.clip_grad_value_(params, self.value)
        if self.norm > 0:
            torch.nn.utils.clip_grad_norm_(params, self.norm)
