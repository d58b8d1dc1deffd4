"""Gradient clipping in place, as the course's ``clip`` and as ``torch.nn.utils``.

    by value:  g <- min(max(g, -c), c)                  each entry of each gradient
    by norm:   n = sqrt(sum_g ||g||_F^2)                 the global norm of all gradients
               g <- g * min(1, c / (n + 1e-6))           as torch.nn.utils.clip_grad_norm_

Both change the arrays of ``grads`` themselves, so a caller's references see the clipped values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from nnzoo.errors import ConfigError


def _arrays(grads: Mapping[str, np.ndarray] | Iterable[np.ndarray]) -> list[np.ndarray]:
    arrays = list(grads.values() if isinstance(grads, Mapping) else grads)
    for g in arrays:
        if not isinstance(g, np.ndarray) or not np.issubdtype(g.dtype, np.floating):
            raise ConfigError(
                f"grads: expected floating-point NumPy arrays, got {type(g).__name__}"
            )
    return arrays


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name}={value!r}: expected a number > 0")
    if not math.isfinite(value):
        raise ConfigError(f"{name}={value!r}: expected a finite number > 0")
    return float(value)


def clip_by_value(grads: Mapping[str, np.ndarray] | Iterable[np.ndarray], max_value: float):
    """Clip every entry to [-max_value, max_value] in place; returns ``grads``."""
    c = _positive("max_value", max_value)
    for g in _arrays(grads):
        np.clip(g, -c, c, out=g)
    return grads


def clip_by_norm(grads: Mapping[str, np.ndarray] | Iterable[np.ndarray], max_norm: float) -> float:
    """Scale all gradients in place so their global norm is at most ``max_norm``.

    Returns:
        The global norm before clipping.
    """
    c = _positive("max_norm", max_norm)
    arrays = _arrays(grads)
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in arrays))
    coef = c / (norm + 1e-6)
    if coef < 1.0:
        for g in arrays:
            g *= coef
    return norm
