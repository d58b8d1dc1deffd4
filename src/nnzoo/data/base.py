"""What every dataset reader returns: padded sequences with labels, split three ways.

Shape legend: N sequences, T time steps, F features (the I of the cells).

A reader turns ORIGINAL files into a `DataSplits`: train / val / test `SequenceSet`s, class names
and a record of where the data came from. Validation is always carved out of the training files,
never out of the test files, and standardisation statistics come from the training part alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from nnzoo.errors import NnzooError


class DataError(NnzooError, ValueError):
    """A missing, corrupt or inconsistent data file. The message names the file and the problem."""


@dataclass
class SequenceSet:
    """N labelled sequences, padded to a common length T.

    Attributes:
        x: (N, T, F) float32; steps past a sequence's length are zero.
        y: (N,) int64 class indices in [0, num_classes).
        lengths: (N,) int64 true lengths, or None when every sequence has length T.
        groups: (N,) int64 group ids (e.g. UCI HAR subjects), or None.
    """

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None
    groups: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.x.shape[0]
        for name in ("y", "lengths", "groups"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != n:
                raise DataError(f"{name} has {value.shape[0]} rows but x has {n}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index: Tensor) -> SequenceSet:
        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[index]

        return SequenceSet(self.x[index], self.y[index], pick(self.lengths), pick(self.groups))

    def mask(self) -> Tensor:
        """(N, T) bool: True on the steps that are really there."""
        steps = torch.arange(self.x.shape[1])
        if self.lengths is None:
            return torch.ones(self.x.shape[:2], dtype=torch.bool)
        return steps[None, :] < self.lengths[:, None]


@dataclass
class DataSplits:
    """train / val / test sets of one dataset, with class names and provenance.

    Attributes:
        name: registry name of the dataset.
        train, val, test: the three splits (val may be empty when ``val`` is turned off).
        class_names: one name per class index.
        info: where the data came from and what was done to it (source path, split rule,
            standardisation mean and std), written into every run's report.
    """

    name: str
    train: SequenceSet
    val: SequenceSet
    test: SequenceSet
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return self.train.x.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def seq_len(self) -> int:
        return self.train.x.shape[1]


def scale(data: SequenceSet, mean: Tensor, std: Tensor) -> SequenceSet:
    """(x - mean) / std on the steps that are there; padding stays zero."""
    x = (data.x - mean) / std * data.mask().unsqueeze(-1)
    return SequenceSet(x.float(), data.y, data.lengths, data.groups)


def restandardize(data: SequenceSet, stats: dict[str, list[float]] | None) -> SequenceSet:
    """New data treated as the training data was: scaled with the statistics `standardize`
    fitted (``info["standardize"]``, which a run keeps in its checkpoints' ``extra``);
    unchanged without them."""
    if not stats:
        return data
    return scale(data, torch.tensor(stats["mean"]), torch.tensor(stats["std"]))


def standardize(splits: DataSplits) -> DataSplits:
    """Scale every feature to zero mean, unit variance with statistics of the TRAIN part only.

    Padding steps are left out of the statistics and stay zero.
    """
    train = splits.train
    mask = train.mask()  # (N, T)
    rows = train.x[mask]  # (steps, F)
    mean = rows.mean(0)
    std = rows.std(0).clamp_min(1e-8)

    info = dict(splits.info, standardize={"mean": mean.tolist(), "std": std.tolist()})
    return DataSplits(
        splits.name,
        scale(splits.train, mean, std),
        scale(splits.val, mean, std),
        scale(splits.test, mean, std),
        splits.class_names,
        info,
    )


def split_by_group(
    data: SequenceSet, num_val_groups: int, seed: int, *, source: str
) -> tuple[SequenceSet, SequenceSet, list[int]]:
    """Move every sequence of ``num_val_groups`` randomly chosen groups into a validation set."""
    if data.groups is None:
        raise DataError(f"{source}: no group ids to split by")
    groups = torch.unique(data.groups)
    if not 0 <= num_val_groups < len(groups):
        raise DataError(
            f"{source}: cannot hold out {num_val_groups} of {len(groups)} groups for validation; "
            f"expected 0 to {len(groups) - 1}"
        )
    gen = torch.Generator().manual_seed(seed)
    chosen = groups[torch.randperm(len(groups), generator=gen)[:num_val_groups]]
    is_val = torch.isin(data.groups, chosen)
    return (
        data.subset(torch.nonzero(~is_val).squeeze(1)),
        data.subset(torch.nonzero(is_val).squeeze(1)),
        sorted(chosen.tolist()),
    )


def split_random(
    data: SequenceSet, val_fraction: float, seed: int, *, source: str
) -> tuple[SequenceSet, SequenceSet]:
    """Hold out a seeded random ``val_fraction`` of the sequences, stratified by class."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"{source}: val_fraction={val_fraction!r}; expected a number in [0, 1)")
    gen = torch.Generator().manual_seed(seed)
    val_index = []
    for label in torch.unique(data.y):
        rows = torch.nonzero(data.y == label).squeeze(1)
        rows = rows[torch.randperm(len(rows), generator=gen)]
        val_index.append(rows[: round(val_fraction * len(rows))])
    is_val = torch.zeros(len(data), dtype=torch.bool)
    if val_index:  # no classes at all when ``data`` is empty
        is_val[torch.cat(val_index)] = True
    return (
        data.subset(torch.nonzero(~is_val).squeeze(1)),
        data.subset(torch.nonzero(is_val).squeeze(1)),
    )


def check_labels(y: Tensor, num_classes: int, *, source: str | Path) -> None:
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise DataError(
            f"{source}: label {bad} is out of range; expected class indices 0..{num_classes - 1}"
        )
