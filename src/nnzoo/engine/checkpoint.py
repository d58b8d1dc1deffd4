"""Checkpoints: written atomically, loaded without unpickling code, with the config inside.

A checkpoint is a dict of tensors, numbers and strings saved by ``torch.save`` and read back with
``torch.load(weights_only=True)``, so a file from elsewhere cannot run code when loaded. It holds
the model and optimizer state, the epoch and step counts, the metric history, every callback's
state and the run's config as TOML text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from nnzoo.config import RunConfig, config_from_toml
from nnzoo.errors import NnzooError
from nnzoo.io import atomic

if TYPE_CHECKING:
    from nnzoo.engine.fit import Loop

FORMAT = "nnzoo-checkpoint-1"


class CheckpointError(NnzooError):
    """A checkpoint that is missing, truncated, corrupt or not an nnzoo checkpoint."""


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save through `nnzoo.io.atomic`, synced to disk before the rename."""
    with atomic(path, sync=True) as f:
        torch.save(obj, f)


def save_checkpoint(path: Path, loop: Loop) -> None:
    atomic_save(
        {
            "format": FORMAT,
            "config": loop.run_config.to_toml(),
            "epoch": loop.epoch,
            "step": loop.step,
            "model": loop.model.state_dict(),
            "optimizer": loop.optimizer.state_dict(),
            "history": loop.history,
            "stop_reason": loop.stop_reason,
            "extra": loop.extra,
            "callbacks": {
                type(cb).__name__: cb.state_dict() for cb in loop.callbacks if cb.state_dict()
            },
        },
        path,
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, with ``config`` parsed into a RunConfig."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # garbage bytes can make torch.load raise almost anything
        if isinstance(e, NnzooError):
            raise
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({reason}); it is truncated or corrupt, "
            "delete it or point at another"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nnzoo checkpoint (no '{FORMAT}' marker)")
    ckpt["run_config"] = config_from_toml(ckpt["config"], source=f"{path} (config)")
    return ckpt


def config_of(path: str | Path) -> RunConfig:
    return load_checkpoint(path)["run_config"]
