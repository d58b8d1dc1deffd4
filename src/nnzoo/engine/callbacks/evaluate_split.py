"""EvaluateSplit: loss and accuracy of one more split after every epoch, for the curves.

Adds ``<prefix>_loss`` and ``<prefix>_accuracy`` to each epoch's logs (so to metrics.jsonl and
the history). Nothing is selected on them: the monitor stays on the validation split. Studies use
it to draw the course's per-epoch test curves (e.g. "mean test accuracy over 10 epochs").
"""

from __future__ import annotations

from typing import Any

from nnzoo.engine.callbacks.base import Callback


class EvaluateSplit(Callback):
    def __init__(self, data, prefix: str = "test"):
        self.data, self.prefix = data, prefix

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        from nnzoo.engine.fit import evaluate

        metrics, _ = evaluate(loop.model, self.data, device=loop.config.device)
        logs[f"{self.prefix}_loss"] = metrics["loss"]
        logs[f"{self.prefix}_accuracy"] = metrics["accuracy"]
