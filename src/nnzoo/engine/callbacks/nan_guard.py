"""NanGuard: stop at the first non-finite loss, keeping the last good checkpoint, and say where."""

from __future__ import annotations

import math
import os
from pathlib import Path

from nnzoo.engine.callbacks.base import Callback
from nnzoo.errors import NnzooError


class NonFiniteLossError(NnzooError):
    """The loss became NaN or infinite; training stopped before writing any further checkpoint."""


class NanGuard(Callback):
    """Raises `NonFiniteLossError`, naming ``last`` (the checkpoint of the last good epoch)."""

    def __init__(self, last: str | os.PathLike | None = None):
        self.last = Path(last) if last is not None else None

    def on_batch_end(self, loop, loss: float) -> None:
        if math.isfinite(loss):
            return
        kept = (
            f"the last good checkpoint is {self.last} (epoch {loop.epoch - 1})"
            if self.last is not None and self.last.exists()
            else "no checkpoint was written before it"
        )
        raise NonFiniteLossError(
            f"loss became {loss} at epoch {loop.epoch}, step {loop.step}; training stopped and "
            f"{kept}; lower the learning rate or turn on gradient clipping (train.clip_norm)"
        )
