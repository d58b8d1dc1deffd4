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
``train_size``, ``val_size``, ``test_size`` (sequences per part, each >= 1), ``seed``, and
``symbols`` (n >= 2) for ``first-symbol``. Every part is drawn from its own random stream,
derived from (task, seed, part), so the same seed gives the same data on every machine and the
test sequences never repeat the training stream. Sequences are drawn row by row, so a larger
part starts with the sequences of a smaller one. The validation part drawn here is what the
default split policy, ``given``, keeps; another policy (``data.split``) splits the union of the
training and validation parts instead (`nnzoo.data.splits`).

`generated` registers such a dataset: each states only its own options and how to draw a part;
the seed, the three sizes and the streams are common. So is a bound on memory: a recipe says how
many values one row holds at most (steps x features), and the three parts together may hold at
most `MAX_VALUES`; ``train_size = 1000000000000`` is refused before anything is drawn.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from nnzoo.data.base import DataParts, SequenceSet, check_int
from nnzoo.data.registry import DATASETS, DEFAULTS, GENERATED, DatasetDefaults
from nnzoo.errors import ConfigError

PARTS = ("train", "val", "test")
# The most values (rows x steps x features) the three parts of a generated dataset may hold
# together: 4 GB as float32.
MAX_VALUES = 1_000_000_000
TASK_IDS: dict[str, int] = {}  # keeps the streams of the tasks apart; set by `generated`


class Recipe(NamedTuple):
    """How to draw one generated dataset, once its options are checked.

    Attributes:
        draw: ``draw(stream, size)`` -> one part of ``size`` rows.
        class_names: ``class_names()`` -> one name per class (the vocabulary for token
            data); called once the size is checked, since a huge alphabet is a huge list.
        info: the layout and the like, after ``source``.
        row_values: the most values one row holds (steps x features), for the memory bound.
        row_options: ``{option: value}`` of the options that set ``row_values``.
    """

    draw: Callable[[np.random.Generator, int], Any]
    class_names: Callable[[], list[str]]
    info: dict[str, Any]
    row_values: int
    row_options: dict[str, int]


def generated(
    name: str, task_id: int, *, train_size: int = 1000, val_size: int = 200, test_size: int = 200
) -> Callable[[Callable[..., Recipe]], Callable[..., DataParts]]:
    """Register dataset ``name``, drawn from a seed by the decorated function's `Recipe`.

    The decorated function takes the dataset's own keyword options and checks them; the reader
    registered in its place also takes ``source`` (ignored), ``seed`` and the three sizes (the
    defaults given here), and draws each part from its own stream (see `stream`).

    Args:
        name: the registry name.
        task_id: keeps the dataset's streams apart from every other's; never reuse one.
        train_size, val_size, test_size: the default sizes of the three parts.
    """
    sizes = {"train_size": train_size, "val_size": val_size, "test_size": test_size}

    def register(recipe: Callable[..., Recipe]) -> Callable[..., DataParts]:
        def reader(source: Path | None = None, *, seed: int = 0, **options: Any) -> DataParts:
            size = {part: options.pop(f"{part}_size", sizes[f"{part}_size"]) for part in PARTS}
            for part, n in size.items():
                check_int(f"{part}_size", n, 1)
            made = recipe(**options)
            check_values(name, size, made)
            sets = {part: made.draw(stream(name, seed, part), n) for part, n in size.items()}
            info = {"source": f"generated (seed {seed})", **made.info}
            return DataParts(
                name, sets["train"], sets["test"], made.class_names(), info, sets["val"]
            )

        common = inspect.signature(reader).parameters
        own = inspect.signature(recipe).parameters.values()
        keyword = inspect.Parameter.KEYWORD_ONLY
        size_options = [inspect.Parameter(k, keyword, default=v) for k, v in sizes.items()]
        reader.__signature__ = inspect.Signature(
            [common["source"], common["seed"], *own, *size_options]
        )
        reader.__name__, reader.__qualname__ = recipe.__name__, recipe.__qualname__
        reader.__doc__ = recipe.__doc__
        TASK_IDS[name] = task_id
        GENERATED.add(name)
        DEFAULTS[name] = DatasetDefaults("given")
        return DATASETS.register(name)(reader)

    return register


def check_values(name: str, size: dict[str, int], made: Recipe) -> None:
    """Refuse to draw parts of ``size`` rows that would hold more than `MAX_VALUES` values."""
    rows = sum(size.values())
    total = rows * made.row_values
    if total <= MAX_VALUES:
        return
    options = {**{f"{part}_size": n for part, n in size.items()}, **made.row_options}
    lower = [f"data.options.{k} (now {v})" for k, v in options.items()]
    raise ConfigError(
        f"data {name}: {rows:,} rows x {made.row_values:,} values each = {total:,} values, "
        f"above the limit of {MAX_VALUES:,}; lower {', '.join(lower[:-1])} or {lower[-1]}"
    )


def stream(task: str, seed: int, part: str) -> np.random.Generator:
    """The random stream of one part: independent of every other (task, seed, part)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected an integer >= 0")
    return np.random.default_rng([TASK_IDS[task], seed, PARTS.index(part)])


def first_symbol_set(rng: np.random.Generator, size: int, length: int, symbols: int) -> SequenceSet:
    s = rng.integers(0, symbols, size=(size, length))  # (N, T)
    x = np.zeros((size, length, symbols + 1), dtype=np.float32)  # (N, T, F)
    np.put_along_axis(x, s[:, :, None], 1.0, axis=2)
    x[:, 0, symbols] = 1.0  # the start marker
    return SequenceSet(torch.from_numpy(x), torch.from_numpy(s[:, 0].astype(np.int64)))


@generated("first-symbol", 1, test_size=1000)
def load_first_symbol(*, length: int = 50, symbols: int = 4) -> Recipe:
    """Remember the first of ``length`` one-hot symbols; see the module docstring."""
    check_int("length", length, 2)
    check_int("symbols", symbols, 2)
    return Recipe(
        lambda rng, size: first_symbol_set(rng, size, length, symbols),
        lambda: [f"symbol {i}" for i in range(symbols)],
        {
            "layout": (
                f"T = {length} steps of F = {symbols + 1}: a one-hot symbol of {symbols} and a "
                "start marker; the label is the symbol at step 1"
            ),
            "chance": 1 / symbols,
        },
        length * (symbols + 1),
        {"length": length, "symbols": symbols},
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


@generated("adding", 2, test_size=1000)
def load_adding(*, length: int = 50) -> Recipe:
    """Is the sum of the two marked values above 1? See the module docstring."""
    check_int("length", length, 2)
    return Recipe(
        lambda rng, size: adding_set(rng, size, length),
        lambda: ["sum <= 1", "sum > 1"],
        {
            "layout": (
                f"T = {length} steps of F = 2: a value in [0, 1) and a marker on one step of "
                "each half; the label is whether the two marked values sum to more than 1"
            ),
            "chance": 0.5,
        },
        length * 2,
        {"length": length},
    )
