"""Convergence: stop once the monitored metric has stopped moving.

    converged at epoch e  <=>  max(m[e-p+1..e]) - min(m[e-p+1..e]) < threshold

where m is the monitored metric and p = ``patience``: over the last ``patience`` epochs the metric
stayed inside a band narrower than ``threshold``. Unlike EarlyStopping this does not ask for an
improvement: a metric that creeps up by less than ``threshold`` per window counts as converged.
"""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback
from nnzoo.errors import ConfigError


class Convergence(Callback):
    def __init__(self, monitor: str = "val_accuracy", threshold: float = 0.002, patience: int = 10):
        if not threshold > 0:
            raise ConfigError(f"convergence threshold={threshold!r}: expected a number > 0")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 2:
            raise ConfigError(f"convergence patience={patience!r}: expected an integer >= 2")
        self.monitor, self.threshold, self.patience = monitor, threshold, patience

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        window = [
            row[self.monitor] for row in loop.history[-self.patience :] if self.monitor in row
        ]
        if len(window) < self.patience:
            return
        if max(window) - min(window) < self.threshold:
            loop.stop(
                f"converged: {self.monitor} moved less than {self.threshold:g} "
                f"over {self.patience} epochs"
            )
