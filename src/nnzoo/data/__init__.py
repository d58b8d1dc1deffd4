"""Datasets by name, read from their ORIGINAL files under a data root, then split.

``load_dataset("uci-har")`` looks in ``<data root>/uci-har/``; ``path=`` points a reader at a file
or folder directly (e.g. ``load_dataset("sequences", path="my.npz")``). The data root is the
``--data-root`` flag, else the ``NNZOO_DATA`` environment variable, else ``~/.cache/nnzoo/data``.

A reader (`DATASETS`) returns what the files hold: the training part and the test part. The
validation set is carved out of the training part afterwards, in one place (`nnzoo.data.splits`),
by a split policy chosen by name (`SPLITS`; ``split=``, a config's ``data.split``), and the
features are then standardised with statistics of the train part.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet, standardize
from nnzoo.data.registry import (
    DATASETS,
    DEFAULTS,
    DOWNLOADS,
    GENERATED,
    RemoteFile,
    dataset_folder,
)
from nnzoo.data.splits import SPLITS, split_plan

# Importing the readers registers them.
from nnzoo.data import uci_har  # noqa: F401  isort: skip
from nnzoo.data import synthetic  # noqa: F401  isort: skip
from nnzoo.data import tokens  # noqa: F401  isort: skip
from nnzoo.data import catvnoncat  # noqa: F401  isort: skip
from nnzoo.data import planar  # noqa: F401  isort: skip
from nnzoo.data import tabular  # noqa: F401  isort: skip
from nnzoo.data import images  # noqa: F401  isort: skip
from nnzoo.data import sentiment  # noqa: F401  isort: skip
from nnzoo.data import tatoeba  # noqa: F401  isort: skip
from nnzoo.data import music  # noqa: F401  isort: skip
from nnzoo.data.download import download  # isort: skip
from nnzoo.data.fashion_mnist import as_images, load_fashion_mnist  # isort: skip
from nnzoo.data.sequences import load_sequences, save_sequences_npz  # isort: skip

ENV_VAR = "NNZOO_DATA"
DATA_ROOT_HELP = f"folder of datasets (default: ${ENV_VAR}, else ~/.cache/nnzoo/data)"


def data_root(flag: str | os.PathLike | None = None) -> Path:
    """The data root: the flag, else $NNZOO_DATA, else ~/.cache/nnzoo/data."""
    if flag:
        return Path(flag).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "nnzoo" / "data"


def list_datasets() -> list[str]:
    return DATASETS.names()


def list_splits() -> list[str]:
    return SPLITS.names()


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    seed: int | None = None,
    split: str | None = None,
    **options: Any,
) -> DataSplits:
    """Read dataset ``name`` from ``path``, or from ``<root>/<name>``, as train/val/test splits.

    Args:
        name: a registered dataset (`list_datasets`).
        root: the data root; None: `data_root`.
        path: the dataset's file or folder, instead of ``<root>/<name>``.
        seed: seeds the split policy (and draws a generated dataset); None: 0.
        split: the split policy (`list_splits`); None: the dataset's own.
        **options: each goes where its name is taken: to the reader (``test_path``, ``length``),
            to the split policy (``val_fraction``, ``folds``, ``fold``; uci-har's
            ``val_subjects``) or, as ``standardize_features``, to the scaling. None keeps the
            default.
    """
    source = Path(path).expanduser() if path else dataset_folder(data_root(root), name)
    plan = split_plan(name, split, options)  # bad names fail before the file system is touched
    if not source.exists() and name not in GENERATED:
        hint = (
            f"run `nnzoo data download {name}` or put the original files there"
            if name in DOWNLOADS
            else "pass the file with --data-path"
        )
        raise DataError(f"{name}: {source} does not exist; {hint} (data root: {data_root(root)})")
    return plan.load(source, seed)


__all__ = [
    "DATASETS",
    "DATA_ROOT_HELP",
    "DEFAULTS",
    "DOWNLOADS",
    "ENV_VAR",
    "SPLITS",
    "DataError",
    "DataParts",
    "DataSplits",
    "RemoteFile",
    "SequenceSet",
    "as_images",
    "data_root",
    "download",
    "list_datasets",
    "list_splits",
    "load_dataset",
    "load_fashion_mnist",
    "load_sequences",
    "save_sequences_npz",
    "standardize",
]
