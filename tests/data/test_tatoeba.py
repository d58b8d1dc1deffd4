"""The Tatoeba pair reader on tiny spa-eng files and zips, the grouped split, and the real zip."""

import zipfile
from collections import Counter
from pathlib import Path

import pytest
import torch

from nnzoo.data.base import DataError
from nnzoo.data.tatoeba import max_words, read_pairs, split_pairs
from nnzoo.errors import ConfigError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # /work/shared/data

PAIRS = [
    ("Go.", "Ve."),
    ("Go.", "Vete."),
    ("Hi.", "Hola."),
    ('I\'m "fine".', "Estoy bien."),
    ("Où?", "¿Dónde?"),
    ("Tom isn't here today.", "Tom no está aquí hoy."),
]


def spa_text(pairs=PAIRS, attribution: bool = False) -> str:
    extra = "\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)" if attribution else ""
    return "".join(f"{en}\t{es}{extra}\n" for en, es in pairs)


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_reads_the_zip_the_folder_and_the_text_file(tmp_path):
    data = spa_text().encode()
    about = b"Date of this file: 2018-05-13\n"
    zipped = write_zip(
        tmp_path / "spa-eng.zip", {"spa-eng/_about.txt": about, "spa-eng/spa.txt": data}
    )
    (tmp_path / "spa-eng").mkdir()
    (tmp_path / "spa-eng" / "spa.txt").write_bytes(data)
    assert read_pairs(zipped) == PAIRS
    assert read_pairs(tmp_path / "spa-eng" / "spa.txt") == PAIRS
    assert read_pairs(tmp_path / "spa-eng") == PAIRS
    assert read_pairs(tmp_path) == PAIRS  # the folder holding spa-eng/spa.txt
    assert not (tmp_path / "spa-eng" / "_about.txt").exists()  # nothing extracted


def test_attribution_column_and_crlf_are_dropped(tmp_path):
    text = spa_text(attribution=True).replace("\n", "\r\n")
    path = tmp_path / "spa.txt"
    path.write_bytes(text.encode())
    assert read_pairs(path) == PAIRS


@pytest.mark.parametrize(
    "content, match",
    [
        (b"Go.\tVe.\nHello there\n", r"line 2 has 1 tab-separated fields"),
        (b"Go.\tVe.\na\tb\tc\td\n", r"line 2 has 4 tab-separated fields"),
        (b"Go.\tVe.\n \tHola.\n", r"line 2: the English sentence is empty"),
        (b"Go.\t\n", r"line 1: the Spanish sentence is empty"),
        (b"", r"empty file"),
        (b"Go.\tVe.\nHi.\tHol\xe1 secret.\n", r"byte offset 15 \(line 2\) is not valid UTF-8"),
    ],
)
def test_bad_lines_fail_in_one_line(tmp_path, content, match):
    path = tmp_path / "spa.txt"
    path.write_bytes(content)
    zipped = write_zip(tmp_path / "spa-eng.zip", {"spa-eng/spa.txt": content})
    for source, where in ((path, str(path)), (zipped, f"{zipped}!spa-eng/spa.txt")):
        with pytest.raises(DataError, match=match) as info:
            read_pairs(source)
        message = str(info.value)
        assert "\n" not in message and where in message
        assert "secret" not in message and "Hello" not in message


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(DataError, match=r"spa-eng\.zip: missing"):
        read_pairs(tmp_path / "spa-eng.zip")
    with pytest.raises(DataError, match=r"spa\.txt: missing"):
        read_pairs(tmp_path)
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"bad\.zip: not a readable zip archive"):
        read_pairs(tmp_path / "bad.zip")
    other = write_zip(tmp_path / "other.zip", {"fra-eng/fra.txt": b"Go.\tVa !\n"})
    with pytest.raises(DataError, match=r"other\.zip!spa-eng/spa\.txt: missing") as info:
        read_pairs(other)
    assert "\n" not in str(info.value)


def grouped_pairs() -> list[tuple[str, str]]:
    """300 English sentences, sentence g with 1 + g % 5 translations (900 pairs, m = 5)."""
    return [(f"sentence {g}.", f"frase {g} v{k}.") for g in range(300) for k in range(1 + g % 5)]


def test_split_keeps_a_source_in_one_split_and_matches_the_fractions():
    pairs = grouped_pairs()
    n, m = len(pairs), 5
    train, val, test = split_pairs(pairs, val_fraction=0.15, test_fraction=0.2, seed=3)
    assert Counter(train + val + test) == Counter(pairs)  # a partition of the pairs
    sources = [{en for en, _ in part} for part in (train, val, test)]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    for part, fraction in ((val, 0.15), (test, 0.2)):
        assert round(fraction * n) <= len(part) < round(fraction * n) + m
    assert train == [p for p in pairs if p[0] in sources[0]]  # file order kept
    # grouping by Spanish: every Spanish sentence is distinct, so sizes hit the targets exactly
    train, val, test = split_pairs(pairs, val_fraction=0.1, test_fraction=0.1, seed=0, source="es")
    assert (len(train), len(val), len(test)) == (720, 90, 90)


def test_split_is_seeded():
    pairs = grouped_pairs()
    first = split_pairs(pairs, val_fraction=0.1, test_fraction=0.1, seed=7)
    assert split_pairs(pairs, val_fraction=0.1, test_fraction=0.1, seed=7) == first
    other = split_pairs(pairs, val_fraction=0.1, test_fraction=0.1, seed=8)
    assert {p[0] for p in other[2]} != {p[0] for p in first[2]}


def test_split_without_val_and_bad_fractions():
    pairs = grouped_pairs()
    train, val, test = split_pairs(pairs, val_fraction=0, test_fraction=0.5, seed=0)
    assert val == [] and len(train) + len(test) == len(pairs)
    for kwargs, match in (
        ({"val_fraction": 0.5, "test_fraction": 0.5}, r"leave no training pair"),
        ({"val_fraction": -0.1, "test_fraction": 0.1}, r"val_fraction=-0.1: expected"),
        ({"val_fraction": 0.1, "test_fraction": True}, r"test_fraction=True: expected"),
        ({"val_fraction": 0.1, "test_fraction": 0.1, "source": "fr"}, r"source='fr'"),
    ):
        with pytest.raises(ConfigError, match=match):
            split_pairs(pairs, seed=0, **{"source": "en", **kwargs})


def test_max_words_counts_whitespace_words():
    assert max_words(PAIRS, 1) == [*PAIRS[:3], PAIRS[4]]
    assert max_words(PAIRS, 2) == PAIRS[:5]
    assert max_words(PAIRS, 4, side="es") == PAIRS[:5]
    assert max_words(PAIRS, 4) == PAIRS  # "Tom isn't here today." has 4 words
    assert max_words(PAIRS, 4, side="both") == PAIRS[:5]  # its Spanish has 5
    with pytest.raises(ConfigError, match=r"n=0"):
        max_words(PAIRS, 0)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the data root /work/shared/data is absent")
def test_real_zip_has_the_published_counts():
    pairs = read_pairs(SHARED / "spa-eng-tatoeba" / "spa-eng.zip")
    assert len(pairs) == 118964 and len(set(pairs)) == 118964
    assert len({en for en, _ in pairs}) == 102904
    assert pairs[0] == ("Go.", "Ve.")
    assert pairs[-1][0].startswith("If you want to sound like a native speaker")
    assert max(len(en.split()) for en, _ in pairs) == 47
    assert max(len(es.split()) for _, es in pairs) == 49
    train, val, test = split_pairs(pairs, val_fraction=0.15, test_fraction=0.15, seed=0)
    assert not {en for en, _ in train} & {en for en, _ in val + test}
    assert not {en for en, _ in val} & {en for en, _ in test}
    m = max(Counter(en for en, _ in pairs).values())
    for part in (val, test):
        assert 17845 <= len(part) < 17845 + m  # round(0.15 * 118964)


# -- the registered dataset ---------------------------------------------------------------------

ANIMALS = 40


def animal_pairs() -> list[tuple[str, str]]:
    """Sentences about 40 made-up animals; every third English sentence has two translations."""
    pairs = []
    for g in range(ANIMALS):
        pairs.append((f"Tom sees the bird{g}.", f"Tom ve el pájaro{g}."))
        if g % 3 == 0:
            pairs.append((f"Tom sees the bird{g}.", f"Tom mira el pájaro{g}."))
    pairs.append(("Where is the library, Tom?", "¿Dónde está la biblioteca, Tom?"))  # 5 words
    return pairs


@pytest.fixture
def data_root(tmp_path):
    """<root>/spa-eng-tatoeba/spa-eng.zip in the original layout (spa-eng/ with _about.txt)."""
    folder = tmp_path / "spa-eng-tatoeba"
    folder.mkdir()
    write_zip(folder / "spa-eng.zip", {
        "spa-eng/_about.txt": b"Date of this file: 2018-05-13\n",
        "spa-eng/spa.txt": spa_text(animal_pairs()).encode(),
    })  # fmt: skip
    return tmp_path


def load(root, **options):
    from nnzoo.data import load_dataset

    defaults = {"val_fraction": 0.2, "test_fraction": 0.2, "min_freq": 1}
    return load_dataset("tatoeba", root=root, **{**defaults, **options})


def sentences(part, side: int) -> set[str]:
    return set(part.texts[side])


def test_tatoeba_is_registered_and_reads_the_zip_under_the_data_root(data_root):
    from nnzoo.data import DEFAULTS, list_datasets

    assert "tatoeba" in list_datasets() and DEFAULTS["tatoeba"].split == "given"
    splits = load(data_root)
    n = len(animal_pairs())
    assert len(splits.train) + len(splits.val) + len(splits.test) == n
    assert splits.info["source"] == str(data_root / "spa-eng-tatoeba")
    assert "grouped by Spanish sentence, seed 0" in splits.info["test"]
    assert f"{n} of {n} pairs" == splits.info["pairs"]


@pytest.mark.parametrize("direction, source", [("es-en", 1), ("en-es", 0)])
def test_splits_are_disjoint_by_source_sentence_and_match_the_pairs(data_root, direction, source):
    splits = load(data_root, direction=direction, seed=4)
    parts = (splits.train, splits.val, splits.test)
    src = [sentences(p, 0) for p in parts]
    assert not (src[0] & src[1] or src[0] & src[2] or src[1] & src[2])
    pairs = [(s, t) for p in parts for s, t in zip(*p.texts, strict=True)]
    expected = [(p[source], p[1 - source]) for p in animal_pairs()]
    assert sorted(pairs) == sorted(expected)  # every pair once, the right way round
    # the same split as split_pairs grouped by the source language
    *_, test = split_pairs(
        animal_pairs(), val_fraction=0.2, test_fraction=0.2, seed=4, source=direction[:2]
    )
    assert splits.test.texts[0] == [p[source] for p in test]


def test_vocabularies_come_from_the_train_split_only(data_root):
    from nnzoo.data.text import SPECIALS, UNK, tokenize

    splits = load(data_root, direction="en-es")
    from nnzoo.data.text import Vocabulary

    src_vocab, tgt_vocab = splits.vocabulary, Vocabulary(splits.class_names)
    for vocab, side in ((src_vocab, 0), (tgt_vocab, 1)):
        train_tokens = {t for s in splits.train.texts[side] for t in tokenize(s)}
        assert tuple(vocab.tokens[:4]) == SPECIALS and set(vocab.tokens[4:]) == train_tokens
    assert splits.class_names == tgt_vocab.tokens  # the task decodes into the target side
    # a held-out animal is in no vocabulary: its source word is <unk>, the target's too
    for i, sentence in enumerate(splits.test.texts[0]):
        assert f"bird{sentence.split('bird')[1][:-1]}" not in src_vocab
        assert UNK in splits.test.src[i].tolist() and UNK in splits.test.tgt[i].tolist()
    # targets end with <eos>; ids as encode_batch gives them
    from nnzoo.data.text import EOS, encode_batch

    ids, lengths = encode_batch(splits.train.texts[1], tgt_vocab, eos=True)
    assert torch.equal(splits.train.tgt[:, : ids.shape[1]], ids)
    assert torch.equal(splits.train.tgt_lengths, lengths)
    assert all(row[n - 1] == EOS for row, n in zip(ids.tolist(), lengths.tolist()))


def test_min_freq_max_words_limit_and_max_length(data_root):
    from nnzoo.data.text import tokenize

    splits = load(data_root, min_freq=2)
    vocabularies = (splits.vocabulary.tokens, splits.class_names)
    for vocab, texts in zip(vocabularies, splits.train.texts, strict=True):
        counts = Counter(t for s in texts for t in tokenize(s))
        assert set(vocab[4:]) == {t for t, n in counts.items() if n >= 2}
        assert "tom" in vocab and "biblioteca" not in vocab
    short = load(data_root, max_words=4)
    assert short.info["pairs"].startswith(f"{len(animal_pairs()) - 1} of")  # library dropped
    assert "biblioteca" not in {t for s in short.train.texts[0] for t in s.lower().split()}
    few = load(data_root, limit=10, val_fraction=0.1, test_fraction=0.1)
    assert len(few.train) + len(few.val) + len(few.test) == 10
    cut = load(data_root, max_length=3)
    assert int(cut.train.src_lengths.max()) == 3 and int(cut.train.tgt_lengths.max()) == 3


@pytest.mark.parametrize(
    "options, match",
    [
        ({"direction": "fr-en"}, r"direction='fr-en': expected one of es-en, en-es"),
        ({"max_words": -1}, r"max_words=-1"),
        ({"min_freq": 0}, r"min_freq=0"),
        ({"max_size": 3}, r"max_size=3"),
        ({"level": "bpe"}, r"level='bpe'"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, r"leave no training pair"),
        ({"max_words": 1}, r"no pair of .* has both sentences that short"),
    ],
)
def test_bad_options_are_one_line(data_root, options, match):
    with pytest.raises(ConfigError, match=match) as info:
        load(data_root, **options)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the data root /work/shared/data is absent")
def test_real_zip_through_the_registry():
    splits = load(SHARED, max_words=10, limit=3000, min_freq=2, val_fraction=0.1,
                  test_fraction=0.1)  # fmt: skip
    expected = max_words(read_pairs(SHARED / "spa-eng-tatoeba" / "spa-eng.zip"), 10, side="both")
    got = [(en, es) for p in (splits.train, splits.val, splits.test) for es, en in zip(*p.texts)]
    assert sorted(got) == sorted(expected[:3000])  # es-en: Spanish is the source
    assert not sentences(splits.train, 0) & sentences(splits.test, 0)
    assert splits.class_names[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
