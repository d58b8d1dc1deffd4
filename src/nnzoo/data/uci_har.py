"""UCI HAR (Anguita et al. 2013): 9 raw inertial channels, 128 steps at 50 Hz, 6 activities.

Reads the ORIGINAL distribution as it is: ``UCI HAR Dataset.zip``, its extracted folder, or the
folder with the signal files compressed (``*.txt.xz`` / ``*.txt.gz``). ``source`` may be the zip,
the ``UCI HAR Dataset`` folder, or a folder holding either.

`read_uci_har` returns the train/ and test/ windows as they are: x (N, 128, 9) float32 with the
channels in the order of ``CHANNELS``, labels 0..5 named by ``activity_labels.txt`` and subject
ids as groups. The split (`nnzoo.data.splits`) then carves validation out of the training
windows, by default the ``group`` policy: every window of ``val_subjects`` (the dataset's name
for ``val_groups``, 5 by default) of the 21 training subjects, seeded, never test windows; the
channels are standardised with statistics of the remaining training subjects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.download import FOUND
from nnzoo.data.files import FileTree, parse_table
from nnzoo.data.registry import DATASETS, DEFAULTS, DOWNLOADS, DatasetDefaults, RemoteFile
from nnzoo.data.splits import prepare

FOLDER = "UCI HAR Dataset"
CHANNELS = tuple(
    f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"
)
STEPS = 128
# the action when the files disagree: one of them was cut or edited
FRESH = "replace the dataset's files with a fresh copy of the same release"

# The archive UCI publishes. Its sha256 is the one recorded for a 61,000,453-byte copy of
# "UCI HAR Dataset.zip"; `nnzoo data download` refuses any file that does not match it.
DOWNLOADS["uci-har"] = (
    RemoteFile(
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00240/UCI%20HAR%20Dataset.zip",
        filename="UCI HAR Dataset.zip",
        sha256="a2b4d0301548a7f06c9628b567edf7eb2f2c3f279bb994f004314aa93470d462",
    ),
)


def find_extracted(folder: Path) -> Path | None:
    """The extracted ``UCI HAR Dataset`` folder in ``folder`` (or ``folder`` itself), when it
    holds every file the reader needs (plain, ``.xz`` or ``.gz``); else None."""
    needed = ["activity_labels.txt"]
    for part in ("train", "test"):
        needed += [f"{part}/y_{part}.txt", f"{part}/subject_{part}.txt"]
        needed += [f"{part}/Inertial Signals/{channel}_{part}.txt" for channel in CHANNELS]
    for candidate in (folder / FOLDER, folder):
        if candidate.is_dir() and all(FileTree(candidate).exists(name) for name in needed):
            return candidate
    return None


FOUND["uci-har"] = find_extracted
DEFAULTS["uci-har"] = DatasetDefaults(
    "group", {"val_groups": 5}, aliases={"val_subjects": "val_groups"}, standardize=True
)


def open_tree(source: Path) -> FileTree:
    """Find the dataset in ``source``: the zip, the folder, or a folder holding either."""
    if source.is_file():
        tree = FileTree(source)
        for name in tree.names():
            if name.endswith("activity_labels.txt") and "__MACOSX" not in name:
                return FileTree(source, prefix=name[: -len("activity_labels.txt")])
        raise DataError(
            f"{source}: no activity_labels.txt inside; not the UCI HAR archive: give "
            f"'{FOLDER}.zip' as UCI publishes it (`nnzoo data download uci-har`) or its folder"
        )
    for candidate in (source, source / FOLDER):
        if (candidate / "activity_labels.txt").is_file():
            return FileTree(candidate)
    if (source / f"{FOLDER}.zip").is_file():
        return open_tree(source / f"{FOLDER}.zip")
    raise DataError(
        f"{source}: no UCI HAR data (expected '{FOLDER}/activity_labels.txt' or '{FOLDER}.zip'); "
        "run `nnzoo data download uci-har` or point --data-path at the folder or zip"
    )


def read_part(tree: FileTree, part: str, num_classes: int) -> SequenceSet:
    """The ``train`` or ``test`` windows: (N, 128, 9) signals, labels 0..5, subject ids."""
    name = f"{part}/y_{part}.txt"
    text = tree.read_text(name)
    y = parse_table(text, 1, source=tree.describe(name))[:, 0]
    bad = np.flatnonzero((y != np.round(y)) | (y < 1) | (y > num_classes))
    if len(bad):
        line = [i for i, row in enumerate(text.splitlines(), 1) if row.split()][bad[0]]
        raise DataError(
            f"{tree.describe(name)}: line {line}: the label is not a whole number in "
            f"1..{num_classes} (the activities of activity_labels.txt); get a fresh copy of the "
            "file"
        )
    name = f"{part}/subject_{part}.txt"
    subjects = parse_table(tree.read_text(name), 1, source=tree.describe(name))[:, 0]
    if len(subjects) != len(y):
        raise DataError(
            f"{tree.describe(name)}: {len(subjects)} rows but y_{part}.txt has {len(y)}; {FRESH}"
        )
    channels = []
    for channel in CHANNELS:
        name = f"{part}/Inertial Signals/{channel}_{part}.txt"
        table = parse_table(tree.read_text(name), STEPS, source=tree.describe(name))
        if len(table) != len(y):
            raise DataError(
                f"{tree.describe(name)}: {len(table)} rows but y_{part}.txt has {len(y)}; {FRESH}"
            )
        channels.append(table)
    x = torch.from_numpy(np.stack(channels, axis=-1).astype(np.float32))  # (N, 128, 9)
    labels = torch.from_numpy(y.astype(np.int64)) - 1  # the files count from 1
    return SequenceSet(x, labels, None, torch.from_numpy(subjects.astype(np.int64)))


def read_activity_labels(tree: FileTree) -> list[str]:
    """The activity names of ``activity_labels.txt``: one ``<number> <NAME>`` line per class,
    numbered 1, 2, ... in order (blank lines skipped)."""
    source = tree.describe("activity_labels.txt")
    expected = "expected one '<number> <ACTIVITY NAME>' line per activity, numbered 1, 2, ..."
    class_names: list[str] = []
    for i, line in enumerate(tree.read_text("activity_labels.txt").splitlines(), 1):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        if len(fields) != 2 or fields[0] != str(len(class_names) + 1):
            raise DataError(
                f"{source}: line {i} is not '{len(class_names) + 1} <ACTIVITY NAME>'; {expected} "
                "(get a fresh copy of the file)"
            )
        class_names.append(fields[1].strip())
    if not class_names:
        raise DataError(f"{source}: empty; {expected} (get a fresh copy of the file)")
    return class_names


@DATASETS.register("uci-har")
def read_uci_har(source: Path) -> DataParts:
    """UCI HAR's training and test windows, as the files hold them.

    Args:
        source: the zip, the extracted folder, or a folder holding either.
    """
    tree = open_tree(Path(source))
    class_names = read_activity_labels(tree)
    return DataParts(
        "uci-har",
        read_part(tree, "train", len(class_names)),
        read_part(tree, "test", len(class_names)),
        class_names,
        {"source": str(tree), "channels": list(CHANNELS)},
        rows="windows",
        groups="subjects",
    )


def load_uci_har(source: Path, **options) -> DataSplits:
    """UCI HAR as train / val (by subject) / test: ``load_dataset("uci-har", path=source)``.

    Args:
        source: the zip, the extracted folder, or a folder holding either.
        **options: ``seed`` (picks the validation subjects), ``split`` and its options
            (``val_subjects``: how many of the 21 training subjects validate, 5; 0 turns
            validation off) and ``standardize_features`` (zero mean, unit variance per channel,
            fitted on the train part; on by default).
    """
    return prepare("uci-har", source, **options)
