"""What readers return (`DataParts`) and what a run trains on (`DataSplits`).

Shape legend: N sequences, T time steps, F features (the I of the cells).

A reader turns ORIGINAL files into `DataParts`: the training part, the test part, class names and
a record of where the data came from; it draws no validation set. `nnzoo.data.splits` then carves
the validation set out of the training part with a split policy chosen by name, never out of the
test part, and standardises with statistics of what is left for training; the result is a
`DataSplits` of train / val / test `SequenceSet`s (or token sets, `nnzoo.data.tokens`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor

from nnzoo.errors import ConfigError, NnzooError

if TYPE_CHECKING:
    from nnzoo.data.text import Vocabulary


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
                raise DataError(
                    f"{name} has {value.shape[0]} rows but x has {n}; give {name} one row per "
                    "sequence of x"
                )

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        """Row ``i`` as a map-style torch ``Dataset`` gives it: x (T, F), y (), its length ()."""
        length = self.lengths[i] if self.lengths is not None else torch.tensor(self.x.shape[1])
        return self.x[i], self.y[i], length

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


class Rows(Protocol):
    """What a split policy needs of a part: its number of rows and a subset of them."""

    def __len__(self) -> int: ...

    def subset(self, index: Tensor) -> Rows: ...


@dataclass
class DataParts:
    """What a reader returns: the parts its files hold, before a split policy and standardisation.

    Attributes:
        name: registry name of the dataset.
        train: the training part (a `SequenceSet`, or token sets); the split policy carves the
            validation set out of it.
        test: the official test part, or (data without one) the part the reader holds out.
        class_names: one name per class index (the vocabulary for token sets).
        info: where the data came from (source path, layout, how the test part was chosen).
        val: a validation part drawn with the data (the generated datasets), which the
            ``given`` policy keeps; None when the files hold none.
        rows: what a row is called in ``info`` ("windows", "images", "sequences").
        groups: what a group is called in ``info`` ("subjects").
        vocabulary: the input `nnzoo.data.text.Vocabulary` of text read as token ids (built
            from the training part alone), which a run keeps so that new text is encoded as
            the training text was; None for data that is not text.
    """

    name: str
    train: Rows
    test: Rows
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    val: Rows | None = None
    rows: str = "sequences"
    groups: str = "groups"
    vocabulary: Vocabulary | None = None


@dataclass
class DataSplits:
    """train / val / test sets of one dataset, with class names and provenance.

    Attributes:
        name: registry name of the dataset.
        train, val, test: the three splits (val may be empty when ``val`` is turned off).
        class_names: one name per class index.
        info: where the data came from and what was done to it (source path, the validation
            rows and the split policy, standardisation mean and std), written into every run's
            report.
        vocabulary: the input vocabulary of text data (`DataParts`), or None.
    """

    name: str
    train: SequenceSet
    val: SequenceSet
    test: SequenceSet
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    vocabulary: Vocabulary | None = None

    @property
    def num_features(self) -> int:
        """F, features per step; for text read as token ids, the vocabulary's size."""
        if self.vocabulary is not None:
            return len(self.vocabulary)
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
    if not isinstance(train.x, Tensor):  # images stored as uint8 (`nnzoo.data.images`)
        raise ConfigError(
            f"{splits.name}: standardize_features works on feature tensors, not on stored "
            "images; leave it unset (image models normalise their own input)"
        )
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


def check_labels(y: Tensor, num_classes: int, *, source: str | Path) -> None:
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise DataError(
            f"{source}: label {bad} is out of range; expected class indices 0..{num_classes - 1}"
        )


def check_int(name: str, value: Any, low: int) -> int:
    """``value`` of config option ``data.options.<name>``: an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"data.options.{name}={value!r}: expected an integer >= {low}")
    return value
