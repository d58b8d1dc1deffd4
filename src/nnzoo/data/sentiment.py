r"""Sentiment of sentences as token ids: the UCI Sentiment Labelled Sentences and GLUE SST-2.

Shape legend: N sentences, T token ids of the longest sentence of a part.

Both readers return `DataParts` of `SequenceSet`\ s whose ``x`` is (N, T) int64 token ids
(``PAD`` = 0 after each sentence's length, `nnzoo.data.text`), labels 0 (negative) / 1
(positive), and the input `Vocabulary` built from the TRAINING rows alone (validation and test
words it has not seen read as ``<unk>``): tokens seen at least ``min_freq`` times, at most
``max_size`` of them. A sentence longer than ``max_length`` ids keeps its first ``max_length``.
A sequence model over them takes ``embedding`` > 0 (`nnzoo.models.sequence_classifier`).

Each reader draws its validation rows itself, before the vocabulary is counted, so that no
validation sentence shapes the vocabulary; its split policy is ``given``:

``uci-sentiment`` (``<data root>/sentiment-labelled-sentences``): one domain, ``source`` =
amazon, imdb or yelp, 1000 sentences (500 / 500), which publish no split. The rows are dealt
into ``folds`` stratified folds (seed ``fold_seed``, `nnzoo.data.splits.stratified_folds`);
fold ``fold`` is the test part, so that k runs with ``fold`` = 0..k-1 are a stratified k-fold
cross-validation; ``val_fraction`` of the other folds' rows validates, each class in proportion
(seed ``data.split_seed``).

``sst2`` (``<data root>/sst2-glue``): GLUE's ``train.tsv`` (67,349 phrases and sentences of
the treebank) and ``dev.tsv`` (872 sentences), the test part, since GLUE's test labels are not
public; ``val_size`` training rows of each class in proportion validate. Many training rows are
phrases of other training rows, so a validation row's words have mostly been seen in training:
the validation accuracy runs above the dev accuracy, but still ranks epochs and models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnzoo.data.base import DataParts, SequenceSet, check_int
from nnzoo.data.registry import DATASETS, DEFAULTS, FOLDERS, DatasetDefaults
from nnzoo.data.sentences import UCI_FILES, read_sst2, read_uci_sentiment
from nnzoo.data.splits import check_fraction, stratified_folds
from nnzoo.data.text import UNK, Vocabulary, encode_batch, tokenize
from nnzoo.errors import ConfigError

CLASS_NAMES = ["negative", "positive"]
MAX_LENGTH = 128
SST2_VAL_SIZE = 872  # as many validation rows as dev has

FOLDERS["uci-sentiment"] = "sentiment-labelled-sentences"
FOLDERS["sst2"] = "sst2-glue"
for _name in ("uci-sentiment", "sst2"):
    DEFAULTS[_name] = DatasetDefaults("given")


def text_parts(
    name: str,
    texts: dict[str, list[str]],
    labels: dict[str, np.ndarray],
    info: dict[str, Any],
    *,
    level: str,
    lower: bool,
    min_freq: int,
    max_size: int,
    max_length: int,
) -> DataParts:
    """train / val / test texts -> `DataParts` of token ids with the train part's vocabulary.

    Args:
        name: the dataset's registry name.
        texts, labels: ``{"train", "val", "test"}`` -> the texts and their (N,) labels.
        info: provenance; the vocabulary and the parts' lengths are added.
        level, lower: `tokenize`'s.
        min_freq, max_size: `Vocabulary.build`'s (``max_size`` 0: no limit).
        max_length: the most ids of a sentence; longer ones keep their first ones.
    """
    check_int("min_freq", min_freq, 1)
    check_int("max_size", max_size, 0)
    check_int("max_length", max_length, 1)
    tokens = [tokenize(t, level=level, lower=lower) for t in texts["train"]]
    vocab = Vocabulary.build(
        tokens, min_freq=min_freq, max_size=max_size or None, level=level, lower=lower
    )
    sets = {}
    summary = {}
    for part in ("train", "val", "test"):
        ids, lengths = encode_batch(texts[part], vocab, max_length=max_length)
        y = torch.as_tensor(labels[part], dtype=torch.int64)
        sets[part] = SequenceSet(ids, y, lengths)
        full = [len(tokenize(t, level=level, lower=lower)) for t in texts[part]]
        real = ids[ids != 0]
        summary[part] = {
            "rows": len(y),
            "mean_tokens": round(float(np.mean(full)), 2) if full else 0.0,
            "cut": int(sum(n > max_length for n in full)),
            "unknown": round(float((real == UNK).double().mean()), 4) if len(real) else 0.0,
        }
    info = {
        **info,
        "vocabulary": (
            f"{len(vocab)} {level} tokens of the training part (min_freq {min_freq}"
            + (f", max_size {max_size}" if max_size else "")
            + f", lower {str(lower).lower()}), max_length {max_length}"
        ),
        "parts": ", ".join(
            f"{p} {s['rows']} ({s['mean_tokens']:g} tokens, {100 * s['unknown']:.1f}% <unk>, "
            f"{s['cut']} cut)"
            for p, s in summary.items()
        ),
        "max_length": max_length,
    }
    return DataParts(
        name, sets["train"], sets["test"], list(CLASS_NAMES), info, val=sets["val"],
        vocabulary=vocab,
    )  # fmt: skip


def _val_rows(y: np.ndarray, count: int, seed: int) -> np.ndarray:
    """(N,) bool: ``count`` seeded rows, each class's share of them in proportion to its rows,
    shares rounded by largest remainder so that they add up to ``count``."""
    classes, sizes = np.unique(y, return_counts=True)
    exact = count * sizes / len(y)
    take = np.floor(exact).astype(int)
    order = np.argsort(-(exact - take), kind="stable")
    take[order[: count - int(take.sum())]] += 1
    gen = torch.Generator().manual_seed(seed)
    is_val = np.zeros(len(y), dtype=bool)
    for label, n in zip(classes, take):
        rows = np.flatnonzero(y == label)
        is_val[rows[torch.randperm(len(rows), generator=gen)[:n].numpy()]] = True
    return is_val


@DATASETS.register("uci-sentiment")
def read_uci_sentiment_parts(
    source: Path,
    *,
    domain: str = "yelp",
    folds: int = 10,
    fold: int = 0,
    fold_seed: int = 0,
    val_fraction: float = 0.1,
    level: str = "word",
    lower: bool = True,
    min_freq: int = 1,
    max_size: int = 0,
    max_length: int = MAX_LENGTH,
    seed: int = 0,
) -> DataParts:
    """One domain of the UCI Sentiment Labelled Sentences; fold ``fold`` of ``folds`` tests.

    Args:
        source: the folder of the three ``*_labelled.txt`` files.
        domain: amazon, imdb or yelp.
        folds: the stratified folds; fold ``fold`` (0..folds-1) is the test part.
        fold_seed: deals the rows into folds (fixed across a cross-validation).
        val_fraction: share of each class of the other folds that validates (``seed``).
        level, lower, min_freq, max_size, max_length: the vocabulary and encoding
            (`text_parts`).
        seed: draws the validation rows (``data.split_seed``).
    """
    if domain not in UCI_FILES:
        raise ConfigError(f"data.options.domain={domain!r}: expected one of {', '.join(UCI_FILES)}")
    check_int("folds", folds, 2)
    check_int("fold_seed", fold_seed, 0)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(f"data.options.fold={fold!r}: expected an integer in 0..{folds - 1}")
    check_fraction(val_fraction, source="uci-sentiment")
    texts, y = read_uci_sentiment(source, domain)
    fold_of = stratified_folds(torch.as_tensor(y), folds, fold_seed).numpy()
    rest = np.flatnonzero(fold_of != fold)
    is_val = _val_rows(y[rest], round(val_fraction * len(rest)), seed)
    index = {
        "train": rest[~is_val],
        "val": rest[is_val],
        "test": np.flatnonzero(fold_of == fold),
    }
    info = {
        "source": str(Path(source) / UCI_FILES[domain]),
        "test part": (
            f"fold {fold} of {folds} stratified folds (seed {fold_seed}); a stratified "
            f"{val_fraction:g} of the other folds validates (seed {seed})"
        ),
    }
    return text_parts(
        "uci-sentiment",
        {k: [texts[i] for i in v] for k, v in index.items()},
        {k: y[v] for k, v in index.items()},
        info, level=level, lower=lower, min_freq=min_freq, max_size=max_size,
        max_length=max_length,
    )  # fmt: skip


@DATASETS.register("sst2")
def read_sst2_parts(
    source: Path,
    *,
    val_size: int = SST2_VAL_SIZE,
    level: str = "word",
    lower: bool = True,
    min_freq: int = 1,
    max_size: int = 0,
    max_length: int = MAX_LENGTH,
    seed: int = 0,
) -> DataParts:
    """GLUE SST-2: train.tsv (less ``val_size`` validation rows) and dev.tsv as the test part.

    Args:
        source: the folder of GLUE's ``train.tsv`` and ``dev.tsv``.
        val_size: training rows that validate, stratified (``seed``).
        level, lower, min_freq, max_size, max_length: as `read_uci_sentiment_parts`'.
        seed: draws the validation rows (``data.split_seed``).
    """
    parts = read_sst2(source)
    texts, y = parts["train"]
    check_int("val_size", val_size, 1)
    if val_size >= len(y):
        raise ConfigError(
            f"data.options.val_size={val_size}: expected fewer than the {len(y)} training rows"
        )
    is_val = _val_rows(y, val_size, seed)
    info = {
        "source": str(Path(source)),
        "test part": (
            f"GLUE's dev.tsv ({len(parts['dev'][1])} sentences); {int(is_val.sum())} stratified "
            f"training rows validate (seed {seed})"
        ),
    }
    return text_parts(
        "sst2",
        {
            "train": [t for t, v in zip(texts, is_val) if not v],
            "val": [t for t, v in zip(texts, is_val) if v],
            "test": parts["dev"][0],
        },
        {"train": y[~is_val], "val": y[is_val], "test": parts["dev"][1]},
        info, level=level, lower=lower, min_freq=min_freq, max_size=max_size,
        max_length=max_length,
    )  # fmt: skip
