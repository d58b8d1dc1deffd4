"""What every from-scratch model shares: the loss at the output, the L2 penalty, prediction.

A model computes the logits Z of its output layer; the loss is taken outside, here or by a
training loop, and backward starts from dZ = dL/dZ. With N the number of examples (m for a
feed-forward net or a many-to-one RNN, m * T for a many-to-many RNN, every step an example):

    sigmoid (n_y = 1, Y of 0/1):
        L = -(1/N) sum [y log a + (1 - y) log(1 - a)],  a = sigmoid(z)
          = (1/N) sum [max(z, 0) - y z + log(1 + e^{-|z|})]     (the stable form)
    softmax (Y class indices, or one-hot (n_y, ...)):
        L = -(1/N) sum_examples log softmax(z)_y
    both:   dL/dZ = (A - Y) / N

    L2:     J = L + lambd / (2m) sum_l ||W[l]||_F^2,   dJ/dW[l] = dL/dW[l] + (lambd / m) W[l]

with m the number of examples in the batch (X.shape[1]). Arrays follow the course's layout:
examples are columns, X (n_x, m); parameters are float64 (or float32) C-contiguous arrays that
optimizers update in place, so a wrapper may share their memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnzoo.errors import ConfigError
from nnzoo.scratch.activations import log_softmax, sigmoid, softmax
from nnzoo.scratch.init import Rng

OUTPUTS = ("sigmoid", "softmax")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(map(repr, choices))}")
    return value


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name}={value!r}: expected an integer >= 1")
    return int(value)


def check_lambd(lambd: Any) -> float:
    if isinstance(lambd, bool) or not isinstance(lambd, int | float) or not 0 <= lambd < np.inf:
        raise ConfigError(f"lambd={lambd!r}: expected a finite number >= 0 (0 for no L2 penalty)")
    return float(lambd)


def check_output(output: Any, n_y: int) -> str:
    output = check_choice("output", output, OUTPUTS)
    if output == "sigmoid" and n_y != 1:
        raise ConfigError(
            f"output='sigmoid' with {n_y} output units: a sigmoid output has one unit; "
            "use output='softmax' for several classes"
        )
    return output


def check_array(name: str, X: Any, shape: tuple[int | None, ...], layout: str, dtype) -> np.ndarray:
    """``X`` as an array of ``dtype`` whose shape matches ``shape`` (None: any size >= 1)."""
    X = np.asarray(X)
    if X.dtype == object or not (
        np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)
    ):
        raise ConfigError(f"{name}: expected an array of numbers, got dtype {X.dtype}")
    if X.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(X.shape, shape)
    ):
        raise ConfigError(f"{name}: expected shape {layout}, got {X.shape}")
    if X.size == 0:
        raise ConfigError(f"{name}: expected at least one example, got shape {X.shape}")
    return X.astype(dtype, copy=False)


class ScratchModel:
    """Base of the NumPy models.

    A subclass sets ``params`` (name -> array, insertion order fixed), ``output``, ``lambd``,
    ``weight_names`` (the matrices the L2 penalty covers) and implements ``forward`` and
    ``_backward``; its cache has fields ``m`` (examples in the batch) and ``z_shape``.
    """

    params: dict[str, np.ndarray]
    output: str
    lambd: float = 0.0
    weight_names: tuple[str, ...] = ()

    @property
    def dtype(self) -> np.dtype:
        return next(iter(self.params.values())).dtype

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> tuple[np.ndarray, Any]:
        """X in the model's layout -> (logits Z of the output layer, cache for ``backward``)."""
        raise NotImplementedError

    def _backward(self, dZ: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
        """dL/dZ -> dL/dparam for every param, without the penalty."""
        raise NotImplementedError

    def backward(self, dZ: np.ndarray, cache: Any) -> dict[str, np.ndarray]:
        """dZ = dL/dZ (the 1/N of a mean loss included) -> the gradient of every parameter.

        With ``lambd > 0`` each weight matrix's gradient includes (lambd / m) W, the gradient
        of ``penalty(m)``, with m the examples in the batch of ``cache``. Returns new arrays, in
        the order and shapes of ``params``; the parameters are not changed.
        """
        dZ = np.asarray(dZ)
        if dZ.shape != tuple(cache.z_shape):
            raise ConfigError(
                f"dZ: expected the shape of the forward output {tuple(cache.z_shape)}, "
                f"got {dZ.shape}"
            )
        grads = self._backward(dZ.astype(self.dtype, copy=False), cache)
        if self.lambd > 0:
            for name in self.weight_names:
                grads[name] = grads[name] + (self.lambd / cache.m) * self.params[name]
        return {name: np.ascontiguousarray(grads[name], dtype=self.dtype) for name in self.params}

    def penalty(self, m: int) -> float:
        """lambd / (2m) * sum ||W||_F^2 over the weight matrices; 0 when lambd is 0."""
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise ConfigError(f"m={m!r}: expected the number of examples, an integer >= 1")
        if self.lambd == 0:
            return 0.0
        total = sum(float(np.sum(np.square(self.params[name]))) for name in self.weight_names)
        return self.lambd / (2 * int(m)) * total

    def loss_and_dZ(self, Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """The mean cross-entropy of logits Z (n_y, ...) against Y, and its gradient w.r.t. Z.

        sigmoid: Y of 0/1 with Z's shape (or Z's shape without the leading 1).
        softmax: Y integer class indices of shape Z.shape[1:], or one-hot of Z's shape.
        The mean is over N = Z.size / n_y examples (m, or m * T for a many-to-many RNN).
        """
        Z = np.asarray(Z)
        N = Z.size // Z.shape[0]
        if self.output == "sigmoid":
            Y = self._binary_targets(Y, Z.shape)
            loss = np.sum(np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))) / N
            return float(loss), (sigmoid(Z) - Y) / N
        Y = self._one_hot(Y, Z.shape)
        loss = -np.sum(Y * log_softmax(Z, axis=0)) / N
        return float(loss), (softmax(Z, axis=0) - Y) / N

    def _binary_targets(self, Y: Any, shape: tuple[int, ...]) -> np.ndarray:
        Y = np.asarray(Y)
        if Y.shape == shape[1:]:
            Y = Y[None]
        if Y.shape != shape:
            raise ConfigError(f"Y: expected 0/1 labels of shape {shape}, got {Y.shape}")
        if not np.all((Y == 0) | (Y == 1)):
            raise ConfigError(
                "Y: a sigmoid output expects labels 0 or 1; map the two classes to 0 and 1, "
                "or use a softmax output for class indices"
            )
        return Y.astype(self.dtype)

    def _one_hot(self, Y: Any, shape: tuple[int, ...]) -> np.ndarray:
        Y = np.asarray(Y)
        n_y = shape[0]
        if Y.shape == shape and np.issubdtype(Y.dtype, np.floating):
            return Y.astype(self.dtype, copy=False)
        if Y.shape != shape[1:] or not np.issubdtype(Y.dtype, np.integer):
            raise ConfigError(
                f"Y: expected integer class indices of shape {shape[1:]} or one-hot labels "
                f"of shape {shape}, got {Y.dtype} of shape {Y.shape}"
            )
        if Y.min() < 0 or Y.max() >= n_y:
            raise ConfigError(
                f"Y: class indices must lie in 0..{n_y - 1}, got {Y.min()}..{Y.max()}"
            )
        return (np.arange(n_y).reshape((n_y,) + (1,) * Y.ndim) == Y[None]).astype(self.dtype)

    def cost(
        self, X: np.ndarray, Y: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> float:
        """The loss of ``forward(X)`` plus ``penalty(m)``; ``train`` and ``rng`` as in forward."""
        Z, _ = self.forward(X, train=train, rng=rng)
        loss, _ = self.loss_and_dZ(Z, Y)
        return loss + self.penalty(np.shape(X)[1])

    def gradients(
        self, X: np.ndarray, Y: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """forward, loss_and_dZ and backward: the cost (penalty included) and its gradient."""
        Z, cache = self.forward(X, train=train, rng=rng)
        loss, dZ = self.loss_and_dZ(Z, Y)
        return loss + self.penalty(cache.m), self.backward(dZ, cache)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """sigmoid(Z) (1, ...) or softmax(Z) over the classes (n_y, ...)."""
        Z, _ = self.forward(X)
        return sigmoid(Z) if self.output == "sigmoid" else softmax(Z, axis=0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 where a > 0.5 (shape (1, ...)), or the argmax class (shape Z.shape[1:])."""
        A = self.predict_proba(X)
        if self.output == "sigmoid":
            return (A > 0.5).astype(np.int64)
        return np.argmax(A, axis=0)
