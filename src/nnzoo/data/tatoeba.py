r"""English-Spanish sentence pairs of Tatoeba (ManyThings ``spa-eng``; no tokenization here).

Shape legend: N pairs, G distinct source sentences (G <= N).

`read_pairs` reads the ORIGINAL ``spa-eng.zip`` of the TensorFlow / Keras translation tutorials
(its member ``spa-eng/spa.txt`` read in memory, nothing extracted), the extracted folder, or
``spa.txt`` itself. Each line is ``English<TAB>Spanish``; later ManyThings exports add a third
column (attribution), which is dropped. The 2018-05-13 file has N = 118,964 pairs and
G = 102,904 distinct English sentences: a sentence with several translations is repeated.

`split_pairs` holds out validation and test pairs grouped by the source sentence, so that no
source sentence (and so no pair) is in two splits, and a model is never tested on a sentence it
was trained to translate another way. With the G groups in a seeded random order
:math:`\pi`, test takes whole groups until it holds at least
:math:`n_\text{test} = \operatorname{round}(f_\text{test} N)` pairs, validation the next ones
until :math:`n_\text{val} = \operatorname{round}(f_\text{val} N)`, train the rest:

.. math::
    n_\text{test} \le |\text{test}| < n_\text{test} + m, \qquad
    n_\text{val} \le |\text{val}| < n_\text{val} + m

with :math:`m` the largest number of pairs of one source sentence (a target of 0 stays empty).
Each split keeps the file's order (``spa.txt`` is sorted by English length); shuffling for
batches is the loader's job. `max_words` keeps the short pairs, as the tutorials do.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.data.base import DataError
from nnzoo.data.files import FRESH, FileTree
from nnzoo.data.sentences import read_utf8_lines, utf8_lines
from nnzoo.errors import ConfigError

MEMBER = "spa-eng/spa.txt"
SIDES = {"en": 0, "es": 1}
EDGES = " \r"  # stripped from both ends of a field

Pair = tuple[str, str]


def _zip_lines(path: Path) -> tuple[str, list[str]]:
    """The lines of ``spa-eng/spa.txt`` (or ``spa.txt`` at the top) inside the zip ``path``."""
    tree = FileTree(path)
    name = MEMBER if tree.exists(MEMBER) or not tree.exists("spa.txt") else "spa.txt"
    where = tree.describe(name)
    raw = tree.read_bytes(name)  # DataError naming the member when it is missing or corrupt
    return where, utf8_lines(raw, where=where)


def read_pairs(path: Path) -> list[Pair]:
    """Every (English, Spanish) pair of ``spa.txt``, in file order.

    Args:
        path: ``spa-eng.zip``, a folder holding ``spa.txt`` or ``spa-eng/spa.txt``, or the
            ``spa.txt`` file itself.

    Returns:
        N pairs of strings, the spaces and carriage returns at either end of each removed.

    Raises:
        DataError: a missing file, a broken zip, bytes that are not UTF-8, an empty file, or a
            line that is not ``English<TAB>Spanish[<TAB>attribution]`` with both non-empty.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        for candidate in (path / "spa.txt", path / MEMBER):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise DataError(
                f"{path / 'spa.txt'}: missing; give spa-eng.zip itself or the folder extracted "
                "from it"
            )
    if not path.is_file():
        raise DataError(
            f"{path}: missing; give spa-eng.zip, the folder extracted from it or spa.txt"
        )
    if zipfile.is_zipfile(path):
        where, lines = _zip_lines(path)
    elif path.suffix == ".zip":
        raise DataError(f"{path}: not a readable zip archive; {FRESH} of spa-eng.zip")
    else:
        where, lines = str(path), read_utf8_lines(path, what="spa.txt (or spa-eng.zip)")
    pairs: list[Pair] = []
    for i, line in enumerate(lines, 1):
        if not line.strip(EDGES + "\t"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise DataError(
                f"{where}: line {i} has {len(fields)} tab-separated fields; expected "
                f"English<TAB>Spanish (and optionally an attribution): fix that line or {FRESH}"
            )
        english, spanish = fields[0].strip(EDGES), fields[1].strip(EDGES)
        if not english or not spanish:
            side = "English" if not english else "Spanish"
            raise DataError(
                f"{where}: line {i}: the {side} sentence is empty; fix that line or {FRESH}"
            )
        pairs.append((english, spanish))
    return pairs


def _side(source: str) -> int:
    if source not in SIDES:
        raise ConfigError(f"source={source!r}: expected 'en' (English) or 'es' (Spanish)")
    return SIDES[source]


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name}={value!r}: expected a number in [0, 1), e.g. {name}=0.15")
    return float(value)


def split_pairs(
    pairs: list[Pair],
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    source: str = "en",
) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """Seeded train / val / test split in which all pairs of one source sentence stay together.

    Args:
        pairs: N (English, Spanish) pairs, e.g. from `read_pairs`.
        val_fraction: the share of the N pairs to hold out for validation, in [0, 1).
        test_fraction: the share to hold out for test, in [0, 1); the two sum to less than 1.
        seed: the seed of the order of the groups; the same seed gives the same split.
        source: the side whose sentence defines a group, ``"en"`` or ``"es"``.

    Returns:
        train, val, test: lists of pairs, each in the order of ``pairs``. The sizes are the
        fractions of N, rounded, up to one group's size more (see the module docstring).
    """
    side = _side(source)
    f_val, f_test = (
        _fraction("val_fraction", val_fraction),
        _fraction("test_fraction", test_fraction),
    )
    if f_val + f_test >= 1:
        raise ConfigError(
            f"val_fraction={val_fraction!r} + test_fraction={test_fraction!r} leave no training "
            "pair; make their sum less than 1"
        )
    n = len(pairs)
    if n == 0:
        raise ConfigError("pairs is empty; give the pairs read_pairs returns")
    keys = [pair[side] for pair in pairs]
    _, group, counts = np.unique(keys, return_inverse=True, return_counts=True)  # (N,), (G,)
    order = np.random.default_rng(seed).permutation(len(counts))  # (G,)
    filled = np.cumsum(counts[order])  # (G,) pairs in the first g groups of the order
    n_test, n_val = round(f_test * n), round(f_val * n)
    # g_test = the fewest groups holding >= n_test pairs; then validation up to n_test + n_val
    g_test = int(np.searchsorted(filled, n_test, side="left")) + 1 if n_test else 0
    held = int(filled[g_test - 1]) if g_test else 0
    g_val = int(np.searchsorted(filled, held + n_val, side="left")) + 1 if n_val else g_test
    split_of = np.zeros(len(counts), dtype=np.int64)  # (G,) 0 train, 1 val, 2 test
    split_of[order[:g_test]] = 2
    split_of[order[g_test:g_val]] = 1
    where = split_of[group]  # (N,)
    parts: list[list[Pair]] = [[], [], []]
    for pair, k in zip(pairs, where.tolist(), strict=True):
        parts[k].append(pair)
    if not parts[0]:
        raise ConfigError(
            f"val_fraction={val_fraction!r}, test_fraction={test_fraction!r}: no training pair "
            f"is left of {n}; lower them"
        )
    return parts[0], parts[1], parts[2]


def count_words(sentence: str) -> int:
    """The words of a sentence, as ``str.split`` finds them (punctuation stays on its word)."""
    return len(sentence.split())


def max_words(pairs: list[Pair], n: int, *, side: str = "en") -> list[Pair]:
    """The pairs whose sentence on ``side`` has at most ``n`` words, in their order.

    Words are counted by `count_words` (whitespace-separated, so ``"Go."`` is one word).

    Args:
        pairs: (English, Spanish) pairs.
        n: the most words to keep, at least 1.
        side: ``"en"``, ``"es"``, or ``"both"`` (both sentences at most ``n`` words).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n={n!r}: expected a whole number of words >= 1, e.g. 10")
    if side == "both":
        return [p for p in pairs if count_words(p[0]) <= n and count_words(p[1]) <= n]
    k = _side(side)
    return [p for p in pairs if count_words(p[k]) <= n]
