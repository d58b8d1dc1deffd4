"""Datasets by name, read from their ORIGINAL files under a data root.

``load_dataset("uci-har")`` looks in ``<data root>/uci-har/``; ``path=`` points a reader at a file
or folder directly (e.g. ``load_dataset("sequences", path="my.npz")``). The data root is the
``--data-root`` flag, else the ``NNZOO_DATA`` environment variable, else ``~/.cache/nnzoo/data``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnzoo.data.base import DataError, DataSplits, SequenceSet, standardize
from nnzoo.data.registry import DATASETS, DOWNLOADS, GENERATED, RemoteFile

# Importing the readers registers them.
from nnzoo.data import uci_har  # noqa: F401  isort: skip
from nnzoo.data import synthetic  # noqa: F401  isort: skip
from nnzoo.data import tokens  # noqa: F401  isort: skip
from nnzoo.data.download import download  # isort: skip
from nnzoo.data.fashion_mnist import as_images, load_fashion_mnist  # isort: skip
from nnzoo.data.sequences import load_sequences, save_sequences_npz  # isort: skip

ENV_VAR = "NNZOO_DATA"


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


def load_dataset(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    **options: Any,
) -> DataSplits:
    """Read dataset ``name`` from ``path``, or from ``<root>/<name>``, as train/val/test splits.

    Options (``seed``, ``val_subjects``, ``standardize``, ...) go to the reader; None keeps the
    reader's default.
    """
    source = Path(path).expanduser() if path else data_root(root) / name
    DATASETS.get(name)  # unknown names fail before the file system is touched
    if not source.exists() and name not in GENERATED:
        hint = (
            f"run `nnzoo data download {name}` or put the original files there"
            if name in DOWNLOADS
            else "pass the file with --data-path"
        )
        raise DataError(f"{name}: {source} does not exist; {hint} (data root: {data_root(root)})")
    return DATASETS.create(name, source, **options)


__all__ = [
    "DATASETS",
    "DOWNLOADS",
    "ENV_VAR",
    "DataError",
    "DataSplits",
    "RemoteFile",
    "SequenceSet",
    "as_images",
    "data_root",
    "download",
    "list_datasets",
    "load_dataset",
    "load_fashion_mnist",
    "load_sequences",
    "save_sequences_npz",
    "standardize",
]
