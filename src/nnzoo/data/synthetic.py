r"""Long-lag tasks drawn from a seed: the answer sits at the start, the question at the end.

``first-symbol`` (remember the first symbol). Each sequence has T = ``length`` steps of
F = n + 1 features, n = ``symbols``:

.. math::
    s_1, \dots, s_T \sim \mathcal{U}\{0, \dots, n-1\}, \qquad
    x_t = [\,\mathrm{onehot}_n(s_t),\ [t = 1]\,], \qquad y = s_1

Step 1 carries the symbol to remember and a start marker; steps 2..T carry distractors from
the same alphabet. The label depends on step 1 alone, so a classifier that reads its last
state must carry one symbol across T - 1 steps; chance is 1/n.

``adding`` (the adding problem of Hochreiter and Schmidhuber 1997 as a two-class task). Each
step has F = 2 features, a value and a marker:

.. math::
    v_t \sim \mathcal{U}(0, 1), \qquad m_t = [t = a] + [t = b], \qquad
    y = [\,v_a + v_b > 1\,]

with a drawn from the first half of the sequence and b from the second (as in Le, Jaitly and
Hinton 2015). The regression target v_a + v_b is cast as "is the sum above 1?", its median, so
the two classes are balanced and chance is 1/2.

Both datasets need no files: ``source`` is ignored. Options: ``length`` (T >= 2),
``train_size``, ``val_size``, ``test_size`` (sequences per split, each >= 1), ``seed``, and
``symbols`` (n >= 2) for ``first-symbol``. Every split is drawn from its own random stream,
derived from (task, seed, split), so the same seed gives the same data on every machine and the
test sequences never repeat the training stream. Sequences are drawn row by row, so a larger
split starts with the sequences of a smaller one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnzoo.data.base import DataSplits, SequenceSet
from nnzoo.data.registry import DATASETS, GENERATED
from nnzoo.errors import ConfigError

SPLITS = ("train", "val", "test")
TASK_IDS = {"first-symbol": 1, "adding": 2}  # keeps the streams of the two tasks apart

GENERATED.update(TASK_IDS)


def check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"data.options.{name}={value!r}: expected an integer >= {low}")
    return value


def generated_splits(
    task: str,
    seed: int,
    sizes: dict[str, int],
    draw: Callable[[np.random.Generator, int], Any],
    class_names: list[str],
    info: dict[str, Any],
) -> DataSplits:
    """Draw each split with ``draw(stream, size)`` from its own stream (sizes checked first)."""
    for split, size in sizes.items():
        check_int(f"{split}_size", size, 1)
    sets = {split: draw(stream(task, seed, split), size) for split, size in sizes.items()}
    info = {"source": f"generated (seed {seed})", **info}
    return DataSplits(task, sets["train"], sets["val"], sets["test"], class_names, info)


def stream(task: str, seed: int, split: str) -> np.random.Generator:
    """The random stream of one split: independent of every other (task, seed, split)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected an integer >= 0")
    return np.random.default_rng([TASK_IDS[task], seed, SPLITS.index(split)])


def first_symbol_set(rng: np.random.Generator, size: int, length: int, symbols: int) -> SequenceSet:
    s = rng.integers(0, symbols, size=(size, length))  # (N, T)
    x = np.zeros((size, length, symbols + 1), dtype=np.float32)  # (N, T, F)
    np.put_along_axis(x, s[:, :, None], 1.0, axis=2)
    x[:, 0, symbols] = 1.0  # the start marker
    return SequenceSet(torch.from_numpy(x), torch.from_numpy(s[:, 0].astype(np.int64)))


@DATASETS.register("first-symbol")
def load_first_symbol(
    source: Path | None = None,
    *,
    seed: int = 0,
    length: int = 50,
    symbols: int = 4,
    train_size: int = 1000,
    val_size: int = 200,
    test_size: int = 1000,
) -> DataSplits:
    """Remember the first of ``length`` one-hot symbols; see the module docstring."""
    check_int("length", length, 2)
    check_int("symbols", symbols, 2)
    return generated_splits(
        "first-symbol",
        seed,
        {"train": train_size, "val": val_size, "test": test_size},
        lambda rng, size: first_symbol_set(rng, size, length, symbols),
        [f"symbol {i}" for i in range(symbols)],
        {
            "layout": (
                f"T = {length} steps of F = {symbols + 1}: a one-hot symbol of {symbols} and a "
                "start marker; the label is the symbol at step 1"
            ),
            "chance": 1 / symbols,
        },
    )


def adding_set(rng: np.random.Generator, size: int, length: int) -> SequenceSet:
    half = length // 2
    u = rng.random((size, length + 2))  # one row per sequence: a larger set extends a smaller
    v = u[:, :length]  # (N, T)
    a = (u[:, length] * half).astype(np.int64)  # (N,) first marked step, first half
    b = half + (u[:, length + 1] * (length - half)).astype(np.int64)  # (N,) second half
    rows = np.arange(size)
    m = np.zeros((size, length))
    m[rows, a] = 1.0
    m[rows, b] = 1.0
    x = np.stack([v, m], axis=-1).astype(np.float32)  # (N, T, 2)
    y = (v[rows, a] + v[rows, b] > 1.0).astype(np.int64)
    return SequenceSet(torch.from_numpy(x), torch.from_numpy(y))


@DATASETS.register("adding")
def load_adding(
    source: Path | None = None,
    *,
    seed: int = 0,
    length: int = 50,
    train_size: int = 1000,
    val_size: int = 200,
    test_size: int = 1000,
) -> DataSplits:
    """Is the sum of the two marked values above 1? See the module docstring."""
    check_int("length", length, 2)
    return generated_splits(
        "adding",
        seed,
        {"train": train_size, "val": val_size, "test": test_size},
        lambda rng, size: adding_set(rng, size, length),
        ["sum <= 1", "sum > 1"],
        {
            "layout": (
                f"T = {length} steps of F = 2: a value in [0, 1) and a marker on one step of "
                "each half; the label is whether the two marked values sum to more than 1"
            ),
            "chance": 0.5,
        },
    )
