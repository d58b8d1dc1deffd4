r"""Two small tables of the classic tutorials: Sonar (mines vs rocks) and Pima Indians diabetes.

Shape legend: N rows, F features (T = 1 step).

Both are the ORIGINAL comma-separated files, one example a line, no header, the label last:

=========================  ===========================================  ===========  ===========
dataset                    data root layout                             features     label
=========================  ===========================================  ===========  ===========
``sonar``                  ``<data root>/sonar/sonar.csv``              F = 60       ``M`` / ``R``
``pima-indians-diabetes``  ``<data root>/pima-indians-diabetes/``       F = 8        ``0`` / ``1``
                           ``pima-indians-diabetes.csv``
=========================  ===========================================  ===========  ===========

Sonar (Gorman and Sejnowski 1988): 208 sonar returns, the energy in 60 frequency bands, each in
[0, 1]; ``M`` a metal cylinder (a mine, class 0), ``R`` a rock (class 1), the classes numbered
by the sorted labels as scikit-learn's ``LabelEncoder`` numbers them (111 M, 97 R). Pima (Smith
et al. 1988): 768 women, 8 clinical measurements (`PIMA_FEATURES`; a zero stands for a missing
value in several columns, as in the original), class 1 "tested positive for diabetes" (500
negative, 268 positive).

Every row becomes one step of F features: x (N, 1, F) float32, so that the ``mlp`` model reads
``input_shape`` (1, F) and flattens it to F inputs, and a sequence model sees T = 1. The numbers
are read by `nnzoo.data.files.parse_table` (which names the line of a value that is not a finite
number); the label column is checked here.

Parts: neither file has a test set, so the reader holds out a stratified ``test_fraction``
(0.2) of each class, always drawn with seed 0 so that the test rows stay the same when the seed
changes. The split (`nnzoo.data.splits`) then draws validation from the rest, by default the
``stratified`` policy with ``val_fraction`` 0.25, seeded: 60 / 20 / 20 percent of the rows for
train / val / test (sonar 125 / 42 / 41, pima 460 / 154 / 154). The features are standardised
with statistics of the train part (``standardize_features``, on by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.files import parse_table, read_bytes
from nnzoo.data.registry import DATASETS, DEFAULTS, DatasetDefaults
from nnzoo.data.sequences import TEST_SEED
from nnzoo.data.splits import check_test_fraction, prepare, split_random

PIMA_FEATURES = (
    "pregnancies",
    "plasma glucose (2 h oral glucose tolerance test)",
    "diastolic blood pressure (mm Hg)",
    "triceps skin fold thickness (mm)",
    "2-hour serum insulin (mu U/ml)",
    "body mass index (kg/m^2)",
    "diabetes pedigree function",
    "age (years)",
)


@dataclass(frozen=True)
class Table:
    """One dataset's file format.

    Attributes:
        name: the registry name, also the folder under the data root.
        filenames: the file to look for in a folder, first the usual name.
        features: F, the numbers before the label on every line.
        labels: the label of each class as the file writes it, in class order.
        class_names: one name per class.
        feature_names: one per feature, for ``info``; None: F unnamed columns.
    """

    name: str
    filenames: tuple[str, ...]
    features: int
    labels: tuple[str, ...]
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None = None


SONAR = Table("sonar", ("sonar.csv", "sonar.all-data"), 60, ("M", "R"), ("M", "R"))
PIMA = Table(
    "pima-indians-diabetes",
    ("pima-indians-diabetes.csv", "pima-indians-diabetes.data.csv", "pima-indians-diabetes.data"),
    8,
    ("0", "1"),
    ("negative", "positive"),
    PIMA_FEATURES,
)
TEST_FRACTION = 0.2
VAL_FRACTION = 0.25  # of the rows left after the test rows: 20 percent of all

for _table in (SONAR, PIMA):
    DEFAULTS[_table.name] = DatasetDefaults(
        "stratified", {"val_fraction": VAL_FRACTION}, standardize=True
    )


def find_file(table: Table, source: Path) -> Path:
    """``source`` itself, or the dataset's file in the folder ``source``."""
    source = Path(source).expanduser()
    if source.is_file():
        return source
    if source.is_dir():
        for name in table.filenames:
            for candidate in (source / name, source / f"{name}.gz", source / f"{name}.xz"):
                if candidate.is_file():
                    return candidate
    raise DataError(
        f"{source / table.filenames[0] if source.is_dir() else source}: missing; put the original "
        f"{table.filenames[0]} in <data root>/{table.name}/ (--data-root; `nnzoo train` also "
        "takes the file itself as --data-path)"
    )


def read_table(table: Table, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``path``: x (N, F) float64 and y (N,) int64 class indices."""
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file; get a fresh copy of {table.name}") from None
    columns = table.features + 1
    expected = " or ".join(table.labels)
    numbers: list[str] = []  # the features of every line, blank where the file's line is blank
    labels: list[int] = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            numbers.append("")
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != columns:
            raise DataError(
                f"{path}: line {i} has {len(fields)} comma-separated fields; expected {columns} "
                f"({table.features} features, then the label {expected}); fix that line or get a "
                "fresh copy of the file"
            )
        for k, field in enumerate(fields[:-1], 1):
            if not field or any(c.isspace() for c in field):
                what = "empty" if not field else "not a number"
                raise DataError(
                    f"{path}: line {i}: value {k} is {what}; fix that line or get a fresh copy "
                    "of the file"
                )
        if fields[-1] not in table.labels:
            raise DataError(
                f"{path}: line {i}: the label (field {columns}) is not {expected}; fix that line "
                "or get a fresh copy of the file"
            )
        numbers.append(" ".join(fields[:-1]))
        labels.append(table.labels.index(fields[-1]))
    # parse_table counts lines as the file does (the blank ones kept) and fails on empty text
    x = parse_table("\n".join(numbers), table.features, source=str(path))  # (N, F)
    return x, np.array(labels, dtype=np.int64)


def read(table: Table, source: Path, test_fraction: float) -> DataParts:
    """Every row of the table, a stratified ``test_fraction`` of it held out as the test part."""
    path = find_file(table, source)
    check_test_fraction(test_fraction, source=str(path), example=TEST_FRACTION)
    x, y = read_table(table, path)
    rows = SequenceSet(torch.from_numpy(x.astype(np.float32)).unsqueeze(1), torch.from_numpy(y))
    train, test = split_random(rows, test_fraction, TEST_SEED, source=str(path))
    if len(test) == 0 or len(train) == 0:
        what = "rounds to no test row in any class" if not len(test) else "leaves no training row"
        change = "raise" if len(test) == 0 else "lower"
        raise DataError(
            f"{path}: test_fraction={test_fraction:g} {what} ({len(rows)} rows); {change} "
            "data.options.test_fraction"
        )
    features = list(table.feature_names) if table.feature_names else table.features
    info = {
        "source": str(path),
        "layout": f"one row a step: T = 1 step of F = {table.features} features",
        "features": features,
        "labels": {label: i for i, label in enumerate(table.labels)},
        "test": f"a stratified {test_fraction:g} of {path} (seed {TEST_SEED})",
    }
    return DataParts(table.name, train, test, list(table.class_names), info, rows="rows")


@DATASETS.register(SONAR.name)
def read_sonar(source: Path, *, test_fraction: float = TEST_FRACTION) -> DataParts:
    """Sonar's 208 rows: x (N, 1, 60), M = 0, R = 1; a stratified test share held out.

    Args:
        source: ``sonar.csv`` or the folder holding it.
        test_fraction: share of each class held out as the test part (seed 0).
    """
    return read(SONAR, source, test_fraction)


@DATASETS.register(PIMA.name)
def read_pima(source: Path, *, test_fraction: float = TEST_FRACTION) -> DataParts:
    """Pima's 768 rows: x (N, 1, 8), label 0 / 1 as written; a stratified test share held out.

    Args:
        source: ``pima-indians-diabetes.csv`` or the folder holding it.
        test_fraction: share of each class held out as the test part (seed 0).
    """
    return read(PIMA, source, test_fraction)


def load_sonar(source: Path, **options) -> DataSplits:
    """Sonar as train / val / test: ``load_dataset("sonar", path=source)``.

    Args:
        source: ``sonar.csv`` or the folder holding it.
        **options: ``test_fraction`` (0.2), ``seed`` (draws the validation rows), ``split``
            and its options (``val_fraction``: share of each class of the rest, 0.25) and
            ``standardize_features`` (on by default).
    """
    return prepare(SONAR.name, source, **options)


def load_pima(source: Path, **options) -> DataSplits:
    """Pima as train / val / test: ``load_dataset("pima-indians-diabetes", path=source)``.

    Args:
        source: ``pima-indians-diabetes.csv`` or the folder holding it.
        **options: as `load_sonar`'s.
    """
    return prepare(PIMA.name, source, **options)
