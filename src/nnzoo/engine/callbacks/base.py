"""The callback contract: plain objects with no-op hooks, called by name from ``fit``.

Hooks, in the order ``fit`` calls them::

    on_train_begin(loop)                     after a resume, before the first epoch
    on_epoch_begin(loop)                     loop.epoch is the epoch about to run (1-based)
    on_before_optimizer_step(loop)           gradients are ready (clipping goes here)
    on_batch_end(loop, loss)                 loss: the batch's float loss
    on_epoch_end(loop, logs)                 logs: this epoch's metrics (also loop.history[-1])
    on_train_end(loop)

A callback that keeps state across epochs returns it from ``state_dict`` (plain numbers and
strings); ``ModelCheckpoint`` stores it in every checkpoint and a resumed run gets it back
through ``load_state_dict``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnzoo.engine.fit import Loop


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, loop: Loop) -> None:
        pass

    def on_epoch_begin(self, loop: Loop) -> None:
        pass

    def on_before_optimizer_step(self, loop: Loop) -> None:
        pass

    def on_batch_end(self, loop: Loop, loss: float) -> None:
        pass

    def on_epoch_end(self, loop: Loop, logs: dict[str, Any]) -> None:
        pass

    def on_train_end(self, loop: Loop) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (mode "max" or "min")."""
    if value != value:  # NaN never improves
        return False
    if best is None or best != best:
        return True
    return value > best + min_delta if mode == "max" else value < best - min_delta


def mode_of(monitor: str) -> str:
    """ "min" for losses and errors, "max" for everything else (accuracy, F1)."""
    return "min" if "loss" in monitor or "error" in monitor else "max"
