"""EvaluateSplit: the task's metrics of one more split after every epoch, for the curves.

Adds ``<prefix>_<metric>`` (``test_loss``, ``test_accuracy`` for classify) to each epoch's logs
(so to metrics.jsonl and the history). Nothing is selected on them: the monitor stays on the
validation split. Studies use it to draw the course's per-epoch test curves (e.g. "mean test
accuracy over 10 epochs").
"""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback


class EvaluateSplit(Callback):
    def __init__(self, data, prefix: str = "test"):
        self.data, self.prefix = data, prefix

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        device = loop.runtime.device if loop.runtime is not None else loop.config.device
        metrics = loop.task.evaluate(loop.model, self.data, device=device)
        logs.update({f"{self.prefix}_{k}": v for k, v in metrics.items()})
