"""TrialPruning: report each epoch's validation value to an Optuna trial; stop when it prunes.

``on_epoch_end`` calls ``trial.report(logs[monitor], epoch)`` and, on ``trial.should_prune()``,
stops the loop after that epoch (its checkpoint is still written, so the run folder stays a
valid run). The search raises ``optuna.TrialPruned`` once ``train_run`` has returned.
"""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback


class TrialPruning(Callback):
    def __init__(self, trial: Any, monitor: str = "val_accuracy"):
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), loop.epoch)
        if self.trial.should_prune():
            self.pruned_at = loop.epoch
            loop.stop(f"pruned by the search at epoch {loop.epoch} ({self.monitor} {value:.4g})")
