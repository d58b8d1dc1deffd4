"""Gradient checking by centred differences, as the course's ``gradient_check_n``.

For every entry theta_i of every parameter:

    g_approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
    difference = ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)

with J = ``model.cost`` (the loss and the L2 penalty) and g = ``model.gradients``, both vectors
over all parameters. In float64 with eps = 1e-7 a correct backward gives about 1e-9; the course
calls anything above 1e-7 suspicious and above 1e-3 a bug.

Dropout makes J random; with ``seed`` the check draws the masks from a fresh
``np.random.default_rng(seed)`` at every evaluation, so each J(theta +- eps e_i) and the gradient
use the same masks and J is a smooth function of theta.
"""

from __future__ import annotations

import numpy as np

from nnzoo.scratch.base import ScratchModel


def gradient_check(
    model: ScratchModel,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    eps: float = 1e-7,
    seed: int | None = None,
) -> float:
    """The relative difference between ``model.gradients`` and centred differences.

    Args:
        model: any `ScratchModel`; its parameters are perturbed one entry at a time and each
            entry is restored to its exact value afterwards.
        X, Y: a (small) batch.
        eps: the step of the differences.
        seed: None to evaluate with ``train=False``; an integer to evaluate with
            ``train=True`` and the same dropout masks every time.
    """
    train = seed is not None

    def rng():
        return np.random.default_rng(seed) if train else None

    _, grads = model.gradients(X, Y, train=train, rng=rng())
    g, g_approx = [], []
    for name, p in model.params.items():
        flat = p.reshape(-1)  # a view: p is C-contiguous
        approx = np.empty(p.size)
        for i in range(p.size):
            old = flat[i]
            flat[i] = old + eps
            plus = model.cost(X, Y, train=train, rng=rng())
            flat[i] = old - eps
            minus = model.cost(X, Y, train=train, rng=rng())
            flat[i] = old
            approx[i] = (plus - minus) / (2 * eps)
        g.append(grads[name].reshape(-1))
        g_approx.append(approx)
    g, g_approx = np.concatenate(g), np.concatenate(g_approx)
    denominator = np.linalg.norm(g) + np.linalg.norm(g_approx)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(g - g_approx) / denominator)
