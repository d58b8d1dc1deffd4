"""The sentiment readers on tiny folders written as the originals are: stratified folds that
partition the rows, validation drawn from the other folds, a vocabulary of the training
sentences alone, and SST-2's dev file as the test part, unchanged."""

import random
from collections import Counter
from pathlib import Path

import pytest
import torch

from nnzoo.data import DATASETS
from nnzoo.data.sentences import UCI_FILES
from nnzoo.data.splits import prepare
from nnzoo.data.text import PAD, SPECIALS, UNK, tokenize
from nnzoo.errors import ConfigError

POSITIVE = ["great", "good", "lovely", "excellent", "tasty", "friendly"]
NEGATIVE = ["bad", "awful", "slow", "rude", "cold", "bland"]
NOUNS = ["food", "phone", "movie", "service", "battery", "place", "staff"]
ROWS = 40  # per domain, 20 of each label
FOLDS = 4


def sentences(name: str, n: int = ROWS) -> list[tuple[str, int]]:
    """``n`` balanced labelled sentences, each unique: "<adjective> <noun> and <noun> #<i>!" with
    i in binary (lower case and the digits 0 / 1, so that every character is common)."""
    r = random.Random(name)
    rows = []
    for i in range(n):
        y = i % 2
        adjective = r.choice(POSITIVE if y else NEGATIVE)
        rows.append((f"{adjective} {r.choice(NOUNS)} and {r.choice(NOUNS)} #{i:06b}!", y))
    return rows


def write_uci(folder: Path, n: int = ROWS) -> Path:
    """The three ``*_labelled.txt`` files: "sentence<TAB>label", no header; like the IMDb file,
    every sentence ends with spaces before the tab."""
    folder.mkdir(parents=True, exist_ok=True)
    for domain, name in UCI_FILES.items():
        text = "".join(f"{s}  \t{y}\n" for s, y in sentences(domain, n))
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_sst2(folder: Path, train: int = 24, dev: int = 8) -> Path:
    """GLUE's ``train.tsv`` and ``dev.tsv``: header ``sentence<TAB>label``, a space before the
    tab."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", train), ("dev.tsv", dev)):
        rows = sentences(name, n)
        text = "sentence\tlabel\n" + "".join(f"{s} \t{y}\n" for s, y in rows)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def file_rows(path: Path, header: bool = False) -> list[tuple[str, int]]:
    """(sentence, label) of every line, split here by hand: the text before the last tab
    without its edge spaces, the label after it."""
    lines = path.read_text(encoding="utf-8").split("\n")[1 if header else 0 :]
    rows = []
    for line in lines:
        if line:
            sentence, label = line.rsplit("\t", 1)
            rows.append((sentence.strip(" \t\r"), int(label)))
    return rows


def decoded(part, vocab) -> list[tuple[str, int]]:
    """(text, label) of every row of a character-level part: its ids back to characters."""
    rows = []
    for ids, n, y in zip(part.x, part.lengths, part.y):
        assert not (ids[n:] != PAD).any()  # padded with <pad> after each length
        rows.append(("".join(vocab.decode(ids[:n])), int(y)))
    return rows


@pytest.fixture(scope="module")
def uci(tmp_path_factory):
    return write_uci(tmp_path_factory.mktemp("uci") / "sentiment-labelled-sentences")


def uci_parts(folder, **options):
    return DATASETS.create("uci-sentiment", folder, **{"domain": "amazon", **options})


def char_parts(folder, fold, **options):
    """Case kept and characters as tokens: every character of these sentences is in every
    training part, so a row decodes to its sentence exactly."""
    return uci_parts(folder, folds=FOLDS, fold=fold, level="char", lower=False, **options)


def test_test_folds_partition_the_file_and_are_stratified(uci):
    want = file_rows(uci / UCI_FILES["amazon"])
    assert len(set(want)) == ROWS  # every sentence differs
    tested = []
    for fold in range(FOLDS):
        parts = char_parts(uci, fold)
        rows = decoded(parts.test, parts.vocabulary)
        assert Counter(y for _, y in rows) == {0: ROWS // FOLDS // 2, 1: ROWS // FOLDS // 2}
        tested += rows
    assert Counter(tested) == Counter(want)  # each sentence (with its label) exactly once


def test_validation_comes_from_the_other_folds_and_train_val_test_cover_the_file(uci):
    want = Counter(file_rows(uci / UCI_FILES["amazon"]))
    for fold in range(FOLDS):
        parts = char_parts(uci, fold, val_fraction=0.2)
        train, val, test = (
            decoded(p, parts.vocabulary) for p in (parts.train, parts.val, parts.test)
        )
        assert not set(val) & set(test) and not set(train) & set(test)
        assert not set(train) & set(val)
        assert Counter(train + val + test) == want
        # the other folds hold 15 of each class; a fifth of each validates
        assert Counter(y for _, y in val) == {0: 3, 1: 3}
        assert parts.class_names == ["negative", "positive"]


def test_the_fold_seed_deals_other_folds(uci):
    a = {t for t, _ in decoded(char_parts(uci, 0).test, char_parts(uci, 0).vocabulary)}
    other = char_parts(uci, 0, fold_seed=1)
    b = {t for t, _ in decoded(other.test, other.vocabulary)}
    assert a != b and len(a) == len(b) == ROWS // FOLDS


@pytest.mark.parametrize("min_freq", [1, 2])
def test_the_vocabulary_holds_the_training_tokens_alone(uci, min_freq):
    chars = char_parts(uci, 1)
    train_texts = [t for t, _ in decoded(chars.train, chars.vocabulary)]
    test_texts = [t for t, _ in decoded(chars.test, chars.vocabulary)]
    # the same rows at word level, lower-cased (the split does not depend on the level)
    words = uci_parts(uci, folds=FOLDS, fold=1, min_freq=min_freq)
    vocab = words.vocabulary
    counts = Counter(t for text in train_texts for t in tokenize(text.lower(), lower=False))
    kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
    assert vocab.tokens == [*SPECIALS, *kept]
    assert (vocab.level, vocab.lower) == ("word", True)
    # a test sentence's words: its own ids, or <unk> for those no training sentence has
    unknown = 0
    for text, ids, n in zip(test_texts, words.test.x, words.test.lengths):
        tokens = tokenize(text.lower(), lower=False)
        want = [vocab.tokens.index(t) if t in kept else UNK for t in tokens]
        assert ids[:n].tolist() == want
        unknown += want.count(UNK)
    assert unknown >= len(test_texts)  # at least each test sentence's own number


def test_a_word_seen_only_in_a_test_sentence_is_unknown(tmp_path):
    folder = write_uci(tmp_path / "uci")
    path = folder / UCI_FILES["yelp"]
    rows = file_rows(path)
    fold0 = char_parts(folder, 0, domain="yelp")
    first_test = decoded(fold0.test, fold0.vocabulary)[0][0]
    # give that test sentence (and no other) the word "zanzibar"; the labels, and so the
    # folds, stay as they were
    lines = [f"{s} zanzibar\t{y}" if s == first_test else f"{s}\t{y}" for s, y in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parts = uci_parts(folder, domain="yelp", folds=FOLDS, fold=0)
    vocab = parts.vocabulary
    assert "zanzibar" not in vocab and "great" in vocab
    n = int(parts.test.lengths[0])
    tokens = tokenize(f"{first_test} zanzibar")
    assert n == len(tokens)
    assert vocab.decode(parts.test.x[0, :n])[:-1] == [
        t if t in vocab else "<unk>" for t in tokens[:-1]
    ]
    assert int(parts.test.x[0, n - 1]) == UNK  # the last word
    # in a fold where that sentence trains, the word is in the vocabulary
    assert "zanzibar" in uci_parts(folder, domain="yelp", folds=FOLDS, fold=1).vocabulary


def test_max_length_keeps_each_sentences_first_ids(uci):
    full = uci_parts(uci, folds=FOLDS, fold=2)
    cut = uci_parts(uci, folds=FOLDS, fold=2, max_length=3)
    assert cut.vocabulary == full.vocabulary  # counted on the whole sentences
    assert int(full.train.lengths.min()) > 3
    for name in ("train", "val", "test"):
        a, b = getattr(full, name), getattr(cut, name)
        assert b.x.shape == (len(a.x), 3) and b.x.dtype == torch.int64
        torch.testing.assert_close(b.x, a.x[:, :3])
        torch.testing.assert_close(b.lengths, a.lengths.clamp(max=3))
        torch.testing.assert_close(b.y, a.y)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"domain": "foo"}, "data.options.domain='foo'"),
        ({"folds": 4, "fold": 4}, "data.options.fold=4"),
        ({"folds": 4, "fold": -1}, "data.options.fold=-1"),
        ({"folds": 1, "fold": 0}, "data.options.folds=1"),
        ({"min_freq": 0}, "data.options.min_freq=0"),
        ({"max_length": 0}, "data.options.max_length=0"),
    ],
)
def test_bad_uci_options_are_one_line_config_errors(uci, options, needle):
    with pytest.raises(ConfigError) as info:
        uci_parts(uci, **options)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_prepare_gives_the_vocabulary_its_size_as_features_and_the_given_split(uci):
    splits = prepare("uci-sentiment", uci, domain="imdb", folds=FOLDS, fold=3)
    parts = uci_parts(uci, domain="imdb", folds=FOLDS, fold=3)
    assert splits.vocabulary == parts.vocabulary
    assert splits.num_features == len(parts.vocabulary) > len(SPECIALS)
    assert splits.num_features != splits.train.x.shape[-1]
    assert splits.info["split"].startswith("given")
    for name in ("train", "val", "test"):  # the reader's parts, not standardised or re-split
        torch.testing.assert_close(getattr(splits, name).x, getattr(parts, name).x)


# -- SST-2 ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sst2(tmp_path_factory):
    return write_sst2(tmp_path_factory.mktemp("sst2") / "sst2-glue")


def sst2_parts(folder, **options):
    return DATASETS.create("sst2", folder, **{"level": "char", "lower": False, **options})


def test_sst2_dev_is_the_test_part_unchanged_and_val_size_rows_validate(sst2):
    parts = sst2_parts(sst2, val_size=6)
    assert decoded(parts.test, parts.vocabulary) == file_rows(sst2 / "dev.tsv", header=True)
    train, val = decoded(parts.train, parts.vocabulary), decoded(parts.val, parts.vocabulary)
    assert len(val) == 6 and Counter(y for _, y in val) == {0: 3, 1: 3}
    assert Counter(train + val) == Counter(file_rows(sst2 / "train.tsv", header=True))
    assert not set(train) & set(val)
    other = sst2_parts(sst2, val_size=6, seed=1)
    assert set(decoded(other.val, other.vocabulary)) != set(val)  # the seed draws them


def test_sst2_vocabulary_counts_the_training_rows_not_validation_or_dev(sst2):
    chars = sst2_parts(sst2, val_size=6)
    train_texts = [t for t, _ in decoded(chars.train, chars.vocabulary)]
    vocab = DATASETS.create("sst2", sst2, val_size=6).vocabulary
    counts = Counter(t for text in train_texts for t in tokenize(text))
    assert vocab.tokens == [*SPECIALS, *sorted(counts, key=lambda t: (-counts[t], t))]
    splits = prepare("sst2", sst2, val_size=6)
    assert splits.num_features == len(splits.vocabulary) == len(vocab)
    assert splits.info["split"].startswith("given")


def test_sst2_val_size_is_the_number_of_validation_rows_when_shares_round_badly(sst2):
    assert len(sst2_parts(sst2, val_size=5).val) == 5


@pytest.mark.parametrize("val_size", [24, 25, 0, True])
def test_sst2_val_size_out_of_range_is_a_config_error(sst2, val_size):
    with pytest.raises(ConfigError, match="data.options.val_size") as info:
        sst2_parts(sst2, val_size=val_size)
    assert "\n" not in str(info.value)
