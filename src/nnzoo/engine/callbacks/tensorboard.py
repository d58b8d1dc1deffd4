"""TensorBoard: every epoch's metrics as scalars under <run>/tensorboard (needs `tensorboard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnzoo.engine.callbacks.base import Callback
from nnzoo.errors import ConfigError


class TensorBoard(Callback):
    def __init__(self, folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "train.tensorboard=true needs the tensorboard package: pip install tensorboard"
            ) from None
        self.writer = SummaryWriter(str(folder))

    def on_epoch_end(self, loop, logs: dict[str, Any]) -> None:
        for key, value in logs.items():
            if key != "epoch" and isinstance(value, int | float):
                self.writer.add_scalar(key, value, logs["epoch"])
        self.writer.flush()

    def on_train_end(self, loop) -> None:
        self.writer.close()
