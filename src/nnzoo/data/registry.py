"""The dataset registry, the official files each dataset can be downloaded from, and what each
dataset does after reading when the config leaves it open (its split policy, standardisation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnzoo.data.base import DataParts
from nnzoo.registry import Registry

DATASETS: Registry[DataParts] = Registry("dataset")


@dataclass(frozen=True)
class RemoteFile:
    """One official file: where it is published, its name on disk and its sha256."""

    url: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class DatasetDefaults:
    """How a dataset is split and scaled when the config says nothing.

    Attributes:
        split: the split policy, a name in `nnzoo.data.splits.SPLITS`.
        options: start values of split options, for whichever policy takes them (fashion-mnist:
            ``val_fraction`` 1/12); the config's options override them.
        aliases: the dataset's own names for split options (uci-har: ``val_subjects`` for
            ``val_groups``), so that existing configs keep working.
        standardize: whether the features are standardised unless ``standardize_features``
            says otherwise; None: the data has no features to scale and takes no such option.
    """

    split: str
    options: Mapping[str, Any] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    standardize: bool | None = None


# name -> the files `nnzoo data download NAME` fetches into <data root>/<name>/
DOWNLOADS: dict[str, tuple[RemoteFile, ...]] = {}

# name -> its split policy and standardisation (set next to each reader)
DEFAULTS: dict[str, DatasetDefaults] = {}

# datasets drawn from a seed: they read no files, so need no folder under the data root
GENERATED: set[str] = set()

# name -> its folder under the data root, where that is not <name> (dogs-vs-cats: the subset's
# train/ folder, as the shared data holds it)
FOLDERS: dict[str, str] = {}


def dataset_folder(root: Path, name: str) -> Path:
    """Where dataset ``name`` lives under the data root ``root``."""
    return root / FOLDERS.get(name, name)
