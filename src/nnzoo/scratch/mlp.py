"""``DeepNetwork``: the course's L-layer network, forward and backward written layer by layer.

Layers l = 1..L with ``layer_dims`` = [n_0 = n_x, n_1, ..., n_L = n_y], g the hidden activation,
D[l] the dropout mask of hidden layer l (each entry kept with probability keep_prob):

    forward     A[0] = X                                        (n_x, m)
                Z[l] = W[l] A[l-1] + b[l]                       (n_l, m)   linear_forward
                A[l] = g(Z[l]) * D[l] / keep_prob,  l < L       activation_forward, dropout
                Z[L] = W[L] A[L-1] + b[L]                        the logits (n_y, m)
    cost        J = L(Z[L], Y) + lambd / (2m) sum_l ||W[l]||_F^2     (`ScratchModel`)
    backward    dZ[L] = dL/dZ[L]                                 given (A - Y) / m
                dW[l] = dZ[l] A[l-1]^T + (lambd / m) W[l]        linear_backward
                db[l] = sum_columns dZ[l]
                dA[l-1] = W[l]^T dZ[l]
                dA[l-1] <- dA[l-1] * D[l-1] / keep_prob          dropout_backward
                dZ[l-1] = dA[l-1] * g'(Z[l-1])                   activation_backward

Dropout is inverted (the kept units are scaled by 1/keep_prob, so E[A[l]] is unchanged and
nothing is rescaled at test time), on hidden layers only, and only with ``train=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from nnzoo.errors import ConfigError
from nnzoo.scratch.activations import ACTIVATIONS
from nnzoo.scratch.base import ScratchModel, check_array, check_choice, check_lambd, check_output
from nnzoo.scratch.init import METHODS, Rng, check_layer_dims, check_rng, initialize


def linear_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Z = W A_prev + b: (n_{l-1}, m) -> (n_l, m)."""
    return W @ A_prev + b


def activation_forward(Z: np.ndarray, activation: str) -> np.ndarray:
    """A = g(Z)."""
    return ACTIVATIONS[activation][0](Z)


def dropout_forward(A: np.ndarray, keep_prob: float, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """Inverted dropout: (A * D / keep_prob, D) with D = rng.random(A.shape) < keep_prob."""
    mask = rng.random(A.shape) < keep_prob  # (n_l, m) of bool
    return A * mask / keep_prob, mask


def dropout_backward(dA: np.ndarray, mask: np.ndarray, keep_prob: float) -> np.ndarray:
    """The gradient through inverted dropout: dA * D / keep_prob."""
    return dA * mask / keep_prob


def activation_backward(dA: np.ndarray, Z: np.ndarray, activation: str) -> np.ndarray:
    """dZ = dA * g'(Z)."""
    return dA * ACTIVATIONS[activation][1](Z)


def linear_backward(
    dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dZ (n_l, m) -> (dA_prev = W^T dZ, dW = dZ A_prev^T, db = row sums of dZ).

    dZ already carries the loss's 1/m, so there is none here.
    """
    dA_prev = W.T @ dZ  # (n_{l-1}, m)
    dW = dZ @ A_prev.T  # (n_l, n_{l-1})
    db = np.sum(dZ, axis=1, keepdims=True)  # (n_l, 1)
    return dA_prev, dW, db


class LayerCache(NamedTuple):
    A_prev: np.ndarray  # (n_{l-1}, m) the layer's input (after the previous layer's dropout)
    Z: np.ndarray  # (n_l, m)
    mask: np.ndarray | None  # (n_l, m) of bool for a hidden layer with dropout, else None


class DeepCache(NamedTuple):
    layers: list[LayerCache]  # one per layer, l = 1..L
    m: int
    z_shape: tuple[int, int]


class DeepNetwork(ScratchModel):
    """An L-layer fully connected network in the course's layout.

    Args:
        layer_dims: [n_x, n_1, ..., n_y]; at least two sizes.
        hidden: the hidden activation: sigmoid, tanh, relu, leaky_relu or elu.
        output: sigmoid (n_y = 1) or softmax.
        init: zeros, random, he, xavier or course (see `nnzoo.scratch.init.initialize`).
        lambd: the L2 penalty's strength (0 for none).
        keep_prob: the probability of keeping a hidden unit in training, in (0, 1].
        rng: the generator the weights are drawn from (may be None for ``init="zeros"``).
        scale: the standard deviation of ``init="random"``.
        dtype: float64 (the default) or float32.
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        *,
        hidden: str = "relu",
        output: str = "sigmoid",
        init: str = "he",
        lambd: float = 0.0,
        keep_prob: float = 1.0,
        rng: Rng | None,
        scale: float = 0.01,
        dtype: Any = np.float64,
    ) -> None:
        self.layer_dims = check_layer_dims(layer_dims)
        self.hidden = check_choice("hidden", hidden, tuple(ACTIVATIONS))
        self.output = check_output(output, self.layer_dims[-1])
        check_choice("init", init, METHODS)
        self.lambd = check_lambd(lambd)
        if (
            isinstance(keep_prob, bool)
            or not isinstance(keep_prob, int | float)
            or not 0 < keep_prob <= 1
        ):
            raise ConfigError(f"keep_prob={keep_prob!r}: expected a probability in (0, 1]")
        self.keep_prob = float(keep_prob)
        self.params = initialize(self.layer_dims, init, rng=rng, scale=scale, dtype=dtype)
        self.num_layers = len(self.layer_dims) - 1  # L
        self.weight_names = tuple(f"W{l}" for l in range(1, self.num_layers + 1))

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> tuple[np.ndarray, DeepCache]:
        """X (n_x, m) -> logits Z[L] (n_y, m); ``train=True`` drops hidden units (needs rng)."""
        n_x = self.layer_dims[0]
        A = check_array("X", X, (n_x, None), f"(n_x={n_x}, m)", self.dtype)  # (n_x, m)
        m = A.shape[1]
        dropout = train and self.keep_prob < 1
        if dropout:
            rng = check_rng(rng, why=f"train=True with keep_prob={self.keep_prob} drops units; ")
        caches = []
        for l in range(1, self.num_layers + 1):
            W, b = self.params[f"W{l}"], self.params[f"b{l}"]
            Z = linear_forward(A, W, b)  # (n_l, m)
            mask = None
            if l < self.num_layers:
                A_next = activation_forward(Z, self.hidden)
                if dropout:
                    A_next, mask = dropout_forward(A_next, self.keep_prob, rng)
            caches.append(LayerCache(A, Z, mask))
            if l < self.num_layers:
                A = A_next
        return Z, DeepCache(caches, m, Z.shape)

    def _backward(self, dZ: np.ndarray, cache: DeepCache) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        for l in range(self.num_layers, 0, -1):
            layer = cache.layers[l - 1]
            dA_prev, grads[f"W{l}"], grads[f"b{l}"] = linear_backward(
                dZ, layer.A_prev, self.params[f"W{l}"]
            )
            if l > 1:
                below = cache.layers[l - 2]
                if below.mask is not None:
                    dA_prev = dropout_backward(dA_prev, below.mask, self.keep_prob)
                dZ = activation_backward(dA_prev, below.Z, self.hidden)
        return grads
