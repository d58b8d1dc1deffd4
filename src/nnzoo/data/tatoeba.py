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

The registered dataset ``tatoeba`` (`read_tatoeba`; its folder under the data root is
``spa-eng-tatoeba``, holding ``spa-eng.zip``) turns the pairs into `TokenPairs` for the
``seq2seq`` task: ``direction`` (``"es-en"`` or ``"en-es"``) picks the source side, pairs with
more than ``max_words`` words on either side are dropped, the first ``limit`` are kept,
`split_pairs` groups them by the SOURCE sentence, and two `Vocabulary`\ s (source, target) are
built from the TRAIN split alone (`nnzoo.data.text`: ``<pad> <unk> <bos> <eos>`` = 0..3, then
tokens seen ``min_freq`` times or more), so validation and test words the training split never
had are ``<unk>``. Targets end with ``<eos>``. The dataset's ``class_names`` are the TARGET
vocabulary's tokens (what the task decodes into) and its ``vocabulary`` the source one; the
original sentences ride on every part as ``TokenPairs.texts`` (the references of BLEU). The
reader draws validation itself, so its split policy is ``given``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from nnzoo.data.base import DataError, DataParts, check_int
from nnzoo.data.files import FRESH, FileTree
from nnzoo.data.registry import DATASETS, DEFAULTS, FOLDERS, DatasetDefaults
from nnzoo.data.sentences import read_utf8_lines, utf8_lines
from nnzoo.data.splits import split_groups
from nnzoo.data.text import LEVELS, Vocabulary, encode_batch, tokenize
from nnzoo.data.tokens import TokenPairs
from nnzoo.errors import ConfigError

MEMBER = "spa-eng/spa.txt"
ZIP = "spa-eng.zip"
SIDES = {"en": 0, "es": 1}
LANGUAGES = {"en": "English", "es": "Spanish"}
DIRECTIONS = ("es-en", "en-es")
EDGES = " \r"  # stripped from both ends of a field

FOLDERS["tatoeba"] = "spa-eng-tatoeba"  # <data root>/spa-eng-tatoeba/spa-eng.zip
DEFAULTS["tatoeba"] = DatasetDefaults("given")  # the reader draws val and test itself

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
        for candidate in (path / "spa.txt", path / MEMBER, path / ZIP):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise DataError(
                f"{path / 'spa.txt'}: missing; give spa-eng.zip itself, a folder holding it, or "
                "the folder extracted from it"
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
    where = split_groups(keys, val_fraction=f_val, test_fraction=f_test, seed=seed)  # (N,)
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


# -- the registered dataset ---------------------------------------------------------------------


_short_pairs = max_words  # read_tatoeba's option of the same name hides the function


def _sentences(pairs: list[Pair], side: int) -> list[str]:
    return [pair[side] for pair in pairs]


def encode_pairs(
    pairs: list[Pair], vocabularies: tuple[Vocabulary, Vocabulary], src_side: int,
    max_length: int | None,
) -> TokenPairs:  # fmt: skip
    """``pairs`` as `TokenPairs`: source ids, target ids ending with ``<eos>``, and the
    sentences themselves (``texts``).

    Args:
        pairs: (English, Spanish) pairs.
        vocabularies: (source, target).
        src_side: 0 (English is the source) or 1 (Spanish).
        max_length: the most ids of a sentence (the target's ``<eos>`` included); None: no cut.
    """
    src_vocab, tgt_vocab = vocabularies
    src, src_lengths = encode_batch(
        _sentences(pairs, src_side), src_vocab, max_length=max_length
    )  # (N, S), (N,)
    tgt, tgt_lengths = encode_batch(
        _sentences(pairs, 1 - src_side), tgt_vocab, max_length=max_length, eos=True
    )  # (N, T), (N,)
    out = TokenPairs(src, src_lengths, tgt, tgt_lengths)
    out.texts = (_sentences(pairs, src_side), _sentences(pairs, 1 - src_side))
    return out


@DATASETS.register("tatoeba")
def read_tatoeba(
    source: Path,
    *,
    direction: str = "es-en",
    max_words: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    level: str = "word",
    lower: bool = True,
    min_freq: int = 2,
    max_size: int = 0,
    max_length: int = 0,
    limit: int = 0,
) -> DataParts:
    """Tatoeba's English-Spanish pairs as source / target token ids (see the module docstring).

    Args:
        source: ``spa-eng.zip``, a folder holding it (default ``<data root>/spa-eng-tatoeba``),
            the folder extracted from it, or ``spa.txt``.
        direction: ``"es-en"`` (Spanish to English) or ``"en-es"``.
        max_words: keep the pairs whose BOTH sentences have at most this many words (counted
            by `count_words`); 0: no limit.
        val_fraction: the share of the pairs held out for validation (seeded, grouped).
        test_fraction: the share held out for test.
        seed: the order of the source-sentence groups (``data.split_seed``).
        level: ``"word"`` or ``"char"`` tokens (`nnzoo.data.text.tokenize`).
        lower: case-fold before tokenizing.
        min_freq: a training token seen fewer times is ``<unk>``.
        max_size: the most tokens in each vocabulary, specials included; 0: no limit.
        max_length: the most ids of a sentence, longer ones cut (the target keeps its
            ``<eos>``); 0: no cut.
        limit: use only the first ``limit`` pairs left by ``max_words`` (the file is sorted by
            English length, so these are the shortest), for quick runs; 0: all.

    Returns:
        DataParts whose train / val / test are `TokenPairs`, whose ``vocabulary`` is the source
        `Vocabulary` and whose ``class_names`` are the target vocabulary's tokens.
    """
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"data.options.direction={direction!r}: expected one of {', '.join(DIRECTIONS)}"
        )
    if level not in LEVELS:
        raise ConfigError(f"data.options.level={level!r}: expected one of {', '.join(LEVELS)}")
    if not isinstance(lower, bool):
        raise ConfigError(f"data.options.lower={lower!r}: expected true or false")
    for name, value, low in (
        ("max_words", max_words, 0), ("min_freq", min_freq, 1), ("max_size", max_size, 0),
        ("max_length", max_length, 0), ("limit", limit, 0),
    ):  # fmt: skip
        check_int(name, value, low)
    if 0 < max_size < 5:
        raise ConfigError(
            f"data.options.max_size={max_size}: expected 0 (no limit) or at least 5 (the four "
            "specials and a token)"
        )
    if 0 < max_length < 2:
        raise ConfigError(
            f"data.options.max_length={max_length}: expected 0 (no cut) or at least 2 (a token "
            "and the target's <eos>)"
        )
    src_code, tgt_code = direction.split("-")
    src_side = SIDES[src_code]
    path = Path(source).expanduser()
    every = read_pairs(path)
    pairs = _short_pairs(every, max_words, side="both") if max_words else every
    if limit:
        pairs = pairs[:limit]
    if not pairs:
        raise ConfigError(
            f"data.options.max_words={max_words}: no pair of {path} has both sentences that "
            "short; raise it, or set it to 0 (no limit)"
        )
    train, val, test = split_pairs(
        pairs, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        source=src_code,
    )  # fmt: skip
    vocabularies = tuple(
        Vocabulary.build(
            (tokenize(s, level=level, lower=lower) for s in _sentences(train, side)),
            min_freq=min_freq, max_size=max_size or None, level=level, lower=lower,
        )
        for side in (src_side, 1 - src_side)
    )  # fmt: skip
    cut = max_length or None
    parts = [encode_pairs(part, vocabularies, src_side, cut) for part in (train, val, test)]
    src_vocab, tgt_vocab = vocabularies
    kept = f"{len(pairs)} of {len(every)} pairs"
    if max_words:
        kept += f" (both sentences at most {max_words} words)"
    if limit:
        kept += f", the first {limit}"
    grouped = f"grouped by {LANGUAGES[src_code]} sentence, seed {seed}"
    info = {
        "source": str(path),
        "layout": (
            f"{LANGUAGES[src_code]} -> {LANGUAGES[tgt_code]} ({direction}); {level} tokens"
            f"{', case-folded' if lower else ''}; target ends with <eos>; ids 0-3 <pad> <unk> "
            f"<bos> <eos>{f'; sentences cut to {max_length} ids' if max_length else ''}"
        ),
        "pairs": kept,
        "test": f"a {test_fraction:g} share of the pairs, {grouped}: {len(test)} pairs",
        "validation": f"a {val_fraction:g} share, {grouped}: {len(val)} pairs",
        "train": f"{len(train)} pairs (no source sentence in two splits)",
        "vocabulary": (
            f"from the train split only (min_freq {min_freq}"
            f"{f', max_size {max_size}' if max_size else ''}): source {len(src_vocab)} tokens, "
            f"target {len(tgt_vocab)} tokens"
        ),
    }
    return DataParts(
        "tatoeba", parts[0], parts[2], list(tgt_vocab.tokens), info, val=parts[1], rows="pairs",
        vocabulary=src_vocab,
    )  # fmt: skip
