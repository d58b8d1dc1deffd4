r"""Labelled sentences as their ORIGINAL tab-separated files give them (no tokenization here).

Shape legend: N sentences.

Every file is UTF-8 text, one example a line, the sentence, a TAB, then the label:

.. math::
    \text{line}_i = s_i \;\texttt{\textbackslash t}\; y_i, \qquad y_i \in \{0, 1\}
    \quad (0 = \text{negative},\ 1 = \text{positive})

=================================  ==============================================  ============
dataset                            files                                           rows
=================================  ==============================================  ============
UCI Sentiment Labelled Sentences   ``amazon_cells_labelled.txt``,                  3 x 1000
(Kotzias et al. 2015)              ``imdb_labelled.txt``, ``yelp_labelled.txt``    (500 / 500)
                                   (no header)
GLUE SST-2 (Socher et al. 2013)    ``train.tsv``, ``dev.tsv`` (header              67,349 / 872
                                   ``sentence\tlabel``)
=================================  ==============================================  ============

How a file is read, and why (the pitfalls of the real files):

- no quoting: ``imdb_labelled.txt`` has unbalanced double quotes, on which ``csv`` with default
  quoting silently merges lines (748 rows instead of 1000);
- lines are split on ``'\n'`` only, never ``str.splitlines``: two IMDb sentences hold U+0085
  (NEL), which ``splitlines`` takes for a line end (1002 lines);
- the label is what follows the LAST tab; the sentence is what precedes it, with the spaces,
  tabs and carriage returns at either end removed (every IMDb and SST-2 sentence ends with a
  space before the tab; a CRLF file reads as its LF twin). Other characters are kept as they are;
- a UTF-8 byte-order mark at the start is dropped; blank lines (an extra final newline) are
  skipped; any other line without a tab, with an empty sentence or a label other than ``0`` /
  ``1`` is an error naming the file and the line, never echoing its text.

No split is drawn here: the UCI files have none (each domain is one part of 1000), SST-2 gives
train and dev (GLUE's test labels are not public).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnzoo.data.base import DataError
from nnzoo.data.files import FRESH, read_bytes
from nnzoo.errors import ConfigError

UCI_FILES = {
    "amazon": "amazon_cells_labelled.txt",
    "imdb": "imdb_labelled.txt",
    "yelp": "yelp_labelled.txt",
}
SST2_FILES = {"train": "train.tsv", "dev": "dev.tsv"}
SST2_HEADER = ("sentence", "label")
LABELS = ("0", "1")
EDGES = " \t\r"  # stripped from both ends of a sentence and a label
BOM = b"\xef\xbb\xbf"


def read_utf8_lines(path: Path, *, what: str) -> list[str]:
    """The lines of the UTF-8 file ``path``, split on ``'\n'`` (a final empty piece dropped).

    Args:
        path: the file (``.gz`` / ``.xz`` are decompressed).
        what: how to name the file's origin in the "missing" message, e.g. "the UCI file".

    Raises:
        DataError: the file is missing or unreadable, or as `utf8_lines` says.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: missing; put {what} there (unchanged) or give its path")
    return utf8_lines(read_bytes(path), where=str(path))


def utf8_lines(raw: bytes, *, where: str) -> list[str]:
    """The UTF-8 text ``raw`` (a leading byte-order mark dropped) split on ``'\n'``.

    Args:
        raw: the file's bytes.
        where: the file as errors name it.

    Raises:
        DataError: the text is empty, or a byte is not UTF-8 (named by its offset and line).
    """
    start = len(BOM) if raw.startswith(BOM) else 0
    try:
        text = raw[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = start + e.start
        line = raw.count(b"\n", 0, offset) + 1
        raise DataError(
            f"{where}: byte offset {offset} (line {line}) is not valid UTF-8; the file is "
            f"damaged or in another encoding: {FRESH}"
        ) from None
    if not text.strip():
        raise DataError(f"{where}: empty file; {FRESH}")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def read_labelled_sentences(path: Path, *, header: bool = False) -> tuple[list[str], np.ndarray]:
    """The sentences and labels of one ``sentence<TAB>label`` file.

    Args:
        path: the file.
        header: the first line is the header ``sentence<TAB>label`` (SST-2); it is checked.

    Returns:
        texts: N sentences, in file order.
        labels: (N,) int64, 0 or 1.

    Raises:
        DataError: one line naming the file (and line) of the first problem.
    """
    path = Path(path).expanduser()
    lines = read_utf8_lines(path, what="the original tab-separated file")
    first = 0
    if header:
        fields = tuple(field.strip(EDGES) for field in lines[0].split("\t"))
        if fields != SST2_HEADER:
            raise DataError(
                f"{path}: line 1 is not the header sentence<TAB>label; give the original file "
                f"with its header, or {FRESH}"
            )
        first = 1
    texts: list[str] = []
    labels: list[int] = []
    for i, line in enumerate(lines[first:], first + 1):
        if not line.strip(EDGES):
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab:
            raise DataError(
                f"{path}: line {i} has no tab; each line must be sentence<TAB>label: fix that "
                f"line or {FRESH}"
            )
        label = label.strip(EDGES)
        if label not in LABELS:
            raise DataError(
                f"{path}: line {i}: the label after the last tab is not 0 or 1; fix that line "
                f"or {FRESH}"
            )
        sentence = sentence.strip(EDGES)
        if not sentence:
            raise DataError(
                f"{path}: line {i}: the sentence before the tab is empty; fix that line or {FRESH}"
            )
        texts.append(sentence)
        labels.append(LABELS.index(label))
    if not texts:
        raise DataError(f"{path}: no labelled sentence in it (only a header); {FRESH}")
    return texts, np.array(labels, dtype=np.int64)  # (N,)


def read_uci_sentiment(folder: Path, source: str) -> tuple[list[str], np.ndarray]:
    """One domain of the UCI Sentiment Labelled Sentences: 1000 sentences, 500 of each label.

    Args:
        folder: the folder holding ``amazon_cells_labelled.txt``, ``imdb_labelled.txt`` and
            ``yelp_labelled.txt`` (``<data root>/sentiment-labelled-sentences/``).
        source: ``"amazon"``, ``"imdb"`` or ``"yelp"``.

    Returns:
        texts and labels (N,) int64 as `read_labelled_sentences` gives them.
    """
    if source not in UCI_FILES:
        raise ConfigError(
            f"source={source!r}: expected one of {', '.join(UCI_FILES)} (the UCI sentiment domains)"
        )
    return read_labelled_sentences(Path(folder).expanduser() / UCI_FILES[source])


def read_sst2(folder: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """GLUE SST-2: ``{"train": (texts, labels), "dev": (texts, labels)}``, 67,349 and 872 rows.

    Args:
        folder: the folder holding GLUE's ``train.tsv`` and ``dev.tsv`` (header
            ``sentence<TAB>label``; ``<data root>/sst2-glue/``).
    """
    folder = Path(folder).expanduser()
    return {
        part: read_labelled_sentences(folder / name, header=True)
        for part, name in SST2_FILES.items()
    }
