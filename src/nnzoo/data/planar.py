r"""Two-class points in the plane drawn from a seed: ``moons``, ``circles`` and ``flower``.

Shape legend: N points, F = 2 coordinates (one step, T = 1).

The data of deeplearning.ai's planar, initialisation and regularisation studies, whose own files
are not distributed: the formulas are those of scikit-learn's ``make_moons`` / ``make_circles``
and of the course's ``load_planar_dataset``. With n points, n_0 = n // 2 are of class 0 and
n_1 = n - n_0 of class 1; :math:`\varepsilon \sim \mathcal{N}(0, \sigma^2 I)` with
:math:`\sigma` = ``noise``.

``moons`` (two interleaved half circles, ``make_moons``):

.. math::
    \theta_0 = \mathrm{linspace}(0, \pi, n_0): \; (\cos\theta_0, \sin\theta_0), \qquad
    \theta_1 = \mathrm{linspace}(0, \pi, n_1): \; (1 - \cos\theta_1, \tfrac12 - \sin\theta_1)

``circles`` (two concentric circles, ``make_circles``; the course's initialisation study used
``make_circles(noise=.05)``), f = ``factor``:

.. math::
    \theta_k = \mathrm{linspace}(0, 2\pi, n_k, \text{endpoint=False}): \quad
    (\cos\theta_0, \sin\theta_0), \qquad f\,(\cos\theta_1, \sin\theta_1)

both then shuffled and moved by :math:`\varepsilon`. ``flower`` (the course's planar data),
a = ``radius``, class j = 0, 1, with :math:`\eta, \eta' \sim \mathcal{N}(0, \sigma^2)` per point:

.. math::
    t = \mathrm{linspace}(3.12\,j,\ 3.12\,(j + 1),\ n_j) + \eta, \qquad
    r = a \sin(4t) + \eta', \qquad x = (r \sin t,\ r \cos t)

`moons_points`, `circles_points` and `flower_points` take the random stream: a
``np.random.RandomState`` gives exactly scikit-learn's points (``make_moons(n, noise=s,
random_state=rng)``) and `load_planar_dataset` the course's (``np.random.seed(1)``, 400
points). The registered datasets draw each part from its own stream (`nnzoo.data.synthetic`):
x (N, 1, 2) float32, one step of two coordinates, so that ``mlp`` reads ``input_shape`` (1, 2);
they are not standardised, and the default split policy, ``given``, keeps the validation part
drawn with them. Options: ``noise``, ``factor`` (circles), ``radius`` (flower), the three
sizes and ``seed``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from nnzoo.data.base import SequenceSet
from nnzoo.data.synthetic import Recipe, generated
from nnzoo.errors import ConfigError

Stream = Any  # np.random.Generator or np.random.RandomState: shuffle, normal, standard_normal


def check_number(name: str, value: Any, low: float, high: float = math.inf) -> float:
    """``data.options.<name>``: a finite number in [low, high)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value < high
    ):
        bound = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g})"
        raise ConfigError(f"data.options.{name}={value!r}: expected a number {bound}")
    return float(value)


def shuffled_with_noise(
    x: np.ndarray, y: np.ndarray, rng: Stream, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rows in a random order, then Gaussian noise, drawn as scikit-learn draws them."""
    index = np.arange(len(x))
    rng.shuffle(index)
    x, y = x[index], y[index]
    return x + rng.normal(scale=noise, size=x.shape), y


def moons_points(rng: Stream, n: int, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles: x (n, 2) float64, y (n,) int64; see the module docstring."""
    n0, n1 = n // 2, n - n // 2
    theta0, theta1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    x = np.concatenate(
        [
            np.stack([np.cos(theta0), np.sin(theta0)], 1),  # (n0, 2), the upper moon
            np.stack([1 - np.cos(theta1), 1 - np.sin(theta1) - 0.5], 1),  # (n1, 2)
        ]
    )
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    return shuffled_with_noise(x, y, rng, noise)


def circles_points(
    rng: Stream, n: int, noise: float = 0.05, factor: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, radii 1 and ``factor``: x (n, 2) float64, y (n,) int64."""
    n0, n1 = n // 2, n - n // 2
    theta0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    theta1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    x = np.concatenate(
        [
            np.stack([np.cos(theta0), np.sin(theta0)], 1),  # (n0, 2), the outer circle
            np.stack([np.cos(theta1) * factor, np.sin(theta1) * factor], 1),  # (n1, 2)
        ]
    )
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n1, dtype=np.int64)])
    return shuffled_with_noise(x, y, rng, noise)


def flower_points(
    rng: Stream, n: int, noise: float = 0.2, radius: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """The course's flower, class 0 then class 1 (not shuffled): x (n, 2), y (n,) int64."""
    x, y = [], []
    for j, size in enumerate((n // 2, n - n // 2)):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, size) + rng.standard_normal(size) * noise
        r = radius * np.sin(4 * t) + rng.standard_normal(size) * noise
        x.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))  # (n_j, 2)
        y.append(np.full(size, j, dtype=np.int64))
    return np.concatenate(x), np.concatenate(y)


def load_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The course's ``load_planar_dataset()``: X (2, 400) float64, Y (1, 400) uint8.

    Drawn as the course draws it, from ``np.random.seed(1)`` (a ``RandomState(1)`` of its own
    here, so numpy's global stream is left alone): 200 points of class 0, then 200 of class 1.
    """
    x, y = flower_points(np.random.RandomState(1), 400, noise=0.2, radius=4.0)
    return x.T, y[None, :].astype(np.uint8)


def as_set(x: np.ndarray, y: np.ndarray) -> SequenceSet:
    """(N, 2) points -> x (N, 1, 2) float32: one step of two coordinates."""
    return SequenceSet(torch.from_numpy(x.astype(np.float32)).unsqueeze(1), torch.from_numpy(y))


def recipe(draw, class_names: list[str], layout: str) -> Recipe:
    return Recipe(
        lambda rng, size: as_set(*draw(rng, size)),
        lambda: class_names,
        {"layout": f"T = 1 step of F = 2 coordinates; {layout}", "chance": 0.5},
        2,
        {},
    )


@generated("moons", 5, train_size=300, val_size=100, test_size=100)
def load_moons(*, noise: float = 0.2) -> Recipe:
    """Two interleaved half circles with Gaussian noise; see the module docstring."""
    noise = check_number("noise", noise, 0.0)
    return recipe(
        lambda rng, size: moons_points(rng, size, noise),
        ["upper moon", "lower moon"],
        f"scikit-learn's make_moons, noise {noise:g}",
    )


@generated("circles", 6, train_size=300, val_size=100, test_size=100)
def load_circles(*, noise: float = 0.05, factor: float = 0.8) -> Recipe:
    """Two concentric circles, radii 1 and ``factor``, with Gaussian noise."""
    noise = check_number("noise", noise, 0.0)
    factor = check_number("factor", factor, 0.0, 1.0)
    return recipe(
        lambda rng, size: circles_points(rng, size, noise, factor),
        ["outer circle", "inner circle"],
        f"scikit-learn's make_circles, noise {noise:g}, factor {factor:g}",
    )


def shuffled_flower(rng: Stream, size: int, noise: float, radius: float):
    x, y = flower_points(rng, size, noise, radius)
    index = np.arange(size)
    rng.shuffle(index)
    return x[index], y[index]


@generated("flower", 7, train_size=400, val_size=100, test_size=100)
def load_flower(*, noise: float = 0.2, radius: float = 4.0) -> Recipe:
    """The course's planar flower, rows shuffled; see the module docstring."""
    noise = check_number("noise", noise, 0.0)
    radius = check_number("radius", radius, 0.0)
    return recipe(
        lambda rng, size: shuffled_flower(rng, size, noise, radius),
        ["red", "blue"],  # the course's colours: 0 red, 1 blue
        f"the course's load_planar_dataset formula, radius {radius:g}, noise {noise:g}",
    )
