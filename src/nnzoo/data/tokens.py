r"""Token data for the ``seq2seq`` and ``next-step`` tasks, and two toy problems drawn from a seed.

`TokenPairs` holds source / target token sequences (translation-shaped data); `StepSequences`
holds sequences whose next element is predicted: token ids (categorical) or multi-hot vectors
(several notes at once). Both are padded, carry their lengths and are torch ``Dataset``\ s.

Toys (no files; ``nnzoo data list`` shows them as generated; registered with
`nnzoo.data.synthetic.generated`, so each draws a validation part of its own that the default
split policy ``given`` keeps):

``copy-reverse`` (seq2seq): a source of L ~ U{``min_length``..``max_length``} symbols drawn
from ``symbols`` letters; the target is the same symbols (``direction = "copy"``) or reversed
(``"reverse"``), then ``<eos>``. Vocabulary: the specials of `nnzoo.data.text` (``<pad> <unk>
<bos> <eos>`` = 0..3, the one id convention of every token dataset) and the letters, for both
sides.

``cycles`` (next-step): ``kind = "categorical"``: x_t = (s + k t) mod V with s ~ U{0..V-1},
k ~ U{1, 2}, so every element after the second is determined by the first two.
``kind = "multi-hot"``: a triad per step on ``symbols`` = 12 pitch classes, its root moving by
a fourth each step, r_t = (r_0 + 5t) mod 12, notes {r_t, r_t + 4, r_t + 7} mod 12: every step
after the first is determined. Lengths are drawn from ``min_length``..``max_length``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.base import DataError, check_int
from nnzoo.data.synthetic import Recipe, generated
from nnzoo.data.text import BOS as BOS  # re-exported with UNK: every token dataset's ids
from nnzoo.data.text import EOS, PAD, SPECIALS
from nnzoo.data.text import UNK as UNK
from nnzoo.errors import ConfigError


def _check_rows(n: int, **tensors: Tensor | None) -> None:
    for name, value in tensors.items():
        if value is not None and value.shape[0] != n:
            raise DataError(f"{name} has {value.shape[0]} rows but expected {n}")


@dataclass
class TokenPairs:
    """N (source, target) token sequences, padded with ``PAD``.

    Attributes:
        src: (N, S) int64 source token ids.
        src_lengths: (N,) int64.
        tgt: (N, T) int64 target token ids, each ending with ``EOS`` (``<bos>`` is not stored:
            the task prepends it for teacher forcing).
        tgt_lengths: (N,) int64, ``EOS`` included.
        texts: ``(sources, targets)``, the N original sentences of text data (the references
            BLEU scores against), or None.

    ``texts`` is an optional attribute, not a dataclass field: a split policy that rebuilds the
    rows field by field (``random`` on a dataset that draws its own validation part) keeps the
    ids and drops it. The vocabularies are the dataset's: ``DataParts.vocabulary`` (source; the
    toys have none) and ``class_names`` (target, or both sides of a toy).
    """

    src: Tensor
    src_lengths: Tensor
    tgt: Tensor
    tgt_lengths: Tensor
    texts = None  # (sources, targets) lists of N sentences, or None

    def __post_init__(self) -> None:
        _check_rows(
            len(self), src_lengths=self.src_lengths, tgt=self.tgt, tgt_lengths=self.tgt_lengths
        )

    def __len__(self) -> int:
        return self.src.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.src[i, : self.src_lengths[i]], self.tgt[i, : self.tgt_lengths[i]]

    def subset(self, index: Tensor) -> TokenPairs:
        out = TokenPairs(
            self.src[index], self.src_lengths[index], self.tgt[index], self.tgt_lengths[index]
        )
        if self.texts is not None:
            rows = torch.arange(len(self))[index].tolist()  # int or bool index alike
            out.texts = tuple([side[i] for i in rows] for side in self.texts)
        return out


@dataclass
class StepSequences:
    """N sequences for next-step prediction.

    Attributes:
        x: (N, T) int64 token ids (categorical) or (N, T, K) float32 multi-hot steps; zero
            past each sequence's length.
        lengths: (N,) int64, each >= 2 (one input and one target at least).
    """

    x: Tensor
    lengths: Tensor

    def __post_init__(self) -> None:
        _check_rows(len(self), lengths=self.lengths)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> Tensor:
        return self.x[i, : self.lengths[i]]

    def subset(self, index: Tensor) -> StepSequences:
        return StepSequences(self.x[index], self.lengths[index])

    @property
    def categorical(self) -> bool:
        return self.x.dim() == 2


def pad(rows: list[np.ndarray], value: int = PAD) -> tuple[Tensor, Tensor]:
    """Variable-length int rows -> (N, max length) padded with ``value``, and (N,) lengths."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.full((len(rows), int(lengths.max(initial=1))), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return torch.from_numpy(out), torch.from_numpy(lengths)


def check_lengths(min_length: int, max_length: int, low: int) -> None:
    check_int("min_length", min_length, low)
    check_int("max_length", max_length, low)
    if min_length > max_length:
        raise ConfigError(
            f"data.options.min_length={min_length} > max_length={max_length}: expected "
            "min_length <= max_length"
        )


# -- copy-reverse ---------------------------------------------------------------------------


def copy_reverse_set(rng, size: int, symbols: int, lengths: tuple[int, int], direction: str):
    src_rows, tgt_rows = [], []
    for _ in range(size):
        n = int(rng.integers(lengths[0], lengths[1] + 1))
        s = rng.integers(0, symbols, size=n) + len(SPECIALS)
        src_rows.append(s)
        tgt_rows.append(np.append(s if direction == "copy" else s[::-1], EOS))
    src, src_lengths = pad(src_rows)
    tgt, tgt_lengths = pad(tgt_rows)
    return TokenPairs(src, src_lengths, tgt, tgt_lengths)


@generated("copy-reverse", 3, train_size=2000)
def load_copy_reverse(
    *, direction: str = "reverse", symbols: int = 8, min_length: int = 1, max_length: int = 8
) -> Recipe:
    """Copy or reverse a string of symbols; see the module docstring."""
    if direction not in ("copy", "reverse"):
        raise ConfigError(f"data.options.direction={direction!r}: expected copy or reverse")
    check_int("symbols", symbols, 2)
    check_lengths(min_length, max_length, 1)

    def vocab() -> list[str]:
        return [*SPECIALS, *(chr(ord("a") + i) if i < 26 else f"s{i}" for i in range(symbols))]

    return Recipe(
        lambda rng, size: copy_reverse_set(rng, size, symbols, (min_length, max_length), direction),
        vocab,
        {
            "layout": (
                f"{direction} {min_length}-{max_length} symbols of {symbols}; target ends with "
                "<eos>; one vocabulary for source and target (ids 0-3 <pad> <unk> <bos> <eos>)"
            ),
        },
        2 * max_length + 1,  # the source, and the target with its <eos>
        {"max_length": max_length},
    )


# -- cycles ---------------------------------------------------------------------------------


def cycles_set(rng, size: int, kind: str, symbols: int, lengths: tuple[int, int]):
    n = rng.integers(lengths[0], lengths[1] + 1, size=size)  # (N,)
    T = int(n.max())
    t = np.arange(T)
    if kind == "categorical":
        start = rng.integers(0, symbols, size=size)
        step = rng.integers(1, 3, size=size)
        x = (start[:, None] + step[:, None] * t[None, :]) % symbols  # (N, T)
        x = np.where(t[None, :] < n[:, None], x, 0)
        return StepSequences(torch.from_numpy(x.astype(np.int64)), torch.from_numpy(n))
    root = (rng.integers(0, symbols, size=size)[:, None] + 5 * t[None, :]) % symbols  # (N, T)
    x = np.zeros((size, T, symbols), dtype=np.float32)
    for interval in (0, 4, 7):
        np.put_along_axis(x, ((root + interval) % symbols)[:, :, None], 1.0, axis=2)
    x *= (t[None, :] < n[:, None])[:, :, None]
    return StepSequences(torch.from_numpy(x), torch.from_numpy(n))


@generated("cycles", 4)
def load_cycles(
    *, kind: str = "categorical", symbols: int = 12, min_length: int = 8, max_length: int = 16
) -> Recipe:
    """Cyclic sequences whose next element is predictable; see the module docstring."""
    if kind not in ("categorical", "multi-hot"):
        raise ConfigError(f"data.options.kind={kind!r}: expected categorical or multi-hot")
    check_int("symbols", symbols, 8 if kind == "multi-hot" else 2)
    check_lengths(min_length, max_length, 2)
    return Recipe(
        lambda rng, size: cycles_set(rng, size, kind, symbols, (min_length, max_length)),
        lambda: [str(i) for i in range(symbols)],
        {"layout": f"{kind} sequences of {min_length}-{max_length} steps over {symbols} symbols"},
        max_length * (symbols if kind == "multi-hot" else 1),
        {"max_length": max_length, **({"symbols": symbols} if kind == "multi-hot" else {})},
    )
