"""The Tatoeba pair reader on tiny spa-eng files and zips, the grouped split, and the real zip."""

import zipfile
from collections import Counter
from pathlib import Path

import pytest

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
