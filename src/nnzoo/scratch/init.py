"""Initial weights of an L-layer network, as the course draws them.

For l = 1..L-1 (``layer_dims`` = [n_0, n_1, ..., n_{L-1}], n_0 = n_x):

    zeros:   W[l] = 0
    random:  W[l] = randn(n_l, n_{l-1}) * scale      (the course's "large random": scale 10)
    he:      W[l] = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})
    xavier:  W[l] = randn(n_l, n_{l-1}) * sqrt(1 / n_{l-1})
    course:  W[l] = randn(n_l, n_{l-1}) / sqrt(n_{l-1})   (``initialize_parameters_deep``)
    b[l] = 0 (n_l, 1) for every method

The draws are taken in the course's order, W1 then W2 ..., from ``rng.standard_normal``, which a
``np.random.Generator`` and a legacy ``np.random.RandomState`` both have; with
``rng=np.random.RandomState(seed)`` the weights are exactly the course's
``np.random.seed(seed)`` ones (``RandomState.standard_normal(shape)`` is ``np.random.randn``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnzoo.errors import ConfigError

METHODS = ("zeros", "random", "he", "xavier", "course")
DTYPES = (np.float64, np.float32)

Rng = np.random.Generator | np.random.RandomState


def check_layer_dims(layer_dims: Any) -> list[int]:
    """At least two layer sizes, each an integer >= 1."""
    if isinstance(layer_dims, str | bytes) or not isinstance(layer_dims, Sequence):
        raise ConfigError(
            f"layer_dims={layer_dims!r}: expected a list of layer sizes [n_x, n_1, ..., n_y]"
        )
    dims = list(layer_dims)
    if len(dims) < 2:
        raise ConfigError(
            f"layer_dims={dims!r}: expected at least two sizes, the input and the output"
        )
    for n in dims:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ConfigError(f"layer_dims={dims!r}: expected integers >= 1, got {n!r}")
    return [int(n) for n in dims]


def check_rng(rng: Any, needed: bool = True, why: str = "") -> Rng | None:
    """A Generator or RandomState, or None where nothing random is drawn (``needed=False``);
    ``why`` says what needs it."""
    if rng is None and not needed:
        return None
    if not isinstance(rng, np.random.Generator | np.random.RandomState):
        raise ConfigError(
            f"rng={rng!r}: {why}expected a np.random.Generator (np.random.default_rng(seed)) "
            "or a np.random.RandomState(seed)"
        )
    return rng


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.type not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: expected np.float64 or np.float32")
    return dt


def check_scale(scale: Any) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ConfigError(f"scale={scale!r}: expected a number > 0")
    if not math.isfinite(scale):
        raise ConfigError(f"scale={scale!r}: expected a finite number > 0")
    return float(scale)


def weight_factor(method: str, fan_in: int, scale: float) -> float:
    """The multiplier of randn(n_l, n_{l-1}) for ``method``."""
    return {
        "random": scale,
        "he": math.sqrt(2.0 / fan_in),
        "xavier": math.sqrt(1.0 / fan_in),
        "course": 1.0 / math.sqrt(fan_in),
    }[method]


def initialize(
    layer_dims: Sequence[int],
    method: str,
    *,
    rng: Rng | None,
    scale: float = 0.01,
    dtype: Any = np.float64,
) -> dict[str, np.ndarray]:
    """``{"W1": (n_1, n_0), "b1": (n_1, 1), ..., "WL", "bL"}``, C-contiguous.

    Args:
        layer_dims: [n_x, n_1, ..., n_y].
        method: zeros, random, he, xavier or course.
        rng: the source of the draws; may be None for ``zeros``.
        scale: the standard deviation of ``random``.
        dtype: float64 (the default) or float32; weights are drawn in float64, then cast.
    """
    dims = check_layer_dims(layer_dims)
    if method not in METHODS:
        raise ConfigError(f"method={method!r}: expected one of {', '.join(map(repr, METHODS))}")
    rng = check_rng(rng, method != "zeros", f"{method!r} initialisation draws the weights; ")
    scale = check_scale(scale)
    dt = check_dtype(dtype)
    params: dict[str, np.ndarray] = {}
    for l in range(1, len(dims)):
        shape = (dims[l], dims[l - 1])
        if method == "zeros":
            W = np.zeros(shape)
        else:
            W = rng.standard_normal(shape) * weight_factor(method, dims[l - 1], scale)
        params[f"W{l}"] = np.ascontiguousarray(W, dtype=dt)  # (n_l, n_{l-1})
        params[f"b{l}"] = np.zeros((dims[l], 1), dtype=dt)  # (n_l, 1)
    return params
