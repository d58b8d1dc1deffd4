r"""Text to token ids: a tokenizer, a `Vocabulary` saved as JSON, and padded batches of ids.

Shape legend: N sentences, T time steps (token ids of the longest encoded sentence).

`tokenize` first brings the text to Unicode NFC, so a composed "é" (U+00E9) and a decomposed
"e" + U+0301 give the same tokens, then (``lower=True``) case-folds it (``str.casefold``: "ß"
becomes "ss"). At ``level="word"`` it cuts the text with one regular expression:

.. math::

    \text{token} = w^{+}(\,['’]\,w^{+})^{*} \;\mid\; \text{one character that is neither } w
    \text{ nor a space}

where w is a Unicode word character (a letter of any script, a digit, "_", or a combining
accent that NFC could not compose). So accented letters stay inside their word, a number is one
token, every punctuation mark is a token of its own (Spanish "¿" and "¡" included), and an
apostrophe between letters stays inside the word: "don't" is one token, not "do" + "n't"; an
apostrophe at either end of a word is a token of its own. ``level="char"`` gives every
character, spaces included.

>>> tokenize("¿Dónde está la biblioteca?")
['¿', 'dónde', 'está', 'la', 'biblioteca', '?']
>>> tokenize("I don't have 25 euros!", lower=False)
['I', "don't", 'have', '25', 'euros', '!']
>>> tokenize("Sí, ¡ya!", level="char")
['s', 'í', ',', ' ', '¡', 'y', 'a', '!']

A `Vocabulary` maps tokens to ids: the specials first (``PAD`` = 0 ``<pad>``, ``UNK`` = 1
``<unk>``, ``BOS`` = 2 ``<bos>``, ``EOS`` = 3 ``<eos>``), then the tokens by descending count,
ties broken alphabetically, so the same sentences always give the same ids. It records the
``level`` and ``lower`` its tokens were made with and is saved as JSON::

    {"format": "nnzoo-vocabulary-1", "level": "word", "lower": true,
     "tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "la", ...]}

`encode_batch` tokenizes and encodes N texts into (N, T) int64 ids padded with ``PAD`` and their
(N,) lengths. A text longer than ``max_length`` ids is cut to its first ``max_length`` ids, with
``<eos>`` kept as the last id when ``eos=True`` (the words after the cut are lost). A text with
no tokens (and no ``<bos>`` / ``<eos>``) would be a sequence of length 0, which the recurrent
scan cannot read: it becomes one ``<unk>`` of length 1, or, with ``allow_empty=False``, a
`DataError` naming the text.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from nnzoo.data.base import DataError
from nnzoo.errors import ConfigError
from nnzoo.io import read_json, write_atomic

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
LEVELS = ("word", "char")
FORMAT = "nnzoo-vocabulary-1"

_W = r"[\w\u0300-\u036f]"  # a word character, or a combining accent NFC left apart
_WORD = re.compile(rf"{_W}+(?:['’]{_W}+)*|[^\w\s]")


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise ConfigError(f"level={level!r}: expected one of {', '.join(LEVELS)}")
    return level


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def tokenize(text: str, *, level: str = "word", lower: bool = True) -> list[str]:
    """Cut ``text`` into tokens (see the module docstring for the rules).

    Args:
        text: the text; it is brought to Unicode NFC first.
        level: ``"word"`` (words, numbers and punctuation marks) or ``"char"`` (every
            character, spaces included).
        lower: case-fold the text before cutting it.

    Returns:
        The tokens, in order.
    """
    _check_level(level)
    if not isinstance(text, str):
        raise ConfigError(f"tokenize: expected a text (str), got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
    if lower:
        text = unicodedata.normalize("NFC", text.casefold())
    if level == "char":
        return list(text)
    return _WORD.findall(text)


class Vocabulary:
    """Tokens and their ids: the specials (``PAD UNK BOS EOS`` = 0..3), then the other tokens.

    Args:
        tokens: every token in id order; it starts with the four specials and holds no token
            twice.
        level: the `tokenize` level the tokens were made with.
        lower: whether they were case-folded.
    """

    def __init__(self, tokens: Sequence[str], *, level: str = "word", lower: bool = True):
        self.tokens = list(tokens)
        self.level = _check_level(level)
        self.lower = bool(lower)
        problem = _token_problem(self.tokens)
        if problem:
            raise ConfigError(f"Vocabulary: {problem}")
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
        level: str = "word",
        lower: bool = True,
    ) -> Vocabulary:
        """Count the tokens of ``token_lists`` and keep the frequent ones.

        Args:
            token_lists: tokenized sentences (what `tokenize` returns, one list per sentence).
            min_freq: keep tokens seen at least this many times.
            max_size: the most tokens in the vocabulary, specials included (None: no limit);
                the least frequent are dropped first.
            specials: the special tokens; they start with ``<pad> <unk> <bos> <eos>`` and may
                go on with tokens of your own (ids 4, 5, ...).
            level: the `tokenize` level of ``token_lists``, recorded for `encode_batch`.
            lower: whether they were case-folded, recorded likewise.

        Returns:
            The vocabulary: specials, then tokens by descending count, ties alphabetical.
        """
        if tuple(specials[: len(SPECIALS)]) != SPECIALS:
            raise ConfigError(
                f"specials={tuple(specials)!r}: expected them to start with {SPECIALS!r}"
            )
        if not _is_int(min_freq, 1):
            raise ConfigError(f"min_freq={min_freq!r}: expected an integer >= 1")
        if max_size is not None and not _is_int(max_size, len(specials)):
            raise ConfigError(
                f"max_size={max_size!r}: expected None or an integer >= {len(specials)} "
                "(the specials count)"
            )
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise ConfigError(
                    "Vocabulary.build: expected lists of tokens, got a text; tokenize it first"
                )
            counts.update(tokens)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in specials),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls([*specials, *kept], level=level, lower=lower)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self.tokens, self.level, self.lower) == (other.tokens, other.level, other.lower)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, level={self.level!r}, lower={self.lower})"

    def id(self, token: str) -> int:
        """The id of ``token``; ``UNK`` when it is not in the vocabulary."""
        return self._ids.get(token, UNK)

    def token(self, id: int) -> str:
        """The token of id ``id``."""
        if isinstance(id, bool) or not 0 <= int(id) < len(self.tokens):
            raise ConfigError(f"token id {id!r}: expected an id in 0..{len(self.tokens) - 1}")
        return self.tokens[int(id)]

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """The ids of ``tokens`` (unknown tokens give ``UNK``), after ``BOS`` and before
        ``EOS`` when asked."""
        ids = [self._ids.get(t, UNK) for t in tokens]
        return [BOS] * bos + ids + [EOS] * eos

    def decode(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """The tokens of ``ids`` (ints or a 1-D tensor).

        Args:
            ids: token ids.
            strip_specials: leave out ``<pad>``, ``<bos>`` and ``<eos>``; ``<unk>`` (and any
                special of your own) stays, since it stands for a token that was there.
        """
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        tokens = [self.token(i) for i in ids]
        if not strip_specials:
            return tokens
        return [t for i, t in zip(ids, tokens, strict=True) if int(i) not in (PAD, BOS, EOS)]

    def as_dict(self) -> dict[str, object]:
        """The JSON value `save` writes (a run's checkpoint keeps it too)."""
        return {"format": FORMAT, "level": self.level, "lower": self.lower, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, value: object, *, where: str, hint: str) -> Vocabulary:
        """The vocabulary `as_dict` gave; anything else is a one-line `DataError` that names
        ``where`` it came from and ends with ``hint``."""
        if not isinstance(value, dict):
            raise DataError(f"{where}: not a vocabulary (a {type(value).__name__}); {hint}")
        missing = [k for k in ("format", "level", "lower", "tokens") if k not in value]
        if missing:
            raise DataError(f"{where}: no {', '.join(missing)} key; {hint}")
        if value["format"] != FORMAT:
            raise DataError(f"{where}: format is {value['format']!r}, not {FORMAT!r}; {hint}")
        if value["level"] not in LEVELS:
            raise DataError(
                f"{where}: level is {value['level']!r}, expected one of {', '.join(LEVELS)}; {hint}"
            )
        if not isinstance(value["lower"], bool):
            raise DataError(f"{where}: lower is {value['lower']!r}, expected true or false; {hint}")
        problem = _token_problem(value["tokens"])
        if problem:
            raise DataError(f"{where}: {problem}; {hint}")
        return cls(value["tokens"], level=value["level"], lower=value["lower"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary to ``path`` as JSON, atomically; return the path."""
        return write_atomic(path, json.dumps(self.as_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by `save`; a bad file is a one-line `DataError`."""
        hint = "build the vocabulary again and save it with Vocabulary.save"
        value = read_json(path, DataError, hint=hint, kind=dict)
        return cls.from_dict(value, where=str(path), hint=hint)


def _token_problem(tokens: object) -> str:
    """What is wrong with a vocabulary's token list, or "" when nothing is."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return "tokens is not a list of strings"
    if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
        return f"tokens do not start with the specials {' '.join(SPECIALS)}"
    seen: set[str] = set()
    for t in tokens:
        if t in seen:
            return f"token {t!r} appears more than once"
        seen.add(t)
    return ""


def encode_batch(
    texts: Sequence[str],
    vocab: Vocabulary,
    *,
    level: str | None = None,
    lower: bool | None = None,
    max_length: int | None = None,
    bos: bool = False,
    eos: bool = False,
    allow_empty: bool = True,
) -> tuple[Tensor, Tensor]:
    """Tokenize and encode ``texts`` into padded ids.

    Args:
        texts: N texts.
        vocab: the vocabulary.
        level: the `tokenize` level; None: the vocabulary's.
        lower: case-fold first; None: as the vocabulary was built.
        max_length: the most ids per text, ``<bos>`` / ``<eos>`` included; longer texts are cut
            to their first ids, ``<eos>`` kept last (None: no limit).
        bos: start every text with ``<bos>``.
        eos: end every text with ``<eos>``.
        allow_empty: a text of no ids becomes one ``<unk>`` (True) or a `DataError` (False).

    Returns:
        ids: (N, T) int64, padded with ``PAD``; T is the longest length (0 when N is 0).
        lengths: (N,) int64, each >= 1.
    """
    if isinstance(texts, str):
        raise ConfigError("encode_batch: expected a list of texts, got one text; wrap it in [ ]")
    level = vocab.level if level is None else level
    lower = vocab.lower if lower is None else lower
    if max_length is not None and not _is_int(max_length, 1 + bos + eos):
        raise ConfigError(
            f"max_length={max_length!r}: expected None or an integer >= {1 + bos + eos}"
        )
    rows = []
    for i, text in enumerate(texts):
        tokens = tokenize(text, level=level, lower=lower)
        if max_length is not None:
            tokens = tokens[: max_length - bos - eos]
        ids = vocab.encode(tokens, bos=bos, eos=eos)
        if not ids:
            if not allow_empty:
                raise DataError(f"text {i} ({text!r}) has no tokens; remove it or give it words")
            ids = [UNK]
        rows.append(ids)
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # (N,)
    ids = torch.full((len(rows), max(map(len, rows), default=0)), PAD, dtype=torch.long)  # (N, T)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return ids, lengths
