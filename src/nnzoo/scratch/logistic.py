"""Logistic regression as a one-neuron network (the course's week 2).

    z = w^T X + b                    (1, m)         w (n_x, 1), b (1, 1)
    a = sigmoid(z)                   probabilities; the loss (`ScratchModel.loss_and_dZ`) is
    J = -(1/m) sum [y log a + (1 - y) log(1 - a)] + lambd / (2m) ||w||^2
    dZ = dJ/dz = (a - y) / m
    dw = X dZ^T (+ (lambd / m) w),   db = sum(dZ)

The parameters start at zero, as the course's ``initialize_with_zeros``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nnzoo.scratch.base import ScratchModel, check_array, check_lambd, check_positive_int
from nnzoo.scratch.init import Rng, check_dtype


class LogisticCache(NamedTuple):
    X: np.ndarray  # (n_x, m)
    m: int
    z_shape: tuple[int, int]


class LogisticRegression(ScratchModel):
    """w (n_x, 1) and b (1, 1), zero-initialised; a sigmoid output.

    Args:
        n_x: features per example.
        lambd: the L2 penalty's strength (0 for none).
        dtype: float64 (the default) or float32.
    """

    output = "sigmoid"
    weight_names = ("w",)

    def __init__(self, n_x: int, *, lambd: float = 0.0, dtype: Any = np.float64) -> None:
        self.n_x = check_positive_int("n_x", n_x)
        self.lambd = check_lambd(lambd)
        dt = check_dtype(dtype)
        self.params = {"w": np.zeros((n_x, 1), dtype=dt), "b": np.zeros((1, 1), dtype=dt)}

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> tuple[np.ndarray, LogisticCache]:
        """X (n_x, m) -> z (1, m); ``train`` and ``rng`` are unused (no dropout)."""
        X = check_array("X", X, (self.n_x, None), f"(n_x={self.n_x}, m)", self.dtype)
        w, b = self.params["w"], self.params["b"]
        Z = w.T @ X + b  # (1, m)
        return Z, LogisticCache(X, X.shape[1], Z.shape)

    def _backward(self, dZ: np.ndarray, cache: LogisticCache) -> dict[str, np.ndarray]:
        dw = cache.X @ dZ.T  # (n_x, 1)
        db = np.sum(dZ, keepdims=True).reshape(1, 1)  # (1, 1)
        return {"w": dw, "b": db}
