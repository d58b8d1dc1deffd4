"""Bring your own sequences: a ``.npz`` of padded arrays, or a CSV with one row per time step.

``.npz`` (write one with `save_sequences_npz`):

    ============  ==================================================================================
    X (or x)      (N, T, F) numbers
    y             (N,) integer labels: with class_names, class indices 0..C-1; without it, see
                  "Labels" below
    lengths       optional (N,) true lengths 1..T; the steps past them are ignored and zeroed
    class_names   optional (C,) strings, the name of each class index
    ============  ==================================================================================

CSV (a header row, then one row per time step; comma-separated, ``.tsv`` tab-separated, and
``.gz`` / ``.xz`` compressed files are read as they are)::

    sequence,time,label,ax,ay
    walk-1,0,walking,0.12,-0.98
    walk-1,1,walking,0.10,-0.97
    sit-7,0,sitting,0.01,-1.00

    ========  ======================================================================================
    sequence  the sequence id (any text); if there is no ``sequence`` column, ``seq_id`` or ``id``
    time      a number ordering the steps of a sequence; if there is no ``time`` column, ``step``
              or ``t``
    label     the class, the same on every row of a sequence (see "Labels" below)
    others    every other column is a feature and holds a number
    ========  ======================================================================================

Labels: class ``i`` is the ``i``-th of the sorted distinct labels of all files together
(integers sorted as numbers, names as text), and is named by it. Integer labels 1..9, as the UEA
archive writes them, are thus 9 classes "1".."9", and labels 0..C-1 stay classes 0..C-1. With
``label_indices=True`` integer labels are class indices themselves (C = the largest + 1; an index
that no sequence has is a class all the same, with a warning). A ``.npz`` with ``class_names``
always holds class indices.

Column names are matched ignoring case. Rows may come in any order: sequences keep the order of
their first row, steps are sorted by time, and shorter sequences are zero-padded at the end with
their ``lengths`` recorded.

Parts: ``test_path`` (either format) is the test set; without it a stratified ``test_fraction``
of ``source`` is held out by the reader, always drawn with seed 0 so that the test set stays the
same when ``seed`` changes. The classes are those of both files together. The split
(`nnzoo.data.splits`) then draws validation from the remaining training sequences, by default the
``stratified`` policy: a ``val_fraction`` (0.2) of each class, drawn with ``seed``; the features
are standardised with statistics of the training part alone, padding left out.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.files import COMPRESSED, read_bytes
from nnzoo.data.registry import DATASETS, DEFAULTS, DatasetDefaults
from nnzoo.data.splits import prepare, split_random
from nnzoo.errors import ConfigError, warn

# The column of each role: the first name of each tuple, else exactly one of the others.
COLUMNS = {
    "sequence": ("sequence", "seq_id", "id"),
    "time": ("time", "step", "t"),
    "label": ("label",),
}
TEST_SEED = 0  # the held-out test set does not depend on ``seed``
INTEGER = re.compile(r"[+-]?\d+")


@dataclass
class _Part:
    """The sequences of one file, before the class indices are settled."""

    source: str
    x: np.ndarray  # (N, T, F) float32, padding zeroed
    lengths: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N,) int64 class indices, or (CSV) each sequence's label as written
    where: list[str]  # where each sequence is in the file, for errors: "line 7", "y[3]"
    class_names: list[str] | None = None  # given by the file
    feature_names: list[str] | None = None
    ids: list[str] | None = None  # the CSV's sequence ids


DEFAULTS["sequences"] = DatasetDefaults("stratified", {"val_fraction": 0.2}, standardize=True)


@DATASETS.register("sequences")
def read_sequences(
    source: Path,
    *,
    test_path: str | None = None,
    test_fraction: float = 0.2,
    label_indices: bool = False,
) -> DataParts:
    """Your own labelled sequences from a ``.npz`` or ``.csv`` file, as training and test parts.

    Args:
        source: the ``.npz`` or ``.csv`` file (see the module docstring for both formats).
        test_path: a file in either format holding the test set; when given, ``test_fraction``
            is not used.
        test_fraction: share of ``source``, per class, held out as the test set (seed 0).
        label_indices: integer labels are class indices 0..C-1, instead of labels mapped to
            classes by their sorted distinct values (the module docstring's "Labels").
    """
    if not isinstance(label_indices, bool):
        raise ConfigError(
            f"data.options.label_indices={label_indices!r}: expected true or false; set it in "
            "the config or pass --set data.options.label_indices=true"
        )
    source = Path(source).expanduser()
    parts = [_read_file(source)]
    if test_path is not None:
        parts.append(_read_file(Path(test_path).expanduser()))
    elif not 0.0 < test_fraction < 1.0:
        raise DataError(
            f"{source}: test_fraction={test_fraction!r}; expected a number in (0, 1), "
            "or pass test_path"
        )
    class_names = _settle_classes(parts, label_indices)
    feature_names = _match_features(parts)
    steps = max(p.x.shape[1] for p in parts)
    full = all(bool((p.lengths == steps).all()) for p in parts)
    sets = [
        SequenceSet(
            torch.from_numpy(_pad(p.x, steps)),
            torch.from_numpy(p.labels.astype(np.int64)),
            None if full else torch.from_numpy(p.lengths),
        )
        for p in parts
    ]
    if test_path is not None:
        train, test = sets
        test_rule = f"the file {parts[1].source}"
    else:
        train, test = split_random(sets[0], test_fraction, TEST_SEED, source=str(source))
        test_rule = f"a stratified {test_fraction:g} of {source} (seed {TEST_SEED})"
        n = len(sets[0])
        if len(test) == 0:
            raise DataError(
                f"{source}: test_fraction={test_fraction:g} rounds to no sequence of any class "
                f"({n} sequences); raise it or pass test_path"
            )
        if len(train) == 0:
            raise DataError(
                f"{source}: test_fraction={test_fraction:g} leaves no training sequence "
                f"({n} sequences); lower it or pass test_path"
            )
    features = feature_names or f"{parts[0].x.shape[2]} (unnamed columns of {parts[0].source})"
    info = {"source": str(source), "features": features, "steps": steps, "test": test_rule}
    return DataParts("sequences", train, test, class_names, info)


def load_sequences(source: Path, **options) -> DataSplits:
    """Your own sequences as train / val / test: ``load_dataset("sequences", path=source)``.

    Args:
        source: the ``.npz`` or ``.csv`` file (see the module docstring for both formats).
        **options: `read_sequences`'s (``test_path``, ``test_fraction``), ``seed`` (draws the
            validation sequences), ``split`` and its options (``val_fraction``: share of the
            training sequences, per class, that validates, 0.2; 0 turns validation off) and
            ``standardize_features`` (zero mean, unit variance per feature, fitted on the train
            part; on by default).
    """
    return prepare("sequences", source, **options)


def save_sequences_npz(
    path: str | Path,
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray | Sequence[int],
    lengths: Tensor | np.ndarray | Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Write sequences in the ``.npz`` format that the ``sequences`` dataset reads.

    Args:
        path: the file to write (its folder is created); the name is used as it is.
        x: (N, T, F) features, padded to a common T.
        y: (N,) class indices 0..C-1.
        lengths: (N,) true lengths, when the sequences are padded.
        class_names: one name per class index.

    Returns:
        The path written.
    """
    arrays = {"X": _numpy(x), "y": _numpy(y)}
    if arrays["X"].ndim != 3:
        raise DataError(f"{path}: x has shape {arrays['X'].shape}; expected (N, T, F)")
    if arrays["y"].shape != arrays["X"].shape[:1]:
        raise DataError(
            f"{path}: y has shape {arrays['y'].shape}; expected ({arrays['X'].shape[0]},)"
        )
    if lengths is not None:
        arrays["lengths"] = _numpy(lengths)
    if class_names is not None:
        arrays["class_names"] = np.array([str(name) for name in class_names], dtype=str)
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def _read_file(path: Path, labelled: bool = True) -> _Part:
    """One ``.npz`` or ``.csv`` / ``.tsv`` file (optionally ``.gz`` / ``.xz``) of sequences.

    With ``labelled=False`` (new data to predict) the labels may be absent; they read as "".
    """
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataError(
            f"{path}: {what}; expected a .npz or .csv file of sequences: pass an existing file "
            "(check the path)"
        )
    name = path.name.lower()
    for ext in COMPRESSED:
        name = name.removesuffix(ext)
    if name.endswith(".npz"):
        return _read_npz(path, labelled)
    if name.endswith((".csv", ".tsv")):
        return _read_csv(path, "\t" if name.endswith(".tsv") else ",", labelled)
    raise DataError(f"{path}: unknown format; expected a .npz, .csv or .tsv file")


def _read_npz(path: Path, labelled: bool = True) -> _Part:
    raw = read_bytes(path)
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise DataError(f"{path}: not a .npz archive; write one with save_sequences_npz")
    data: dict[str, np.ndarray] = {}
    key = ""
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
            for key in arrays.files:
                data[key] = arrays[key]
    except ValueError as e:
        raise DataError(
            f"{path}: cannot read array {key!r} ({e}); store numbers, and strings as a str array"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(
            f"{path}: cannot read it ({e}); the file is corrupt or truncated: write it again "
            "(save_sequences_npz) or replace it with a fresh copy"
        ) from None

    key = "X" if "X" in data else "x"
    missing = [k for k in (key, "y") if k not in data and (labelled or k != "y")]
    if missing:
        raise DataError(
            f"{path}: no array {missing[0]!r} (found: {', '.join(sorted(data)) or 'none'}); "
            "expected X (N, T, F) and y (N,)"
        )
    x = data[key]
    if x.ndim != 3:
        raise DataError(f"{path}: {key} has shape {x.shape}; expected 3 dimensions (N, T, F)")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: {key} has dtype {x.dtype}; expected numbers")
    n, steps, _ = x.shape
    if 0 in x.shape:
        raise DataError(f"{path}: {key} has shape {x.shape}; expected N, T and F of at least 1")
    y = _whole_numbers(data["y"], "y", n, path) if "y" in data else np.full(n, "", dtype=object)
    lengths = np.full(n, steps, dtype=np.int64)
    if "lengths" in data:
        lengths = _whole_numbers(data["lengths"], "lengths", n, path)
        bad = np.flatnonzero((lengths < 1) | (lengths > steps))
        if len(bad):
            i = bad[0]
            raise DataError(
                f"{path}: lengths[{i}] is {lengths[i]}; expected 1..{steps} (the T of {key})"
            )
    x = x.astype(np.float32)
    mask = np.arange(steps)[None, :] < lengths[:, None]  # (N, T)
    bad = np.argwhere(~np.isfinite(x) & mask[:, :, None])
    if len(bad):
        i, t, f = bad[0]
        raise DataError(
            f"{path}: {key}[{i}, {t}, {f}] is not finite (NaN or infinity); expected finite "
            "numbers (steps past lengths may hold anything)"
        )
    x[~mask] = 0.0
    class_names = None
    if "class_names" in data:
        names = data["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US" or len(names) == 0:
            raise DataError(
                f"{path}: class_names has dtype {names.dtype} and shape {names.shape}; "
                "expected a 1-D array of strings"
            )
        class_names = [v.decode() if isinstance(v, bytes) else str(v) for v in names]
        _check_unique(class_names, f"{path}: class_names")
    return _Part(str(path), x, lengths, y, [f"y[{i}]" for i in range(n)], class_names)


def _read_csv(path: Path, delimiter: str, labelled: bool = True) -> _Part:
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: not UTF-8 text (at byte {e.start}); save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            raise DataError(f"{path}: empty file; expected a header row, then one row per step")
        header_line = reader.line_num
        header = [cell.strip() for cell in header]
        role = _find_columns(header, path, header_line, labelled)
        feature_cols = [j for j in range(len(header)) if j not in role.values()]
        if not feature_cols:
            raise DataError(
                f"{path}: line {header_line}: no feature columns besides "
                f"{', '.join(header[j] for j in role.values())}; add a column per feature"
            )
        seq_of: dict[str, int] = {}  # sequence id -> sequence index, in order of first row
        seq_label: list[str] = []
        seq_line: list[int] = []
        rows_seq: list[int] = []
        rows_time: list[float] = []
        rows_line: list[int] = []
        cells: list[list[str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) != len(header):
                raise DataError(
                    f"{path}: line {line} has {len(row)} fields; the header has {len(header)}: "
                    "give every row one field per header column"
                )
            sid = row[role["sequence"]].strip()
            label = row[role["label"]].strip() if "label" in role else ""
            if not sid or (labelled and not label):
                what = "sequence id" if not sid else "label"
                raise DataError(
                    f"{path}: line {line}: the {what} is empty; write a {what} on every row"
                )
            time = _number(row[role["time"]], path, line, header[role["time"]])
            if sid not in seq_of:
                seq_of[sid] = len(seq_label)
                seq_label.append(label)
                seq_line.append(line)
            elif label != seq_label[seq_of[sid]]:
                raise DataError(
                    f"{path}: line {line}: the label differs from that of the same sequence on "
                    f"line {seq_line[seq_of[sid]]}; a sequence has one label: give all its rows "
                    "the same label"
                )
            rows_seq.append(seq_of[sid])
            rows_time.append(time)
            rows_line.append(line)
            cells.append([row[j] for j in feature_cols])
    except csv.Error as e:
        raise DataError(
            f"{path}: line {reader.line_num}: not valid CSV ({e}); fix that line (quote a field "
            "that holds the delimiter, a quote or a line break)"
        ) from None
    if not cells:
        raise DataError(f"{path}: no rows after the header; add one row per step of each sequence")
    names = [header[j] for j in feature_cols]
    try:
        values = np.array(cells, dtype=np.float64)  # (rows, F)
    except ValueError:
        for line, row in zip(rows_line, cells):
            for name, cell in zip(names, row):
                _number(cell, path, line, name)
        raise DataError(  # pragma: no cover
            f"{path}: the features are not all numbers; write a number in every feature column"
        ) from None
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        r, f = bad[0]
        raise DataError(
            f"{path}: line {rows_line[r]}: column {names[f]!r} is not finite (NaN or infinity); "
            "expected a finite number"
        )

    seq = np.array(rows_seq)
    time = np.array(rows_time)
    order = np.lexsort((time, seq))  # by sequence, then by time
    seq, time = seq[order], time[order]
    same = np.flatnonzero((seq[1:] == seq[:-1]) & (time[1:] == time[:-1]))
    if len(same):
        a, b = sorted((rows_line[order[same[0]]], rows_line[order[same[0] + 1]]))
        raise DataError(
            f"{path}: line {b}: the same sequence already has a step at this time (line {a}); "
            "give each step of a sequence its own time"
        )
    lengths = np.bincount(seq, minlength=len(seq_label)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    step = np.arange(len(seq)) - starts[seq]
    x = np.zeros((len(seq_label), int(lengths.max()), len(names)), dtype=np.float32)
    x[seq, step] = values[order]
    where = [f"line {line}" for line in seq_line]
    labels = np.array(seq_label, dtype=object)
    return _Part(str(path), x, lengths, labels, where, None, names, ids=list(seq_of))


def _find_columns(
    header: list[str], path: Path, line: int, labelled: bool = True
) -> dict[str, int]:
    lower = [name.lower() for name in header]
    _check_unique(lower, f"{path}: line {line}: column")
    role = {}
    for what, names in COLUMNS.items():
        found = [name for name in names if name in lower]
        if not found and what == "label" and not labelled:
            continue
        if not found:
            raise DataError(
                f"{path}: line {line}: no {what!r} column (the header has {len(header)}); "
                f"expected one named {' or '.join(names)}"
            )
        if found[0] != names[0] and len(found) > 1:
            raise DataError(
                f"{path}: line {line}: columns {' and '.join(found)} could both be the {what}; "
                f"rename one, or name the {what} column {names[0]!r}"
            )
        role[what] = lower.index(found[0])
    return role


def _settle_classes(parts: list[_Part], label_indices: bool = False) -> list[str]:
    """The class names of all files together; turns every file's labels into class indices.

    The rule is the module docstring's "Labels": sorted distinct values, unless the labels are
    indices (``label_indices``, or a file gives ``class_names``).
    """
    given = [p for p in parts if p.class_names is not None]
    for p in given[1:]:
        if p.class_names != given[0].class_names:
            raise DataError(
                f"{p.source}: its class_names differ from those in {given[0].source}; give both "
                "files the same class_names, in the same order"
            )
    texts = [p for p in parts if p.labels.dtype == object]  # CSV labels, as written
    named = [p for p in texts if not all(INTEGER.fullmatch(v) for v in p.labels)]
    if named:
        numbered = [p for p in parts if p.labels.dtype != object]
        if numbered:
            raise DataError(
                f"{named[0].source}: labels are class names, but {numbered[0].source} gives "
                "class indices; use one kind of label in both files"
            )
        if label_indices:
            i = next(i for i, v in enumerate(named[0].labels) if not INTEGER.fullmatch(v))
            raise DataError(
                f"{named[0].source}: {named[0].where[i]}: the label is not an integer, but "
                "label_indices is on; write class indices 0..C-1, or turn label_indices off"
            )
        class_names = sorted({v for p in parts for v in p.labels})
        index = {name: i for i, name in enumerate(class_names)}
        for p in parts:
            p.labels = np.array([index[v] for v in p.labels], dtype=np.int64)
        return class_names
    for p in texts:
        p.labels = np.array([int(v) for v in p.labels], dtype=np.int64)
    if not given and not label_indices:
        values = np.unique(np.concatenate([p.labels for p in parts]))  # sorted
        for p in parts:
            p.labels = np.searchsorted(values, p.labels).astype(np.int64)
        return [str(v) for v in values.tolist()]
    if given:
        class_names = given[0].class_names
    else:
        top = max(int(p.labels.max()) for p in parts)
        class_names = [str(i) for i in range(max(top, 0) + 1)]
    for p in parts:
        bad = np.flatnonzero((p.labels < 0) | (p.labels >= len(class_names)))
        if len(bad):
            i = bad[0]
            raise DataError(
                f"{p.source}: {p.where[i]}: label {p.labels[i]} is out of range; expected class "
                f"indices 0..{len(class_names) - 1}"
                + (" (one per class name)" if given else "; or turn label_indices off")
            )
    if not given:
        present = np.unique(np.concatenate([p.labels for p in parts]))
        missing = sorted(set(range(len(class_names))) - set(present.tolist()))
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            warn(
                f"{parts[0].source}: label_indices is on and no sequence has class index "
                f"{shown} of 0..{len(class_names) - 1}; those classes stay, empty (turn "
                "label_indices off to number only the labels present)"
            )
    return class_names


def _match_features(parts: list[_Part]) -> list[str] | None:
    """Check that every file has the training file's features, in its order."""
    first = parts[0]
    for p in parts[1:]:
        if p.x.shape[2] != first.x.shape[2]:
            raise DataError(
                f"{p.source}: {p.x.shape[2]} features but {first.source} has {first.x.shape[2]}; "
                f"give a --test-path file with the training file's {first.x.shape[2]} features"
            )
        if p.feature_names is not None and first.feature_names is not None:
            if sorted(p.feature_names) != sorted(first.feature_names):
                raise DataError(
                    f"{p.source}: feature columns {', '.join(p.feature_names)} differ from "
                    f"{', '.join(first.feature_names)} in {first.source}; give a --test-path "
                    "file with the training file's feature columns"
                )
            p.x = p.x[:, :, [p.feature_names.index(name) for name in first.feature_names]]
            p.feature_names = first.feature_names
    return first.feature_names


def _pad(x: np.ndarray, steps: int) -> np.ndarray:
    if x.shape[1] == steps:
        return x
    out = np.zeros((x.shape[0], steps, x.shape[2]), dtype=x.dtype)
    out[:, : x.shape[1]] = x
    return out


def _whole_numbers(values: np.ndarray, name: str, n: int, path: Path) -> np.ndarray:
    """A (n,) array of integers, from integer or whole float values."""
    if values.ndim != 1 or len(values) != n:
        raise DataError(
            f"{path}: {name} has shape {values.shape}; expected ({n},), one per sequence"
        )
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if not len(bad):
            return values.astype(np.int64)
        raise DataError(f"{path}: {name}[{bad[0]}] is not a whole number; expected integers")
    raise DataError(f"{path}: {name} has dtype {values.dtype}; expected integers")


def _number(cell: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        what = "empty" if not cell.strip() else "not a number"
        raise DataError(
            f"{path}: line {line}: column {column!r} is {what}; expected a number"
        ) from None
    if not np.isfinite(value):
        raise DataError(
            f"{path}: line {line}: column {column!r} is not finite (NaN or infinity); "
            "expected a finite number"
        )
    return value


def _check_unique(names: list[str], what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise DataError(f"{what} {name!r} occurs twice; names must be unique")
        seen.add(name)


def _numpy(value: Tensor | np.ndarray | Sequence) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def read_unlabelled(path: str | Path, num_features: int) -> tuple[Tensor, Tensor | None, list[str]]:
    """New sequences to predict: x (N, T, F), lengths (or None if all full) and sequence ids.

    Reads the same .npz / .csv formats as the ``sequences`` dataset; labels may be absent and
    are ignored. The ids are the CSV's sequence ids, or row numbers 0..N-1 for a .npz.
    """
    path = Path(path)
    part = _read_file(path, labelled=False)
    if part.x.shape[-1] != num_features:
        raise DataError(
            f"{path}: sequences have {part.x.shape[-1]} features; the model expects "
            f"{num_features}: give sequences with the training data's {num_features} features"
        )
    ids = part.ids if part.ids is not None else [str(i) for i in range(len(part.x))]
    lengths = torch.from_numpy(part.lengths)
    full = bool((lengths == part.x.shape[1]).all())
    return torch.from_numpy(part.x), None if full else lengths, ids
