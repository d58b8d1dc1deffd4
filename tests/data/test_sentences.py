"""The sentence readers on tiny files written as the originals are, and on the real files."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from nnzoo.data.base import DataError
from nnzoo.data.sentences import read_labelled_sentences, read_sst2, read_uci_sentiment
from nnzoo.errors import ConfigError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # /work/shared/data

# IMDb's pitfalls: unbalanced double quotes, U+0085 (NEL) inside a sentence, spaces before the tab
ROWS = [
    ('A "very slow movie.  ', "0"),
    ("Loved it\u0085 really.  ", "1"),
    ('He said "great" and left. ', "1"),
    ("Caf\u00e9 food, 10/10 \u2014 again!", "0"),
]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def uci_text(rows=ROWS) -> str:
    return "".join(f"{s}\t{y}\n" for s, y in rows)


def reference(text: str, header: bool = False) -> tuple[list[str], list[int]]:
    """The file read by the csv module with no quoting, lines split on '\\n' only."""
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = list(reader)[1 if header else 0 :]
    return [row[0].strip(" ") for row in rows], [int(row[1]) for row in rows]


def test_reads_like_csv_without_quoting(tmp_path):
    text = uci_text()
    texts, labels = read_labelled_sentences(write(tmp_path / "imdb_labelled.txt", text))
    want_texts, want_labels = reference(text)
    assert texts == want_texts
    assert len(texts) == 4  # csv with default quoting would merge lines at the lone quote
    assert texts[1] == "Loved it\u0085 really."  # NEL kept inside the sentence, not a line end
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, want_labels)


def test_crlf_bom_and_missing_final_newline_read_as_the_plain_file(tmp_path):
    plain = read_labelled_sentences(write(tmp_path / "a.txt", uci_text()))
    odd = "\ufeff" + uci_text().replace("\n", "\r\n").rstrip("\r\n")
    other = read_labelled_sentences(write(tmp_path / "b.txt", odd))
    assert other[0] == plain[0]
    np.testing.assert_array_equal(other[1], plain[1])


def test_uci_sources_and_sst2_header(tmp_path):
    for name, rows in (("amazon_cells", ROWS[:2]), ("imdb", ROWS[1:]), ("yelp", ROWS[::2])):
        write(tmp_path / f"{name}_labelled.txt", uci_text(rows))
    texts, labels = read_uci_sentiment(tmp_path, "imdb")
    assert texts == [s.strip() for s, _ in ROWS[1:]]
    np.testing.assert_array_equal(labels, [1, 1, 0])
    assert read_uci_sentiment(tmp_path, "yelp")[0] == [ROWS[0][0].strip(), ROWS[2][0].strip()]
    with pytest.raises(ConfigError, match="amazon, imdb, yelp"):
        read_uci_sentiment(tmp_path, "twitter")

    train = "sentence\tlabel\nit 's a charming journey . \t1\nbleak and desperate \t0\n"
    write(tmp_path / "sst" / "train.tsv", train)
    write(tmp_path / "sst" / "dev.tsv", "sentence\tlabel\na gem . \t1\n")
    parts = read_sst2(tmp_path / "sst")
    assert parts["train"][0] == reference(train, header=True)[0]
    np.testing.assert_array_equal(parts["train"][1], [1, 0])
    assert parts["dev"][0] == ["a gem ."]


@pytest.mark.parametrize(
    "content, header, match",
    [
        (b"good\t1\nno tab here\n", False, r"line 2 has no tab"),
        (b"good\t1\nbad\t2\n", False, r"line 2: the label after the last tab is not 0 or 1"),
        (b"good\t1\n \t0\n", False, r"line 2: the sentence before the tab is empty"),
        (b"", False, r"empty file"),
        (b"\n\n", False, r"empty file"),
        (b"text\tlabel\nok\t1\n", True, r"line 1 is not the header"),
        (b"sentence\tlabel\n", True, r"no labelled sentence"),
        (b"good\t1\nna\xefve secret\t0\n", False, r"byte offset 9 \(line 2\) is not valid UTF-8"),
    ],
)
def test_bad_files_fail_in_one_line(tmp_path, content, header, match):
    path = write(tmp_path / "f.txt", content)
    with pytest.raises(DataError, match=match) as info:
        read_labelled_sentences(path, header=header)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "secret" not in message and "no tab here" not in message  # content never echoed


def test_missing_files_are_named(tmp_path):
    with pytest.raises(DataError, match=r"yelp_labelled\.txt: missing") as info:
        read_uci_sentiment(tmp_path, "yelp")
    assert "\n" not in str(info.value)
    write(tmp_path / "train.tsv", "sentence\tlabel\nok\t1\n")
    with pytest.raises(DataError, match=r"dev\.tsv: missing"):
        read_sst2(tmp_path)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the data root /work/shared/data is absent")
def test_real_files_have_the_published_counts():
    folder = SHARED / "sentiment-labelled-sentences"
    for source in ("amazon", "imdb", "yelp"):
        texts, labels = read_uci_sentiment(folder, source)
        assert len(texts) == 1000 and np.bincount(labels).tolist() == [500, 500]
        assert all(t == t.strip(" \t") and t for t in texts)
    texts, _ = read_uci_sentiment(folder, "imdb")
    assert sum("\u0085" in t for t in texts) == 2  # PROVENANCE.md: two sentences hold NEL
    parts = read_sst2(SHARED / "sst2-glue")
    assert len(parts["train"][0]) == 67349 and len(parts["dev"][0]) == 872
    assert np.bincount(parts["train"][1]).tolist() == [29780, 37569]
    assert np.bincount(parts["dev"][1]).tolist() == [428, 444]
