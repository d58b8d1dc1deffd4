"""ProgressBar: a tqdm bar per epoch on stderr with the running loss; silent off a terminal."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

from nnzoo.engine.callbacks.base import Callback


class ProgressBar(Callback):
    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None

    def on_epoch_begin(self, loop) -> None:
        if self.enabled:
            self.bar = tqdm(
                total=loop.batches_per_epoch,
                desc=f"epoch {loop.epoch}/{loop.config.epochs}",
                leave=False,
                file=sys.stderr,
            )

    def on_batch_end(self, loop, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            shown = ", ".join(
                f"{k} {v:.4f}" for k, v in logs.items() if k != "epoch" and isinstance(v, float)
            )
            tqdm.write(f"epoch {logs['epoch']}: {shown}", file=sys.stderr)
