"""``ElmanRNN``: the course's basic RNN ("Sequence Models", week 1), trained by BPTT.

Input x (n_x, m, T_x), hidden states a (n_a, m, T_x), a<0> = 0:

    forward     a<t> = tanh(Wax x<t> + Waa a<t-1> + ba)              (n_a, m)   rnn_cell_forward
                z<t> = Wya a<t> + by                                  (n_y, m)   the logits
                many-to-one: Z = z<T_x> (n_y, m);  many-to-many: Z = z<1..T_x> (n_y, m, T_x)
    cost        many-to-one: L(Z, Y) over m examples; many-to-many: the mean over all m * T_x
                steps of the per-step cross-entropy (`ScratchModel.loss_and_dZ`);
                plus lambd / (2m) (||Wax||^2 + ||Waa||^2 + ||Wya||^2) when lambd > 0
    backward    dWya = sum_t dz<t> a<t>^T,  dby = sum_t,m dz<t>
                da<t> = Wya^T dz<t> + da_next<t>           (da_next<T_x> = 0)
                dpre<t> = da<t> * (1 - a<t>^2)                                  rnn_cell_backward
                dWax += dpre<t> x<t>^T,  dWaa += dpre<t> a<t-1>^T,  dba += sum_m dpre<t>
                da_next<t-1> = Waa^T dpre<t>,  dx<t> = Wax^T dpre<t>

``rnn_forward(x, a0, params)`` and ``rnn_backward(da, caches, params)`` are the course's
functions (they take the gradient of every hidden state); the model adds the output layer.
The weights start as the course's ``initialize_parameters``: randn * scale (0.01), drawn in the
order Wax, Waa, Wya; the biases at zero.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nnzoo.errors import ConfigError
from nnzoo.scratch.base import (
    ScratchModel,
    check_array,
    check_choice,
    check_lambd,
    check_output,
    check_positive_int,
)
from nnzoo.scratch.init import Rng, check_dtype, check_rng, check_scale

INITS = ("random", "xavier")


class CellCache(NamedTuple):
    a_next: np.ndarray  # (n_a, m)
    a_prev: np.ndarray  # (n_a, m)
    xt: np.ndarray  # (n_x, m)


def rnn_cell_forward(
    xt: np.ndarray, a_prev: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[np.ndarray, CellCache]:
    """a_next = tanh(Wax x_t + Waa a_prev + ba): (n_x, m), (n_a, m) -> (n_a, m)."""
    a_next = np.tanh(params["Wax"] @ xt + params["Waa"] @ a_prev + params["ba"])
    return a_next, CellCache(a_next, a_prev, xt)


def rnn_cell_backward(
    da_next: np.ndarray, cache: CellCache, params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The gradient dL/da<t> (n_a, m) -> dxt, da_prev, dWax, dWaa, dba of one step."""
    dpre = da_next * (1.0 - cache.a_next**2)  # (n_a, m)
    return {
        "dxt": params["Wax"].T @ dpre,  # (n_x, m)
        "da_prev": params["Waa"].T @ dpre,  # (n_a, m)
        "dWax": dpre @ cache.xt.T,  # (n_a, n_x)
        "dWaa": dpre @ cache.a_prev.T,  # (n_a, n_a)
        "dba": np.sum(dpre, axis=1, keepdims=True),  # (n_a, 1)
    }


def rnn_forward(
    x: np.ndarray, a0: np.ndarray, params: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[CellCache]]:
    """x (n_x, m, T) and a0 (n_a, m) -> every hidden state a (n_a, m, T) and the step caches."""
    n_a = params["Waa"].shape[0]
    _, m, T = x.shape
    a = np.empty((n_a, m, T), dtype=np.result_type(x, params["Waa"]))
    caches = []
    a_prev = a0
    for t in range(T):
        a_prev, cache = rnn_cell_forward(x[:, :, t], a_prev, params)
        a[:, :, t] = a_prev
        caches.append(cache)
    return a, caches


def rnn_backward(
    da: np.ndarray, caches: list[CellCache], params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """BPTT: da (n_a, m, T), the loss's gradient w.r.t. each a<t> from outside the recurrence
    -> dx (n_x, m, T), da0 (n_a, m), dWax, dWaa, dba."""
    n_a, m, T = da.shape
    n_x = caches[0].xt.shape[0]
    dx = np.empty((n_x, m, T), dtype=da.dtype)
    dWax = np.zeros_like(params["Wax"])
    dWaa = np.zeros_like(params["Waa"])
    dba = np.zeros_like(params["ba"])
    da_prev = np.zeros((n_a, m), dtype=da.dtype)
    for t in reversed(range(T)):
        step = rnn_cell_backward(da[:, :, t] + da_prev, caches[t], params)
        dx[:, :, t] = step["dxt"]
        da_prev = step["da_prev"]
        dWax += step["dWax"]
        dWaa += step["dWaa"]
        dba += step["dba"]
    return {"dx": dx, "da0": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


class RNNCache(NamedTuple):
    a: np.ndarray  # (n_a, m, T)
    steps: list[CellCache]
    m: int
    z_shape: tuple[int, ...]


class ElmanRNN(ScratchModel):
    """A one-layer tanh RNN with a linear output layer, many-to-one or many-to-many.

    Args:
        n_x: input features per step.
        n_a: hidden units.
        n_y: output units (1 for a sigmoid output).
        many_to_many: logits at every step (n_y, m, T); else at the last step only (n_y, m).
        output: softmax or sigmoid.
        init: random (randn * scale, the course's) or xavier (randn / sqrt(fan_in)).
        rng: the generator the weights are drawn from.
        scale: the standard deviation of ``init="random"``.
        lambd: the L2 penalty's strength on Wax, Waa and Wya (0 for none).
        dtype: float64 (the default) or float32.
    """

    def __init__(
        self,
        n_x: int,
        n_a: int,
        n_y: int,
        *,
        many_to_many: bool = False,
        output: str = "softmax",
        init: str = "random",
        rng: Rng,
        scale: float = 0.01,
        lambd: float = 0.0,
        dtype: Any = np.float64,
    ) -> None:
        self.n_x = check_positive_int("n_x", n_x)
        self.n_a = check_positive_int("n_a", n_a)
        self.n_y = check_positive_int("n_y", n_y)
        if not isinstance(many_to_many, bool):
            raise ConfigError(f"many_to_many={many_to_many!r}: expected True or False")
        self.many_to_many = many_to_many
        self.output = check_output(output, n_y)
        check_choice("init", init, INITS)
        rng = check_rng(rng, why="the weights are drawn at random; ")
        scale = check_scale(scale)
        self.lambd = check_lambd(lambd)
        dt = check_dtype(dtype)

        def draw(rows: int, cols: int) -> np.ndarray:
            factor = scale if init == "random" else 1.0 / np.sqrt(cols)
            return np.ascontiguousarray(rng.standard_normal((rows, cols)) * factor, dtype=dt)

        Wax, Waa, Wya = draw(n_a, n_x), draw(n_a, n_a), draw(n_y, n_a)
        self.params = {
            "Wax": Wax,  # (n_a, n_x)
            "Waa": Waa,  # (n_a, n_a)
            "ba": np.zeros((n_a, 1), dtype=dt),
            "Wya": Wya,  # (n_y, n_a)
            "by": np.zeros((n_y, 1), dtype=dt),
        }
        self.weight_names = ("Wax", "Waa", "Wya")

    def forward(
        self, X: np.ndarray, *, train: bool = False, rng: Rng | None = None
    ) -> tuple[np.ndarray, RNNCache]:
        """x (n_x, m, T) -> logits (n_y, m) (many-to-one) or (n_y, m, T) (many-to-many).

        ``train`` and ``rng`` are unused (no dropout).
        """
        x = check_array("x", X, (self.n_x, None, None), f"(n_x={self.n_x}, m, T)", self.dtype)
        m = x.shape[1]
        a, steps = rnn_forward(x, np.zeros((self.n_a, m), dtype=self.dtype), self.params)
        Wya, by = self.params["Wya"], self.params["by"]
        if self.many_to_many:
            Z = np.einsum("ya,amt->ymt", Wya, a) + by[:, :, None]  # (n_y, m, T)
        else:
            Z = Wya @ a[:, :, -1] + by  # (n_y, m)
        return Z, RNNCache(a, steps, m, Z.shape)

    def _backward(self, dZ: np.ndarray, cache: RNNCache) -> dict[str, np.ndarray]:
        a, Wya = cache.a, self.params["Wya"]
        da = np.zeros_like(a)  # (n_a, m, T)
        if self.many_to_many:
            dWya = np.einsum("ymt,amt->ya", dZ, a)
            dby = np.sum(dZ, axis=(1, 2))[:, None]
            da[:] = np.einsum("ya,ymt->amt", Wya, dZ)
        else:
            dWya = dZ @ a[:, :, -1].T
            dby = np.sum(dZ, axis=1, keepdims=True)
            da[:, :, -1] = Wya.T @ dZ
        g = rnn_backward(da, cache.steps, self.params)
        return {"Wax": g["dWax"], "Waa": g["dWaa"], "ba": g["dba"], "Wya": dWya, "by": dby}
