"""EpochLine: one printed line per epoch, for runs whose output is a log rather than a terminal
(parallel workers, CI): ``lstm s0 epoch 3/12: loss 0.41, val_accuracy 0.87 (2.1 s)``."""

from __future__ import annotations

import time
from typing import Any

from nnzoo.engine.callbacks.base import Callback


class EpochLine(Callback):
    def __init__(self, prefix: str, keys: tuple[str, ...] = ("loss", "val_accuracy")):
        self.prefix, self.keys = prefix, keys
        self.started = time.perf_counter()

    def on_epoch_begin(self, loop) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        shown = ", ".join(f"{k} {logs[k]:.4f}" for k in self.keys if k in logs)
        seconds = time.perf_counter() - self.started
        total = loop.config.epochs
        print(f"{self.prefix} epoch {logs['epoch']}/{total}: {shown} ({seconds:.1f} s)", flush=True)
