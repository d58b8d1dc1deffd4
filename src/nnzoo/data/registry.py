"""The dataset registry, and the official files each dataset can be downloaded from."""

from __future__ import annotations

from dataclasses import dataclass

from nnzoo.data.base import DataSplits
from nnzoo.registry import Registry

DATASETS: Registry[DataSplits] = Registry("dataset")


@dataclass(frozen=True)
class RemoteFile:
    """One official file: where it is published, its name on disk and its sha256."""

    url: str
    filename: str
    sha256: str


# name -> the files `nnzoo data download NAME` fetches into <data root>/<name>/
DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {}

# datasets drawn from a seed: they read no files, so need no folder under the data root
GENERATED: set[str] = set()
