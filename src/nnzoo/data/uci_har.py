"""UCI HAR (Anguita et al. 2013): 9 raw inertial channels, 128 steps at 50 Hz, 6 activities.

Reads the ORIGINAL distribution as it is: ``UCI HAR Dataset.zip``, its extracted folder, or the
folder with the signal files compressed (``*.txt.xz`` / ``*.txt.gz``). ``source`` may be the zip,
the ``UCI HAR Dataset`` folder, or a folder holding either.

Returns x (N, 128, 9) float32 with the channels in the order of ``CHANNELS``, labels 0..5 named
by ``activity_labels.txt`` and subject ids as groups. Validation holds every window of
``val_subjects`` of the 21 training subjects (seeded), never test windows; standardisation
statistics come from the remaining training subjects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnzoo.data.base import (
    DataError,
    DataSplits,
    SequenceSet,
    check_labels,
    split_by_group,
    standardize,
)
from nnzoo.data.files import FileTree, parse_table
from nnzoo.data.registry import DATASETS, DOWNLOADS, RemoteFile

FOLDER = "UCI HAR Dataset"
CHANNELS = tuple(
    f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"
)
STEPS = 128

# The archive UCI publishes. Its sha256 is the one recorded for a 61,000,453-byte copy of
# "UCI HAR Dataset.zip"; `nnzoo data download` refuses any file that does not match it.
DOWNLOADS["uci-har"] = (
    RemoteFile(
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00240/UCI%20HAR%20Dataset.zip",
        filename="UCI HAR Dataset.zip",
        sha256="a2b4d0301548a7f06c9628b567edf7eb2f2c3f279bb994f004314aa93470d462",
    ),
)


def open_tree(source: Path) -> FileTree:
    """Find the dataset in ``source``: the zip, the folder, or a folder holding either."""
    if source.is_file():
        tree = FileTree(source)
        for name in tree.names():
            if name.endswith("activity_labels.txt") and "__MACOSX" not in name:
                return FileTree(source, prefix=name[: -len("activity_labels.txt")])
        raise DataError(f"{source}: no activity_labels.txt inside; not the UCI HAR archive")
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
    y = parse_table(tree.read_text(name), 1, source=tree.describe(name))[:, 0]
    name = f"{part}/subject_{part}.txt"
    subjects = parse_table(tree.read_text(name), 1, source=tree.describe(name))[:, 0]
    if len(subjects) != len(y):
        raise DataError(
            f"{tree.describe(name)}: {len(subjects)} rows but y_{part}.txt has {len(y)}"
        )
    channels = []
    for channel in CHANNELS:
        name = f"{part}/Inertial Signals/{channel}_{part}.txt"
        table = parse_table(tree.read_text(name), STEPS, source=tree.describe(name))
        if len(table) != len(y):
            raise DataError(
                f"{tree.describe(name)}: {len(table)} rows but y_{part}.txt has {len(y)}"
            )
        channels.append(table)
    x = torch.from_numpy(np.stack(channels, axis=-1).astype(np.float32))  # (N, 128, 9)
    labels = torch.from_numpy(y.astype(np.int64)) - 1  # the files count from 1
    check_labels(labels, num_classes, source=tree.describe(f"{part}/y_{part}.txt"))
    return SequenceSet(x, labels, None, torch.from_numpy(subjects.astype(np.int64)))


@DATASETS.register("uci-har")
def load_uci_har(
    source: Path, *, seed: int = 0, val_subjects: int = 5, standardize_features: bool = True
) -> DataSplits:
    """UCI HAR as train / val (by subject) / test.

    Args:
        source: the zip, the extracted folder, or a folder holding either.
        seed: picks the validation subjects.
        val_subjects: how many of the 21 training subjects validate (0 turns validation off).
        standardize_features: zero mean, unit variance per channel, fitted on the train part.
    """
    tree = open_tree(Path(source))
    class_names: list[str] = []
    for i, line in enumerate(tree.read_text("activity_labels.txt").splitlines(), 1):
        fields = line.split(maxsplit=1)
        if not fields:
            continue
        if len(fields) != 2 or fields[0] != str(len(class_names) + 1):
            raise DataError(
                f"{tree.describe('activity_labels.txt')}: line {i} is {line.strip()!r}; "
                f"expected '{len(class_names) + 1} <ACTIVITY NAME>' (labels numbered 1, 2, ...)"
            )
        class_names.append(fields[1].strip())
    train = read_part(tree, "train", len(class_names))
    test = read_part(tree, "test", len(class_names))
    train, val, chosen = split_by_group(train, val_subjects, seed, source=str(tree))
    splits = DataSplits(
        "uci-har",
        train,
        val,
        test,
        class_names,
        {
            "source": str(tree),
            "channels": list(CHANNELS),
            "validation": f"subjects {chosen} of the training set (seed {seed})",
        },
    )
    return standardize(splits) if standardize_features else splits
