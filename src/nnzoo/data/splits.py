"""Split policies: how the validation set is carved out of a dataset's training part.

A reader returns the parts its files hold (`DataParts`: training part, test part, class names).
`split_plan` picks ONE policy by name (``data.split`` in a config; empty: the dataset's own, see
`nnzoo.data.registry.DEFAULTS`) and tells the reader's options from the policy's by name;
`Plan.load` reads the data, applies the policy and standardises the features with statistics of
what is left for training. Validation always comes out of the training part, never out of the
test part. Every policy is seeded by ``seed`` (a config's ``data.split_seed``).

===============  ==============================================================================
``given``        keep the validation part the reader drew with the data (the generated datasets)
``stratified``   a ``val_fraction`` (0.2) of every class (`split_random`)
``random``       a ``val_fraction`` (0.2) of all rows, whatever their class (data without classes)
``group``        every row of ``val_groups`` (5) randomly chosen groups (`split_by_group`): UCI
                 HAR's subjects, so that no subject is both trained on and validated
``kfold``        fold ``fold`` (0-based, 0) of ``folds`` (5) stratified folds
                 (`stratified_folds`): over fold = 0 .. folds - 1 every row validates once
``group-kfold``  fold ``fold`` of ``folds`` folds of whole groups (`group_folds`)
===============  ==============================================================================

A dataset may start an option elsewhere (fashion-mnist: ``val_fraction`` 1/12) and name it its
own way (uci-har: ``val_subjects`` for ``val_groups``); see `nnzoo.data.registry.DEFAULTS`.
On a dataset that draws its own validation part, every policy but ``given`` splits the union
of its training and validation parts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.base import (
    DataError,
    DataParts,
    DataSplits,
    Rows,
    SequenceSet,
    check_int,
    standardize,
)
from nnzoo.data.registry import DATASETS, DEFAULTS, GENERATED, DatasetDefaults
from nnzoo.errors import ConfigError
from nnzoo.registry import Registry


class Split(NamedTuple):
    """What a policy returns.

    Attributes:
        train: the rows left for training.
        val: the validation rows.
        validation: how they were chosen, for ``info["validation"]``; None adds nothing.
    """

    train: Rows
    val: Rows
    validation: str | None


SPLITS: Registry[Split] = Registry("split")


# -- the draws ------------------------------------------------------------------------------


def check_fraction(val_fraction: Any, *, source: str) -> float:
    """A share of the training rows: a number in [0, 1)."""
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0.0 <= val_fraction < 1.0
    ):
        raise DataError(f"{source}: val_fraction={val_fraction!r}; expected a number in [0, 1)")
    return val_fraction


def check_test_fraction(test_fraction: Any, *, source: str, example: float) -> float:
    """The share of each class a reader holds out as its fixed test part: a number in (0, 1)
    (a config value, so a `ConfigError`)."""
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float))
        or not 0.0 < test_fraction < 1.0
    ):
        raise ConfigError(
            f"{source}: test_fraction={test_fraction!r}: expected a number in (0, 1), e.g. "
            f"data.options.test_fraction = {example}"
        )
    return test_fraction


def split_random(
    data: SequenceSet, val_fraction: float, seed: int, *, source: str
) -> tuple[SequenceSet, SequenceSet]:
    """Hold out a seeded random ``val_fraction`` of the sequences, stratified by class."""
    check_fraction(val_fraction, source=source)
    gen = torch.Generator().manual_seed(seed)
    val_index = []
    for label in torch.unique(data.y):
        rows = torch.nonzero(data.y == label).squeeze(1)
        rows = rows[torch.randperm(len(rows), generator=gen)]
        val_index.append(rows[: round(val_fraction * len(rows))])
    is_val = torch.zeros(len(data), dtype=torch.bool)
    if val_index:  # no classes at all when ``data`` is empty
        is_val[torch.cat(val_index)] = True
    return cut(data, is_val)


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
            f"set data.options.val_groups (uci-har: val_subjects) to 0 .. {len(groups) - 1}"
        )
    gen = torch.Generator().manual_seed(seed)
    chosen = groups[torch.randperm(len(groups), generator=gen)[:num_val_groups]]
    train, val = cut(data, torch.isin(data.groups, chosen))
    return train, val, sorted(chosen.tolist())


def stratified_folds(y: Tensor, folds: int, seed: int) -> Tensor:
    """(N,) the fold of every row: each class's rows in a seeded random order, dealt to the
    folds in turn, the turn going on from one class to the next. Every class puts the floor or
    the ceiling of its share into each fold, and the folds' sizes differ by one at most."""
    gen = torch.Generator().manual_seed(seed)
    order = []
    for label in torch.unique(y):
        rows = torch.nonzero(y == label).squeeze(1)
        order.append(rows[torch.randperm(len(rows), generator=gen)])
    fold_of = torch.empty(len(y), dtype=torch.int64)
    if order:
        fold_of[torch.cat(order)] = torch.arange(len(y)) % folds
    return fold_of


def group_folds(groups: Tensor, folds: int, seed: int) -> Tensor:
    """(N,) the fold of every row, whole groups to a fold: the largest group first (equal sizes
    in a seeded random order), each into the fold with the fewest rows so far."""
    ids, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    gen = torch.Generator().manual_seed(seed)
    shuffled = torch.randperm(len(ids), generator=gen)
    order = shuffled[torch.argsort(counts[shuffled], descending=True, stable=True)]
    load = [0] * folds
    fold_of_group = torch.empty(len(ids), dtype=torch.int64)
    for g in order.tolist():
        lightest = load.index(min(load))
        fold_of_group[g] = lightest
        load[lightest] += int(counts[g])
    return fold_of_group[inverse]


def split_groups(
    keys: Sequence[str], *, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """(N,) the part of every row, 0 train, 1 val, 2 test, rows of one key in one part.

    The groups in a seeded random order (``numpy.random.default_rng(seed)``): test takes whole
    groups until it holds at least round(test_fraction N) rows, validation the next ones until
    it holds at least round(val_fraction N), train the rest.
    """
    _, group, counts = np.unique(np.asarray(keys, dtype=object), return_inverse=True,
                                 return_counts=True)  # fmt: skip
    order = np.random.default_rng(seed).permutation(len(counts))  # (G,)
    filled = np.cumsum(counts[order])  # (G,) rows in the first g groups of the order
    n_test, n_val = round(test_fraction * len(keys)), round(val_fraction * len(keys))
    g_test = int(np.searchsorted(filled, n_test, side="left")) + 1 if n_test else 0
    held = int(filled[g_test - 1]) if g_test else 0
    g_val = int(np.searchsorted(filled, held + n_val, side="left")) + 1 if n_val else g_test
    part_of = np.zeros(len(counts), dtype=np.int64)  # (G,)
    part_of[order[:g_test]] = 2
    part_of[order[g_test:g_val]] = 1
    return part_of[group.reshape(-1)]


def cut(data: Rows, is_val: Tensor) -> tuple[Rows, Rows]:
    """(rows where ``is_val`` is False, rows where it is True), each in their order."""
    return (
        data.subset(torch.nonzero(~is_val).squeeze(1)),
        data.subset(torch.nonzero(is_val).squeeze(1)),
    )


# -- the policies ---------------------------------------------------------------------------


@SPLITS.register("given")
def given(parts: DataParts, seed: int) -> Split:
    """Keep the validation part the reader drew with the data (the generated datasets)."""
    if parts.val is None:
        others = ", ".join(n for n in SPLITS.names() if n != "given")
        raise ConfigError(
            f"split 'given' keeps a validation part drawn with the data, and {parts.name} has "
            f"none; set data.split to one of: {others}"
        )
    return Split(parts.train, parts.val, None)


@SPLITS.register("stratified")
def stratified(parts: DataParts, seed: int, *, val_fraction: float = 0.2) -> Split:
    """A seeded random ``val_fraction`` of each class's training rows (rounded per class)."""
    data = training_part(parts, "stratified", needs="y")
    train, val = split_random(data, val_fraction, seed, source=where(parts))
    check_shares(parts, len(data), train, val, val_fraction, " in any class")
    rule = f"a stratified {val_fraction:g} of the training {parts.rows} (seed {seed})"
    return Split(train, val, rule)


@SPLITS.register("random")
def random_share(parts: DataParts, seed: int, *, val_fraction: float = 0.2) -> Split:
    """A seeded random ``val_fraction`` of all training rows, classes or not (rounded)."""
    data = training_part(parts)
    check_fraction(val_fraction, source=where(parts))
    gen = torch.Generator().manual_seed(seed)
    is_val = torch.zeros(len(data), dtype=torch.bool)
    is_val[torch.randperm(len(data), generator=gen)[: round(val_fraction * len(data))]] = True
    train, val = cut(data, is_val)
    check_shares(parts, len(data), train, val, val_fraction, "")
    rule = f"a random {val_fraction:g} of the training {parts.rows} (seed {seed})"
    return Split(train, val, rule)


@SPLITS.register("group")
def group(parts: DataParts, seed: int, *, val_groups: int = 5) -> Split:
    """Every row of ``val_groups`` seeded randomly chosen groups (0: no validation)."""
    data = training_part(parts, "group", needs="groups")
    check_int("val_groups", val_groups, 0)
    train, val, chosen = split_by_group(data, val_groups, seed, source=where(parts))
    return Split(train, val, f"{parts.groups} {chosen} of the training set (seed {seed})")


@SPLITS.register("kfold")
def kfold(parts: DataParts, seed: int, *, folds: int = 5, fold: int = 0) -> Split:
    """Fold ``fold`` (0-based) of ``folds`` seeded stratified folds of the training rows."""
    data = training_part(parts, "kfold", needs="y")
    check_folds(folds, fold)
    labels, counts = torch.unique(data.y, return_counts=True)
    if len(counts) and int(counts.min()) < folds:
        small = int(torch.argmin(counts))
        raise DataError(
            f"{where(parts)}: folds={folds} but class {parts.class_names[int(labels[small])]!r} "
            f"has {int(counts[small])} training {parts.rows}; lower data.options.folds to "
            f"{max(int(counts.min()), 2)} or less"
        )
    train, val = cut(data, stratified_folds(data.y, folds, seed) == fold)
    rule = f"fold {fold} of {folds} stratified folds of the training {parts.rows} (seed {seed})"
    return Split(train, val, rule)


@SPLITS.register("group-kfold")
def group_kfold(parts: DataParts, seed: int, *, folds: int = 5, fold: int = 0) -> Split:
    """Fold ``fold`` (0-based) of ``folds`` folds of whole groups, balanced by rows, seeded."""
    data = training_part(parts, "group-kfold", needs="groups")
    check_folds(folds, fold)
    num_groups = len(torch.unique(data.groups))
    if folds > num_groups:
        raise DataError(
            f"{where(parts)}: folds={folds} but the training part has {num_groups} "
            f"{parts.groups}; lower data.options.folds to {num_groups} or less"
        )
    train, val = cut(data, group_folds(data.groups, folds, seed) == fold)
    chosen = sorted(torch.unique(val.groups).tolist())
    rule = f"{parts.groups} {chosen} of the training set: fold {fold} of {folds} (seed {seed})"
    return Split(train, val, rule)


# what a policy may need of the rows: why, what the data lacks then, the policies without it
NEEDS = {
    "y": ("needs class labels", "no labels", "random or given"),
    "groups": ("holds out whole groups", "no group ids", "stratified, random or kfold"),
}


def training_part(parts: DataParts, policy: str = "", needs: str | None = None) -> Rows:
    """What a policy splits: the training part, with the reader's validation part if any.

    Args:
        parts: what the reader returned.
        policy: the policy, for the error.
        needs: a field the rows must have, ``"y"`` or ``"groups"``.
    """
    data = parts.train if parts.val is None else concat(parts.train, parts.val)
    if needs is not None and getattr(data, needs, None) is None:
        why, lacks, others = NEEDS[needs]
        raise ConfigError(
            f"split {policy!r} {why} and {parts.name} has {lacks}; set data.split to {others}"
        )
    return data


def check_folds(folds: Any, fold: Any) -> None:
    check_int("folds", folds, 2)
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(
            f"data.options.fold={fold!r}: expected an integer from 0 to {folds - 1} (folds={folds})"
        )


def check_shares(parts: DataParts, n: int, train: Rows, val: Rows, fraction: float, of: str):
    """A validation share that takes nothing or everything is an error, not an empty split."""
    if fraction > 0 and len(val) == 0:
        raise DataError(
            f"{where(parts)}: val_fraction={fraction:g} rounds to no validation {parts.rows}"
            f"{of} ({n} training {parts.rows}); raise it or set it to 0"
        )
    if len(train) == 0:
        raise DataError(
            f"{where(parts)}: val_fraction={fraction:g} leaves no training {parts.rows} "
            f"({n} in the training part); lower it"
        )


def where(parts: DataParts) -> str:
    """The start of a data error: the source file, or the name of a generated dataset."""
    if parts.name in GENERATED:
        return parts.name
    return str(parts.info.get("source", parts.name))


def concat(a: Rows, b: Rows) -> Rows:
    """The rows of ``a``, then those of ``b``, padded with zeros to the longer of the two."""
    values = {}
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            values[f.name] = None
            continue
        if x.dim() > 1 and x.shape[1] != y.shape[1]:
            width = max(x.shape[1], y.shape[1])
            x, y = (
                torch.cat([t, t.new_zeros(t.shape[0], width - t.shape[1], *t.shape[2:])], 1)
                for t in (x, y)
            )
        values[f.name] = torch.cat([x, y])
    return type(a)(**values)


# -- reading, splitting and standardising in one place ---------------------------------------


@dataclass(frozen=True)
class Plan:
    """A dataset, its split policy and every option sorted to where it goes.

    Attributes:
        name: the dataset.
        split: the split policy.
        reader_options: the reader's options.
        split_options: every option of the policy: its defaults, the dataset's, then the
            config's.
        standardize: standardise the features with statistics of the train part.
    """

    name: str
    split: str
    reader_options: dict[str, Any]
    split_options: dict[str, Any]
    standardize: bool

    def load(self, source: str | os.PathLike | None, seed: int | None = None) -> DataSplits:
        """Read the parts from ``source``, carve out validation, standardise.

        Args:
            source: the dataset's file or folder (generated datasets ignore it).
            seed: seeds the split policy, and draws a generated dataset; None: 0.
        """
        seed = 0 if seed is None else seed
        reader = dict(self.reader_options)
        if "seed" in DATASETS.options(self.name):
            reader["seed"] = seed
        parts = DATASETS.create(self.name, None if source is None else Path(source), **reader)
        split = SPLITS.get(self.split)(parts, seed, **self.split_options)
        info = dict(parts.info)
        if split.validation is not None:
            info["validation"] = split.validation
        info["split"] = self.describe(seed)
        splits = DataSplits(
            parts.name, split.train, split.val, parts.test, parts.class_names, info,
            parts.vocabulary,
        )  # fmt: skip
        return standardize(splits) if self.standardize else splits

    def describe(self, seed: int) -> str:
        """The policy and its options, e.g. ``kfold (folds 5, fold 2, seed 0)``."""
        if not self.split_options:
            return f"{self.split} (drawn with the data)"
        values = [
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in self.split_options.items()
        ]
        return f"{self.split} ({', '.join([*values, f'seed {seed}'])})"


def split_plan(name: str, split: str | None = None, options: dict[str, Any] | None = None) -> Plan:
    """Check ``name``, ``split`` and ``options`` and sort the options, before any file is read.

    Args:
        name: a registered dataset.
        split: a name in `SPLITS`; None or "": the dataset's own policy.
        options: the reader's options (its signature), the policy's (its signature, or the
            dataset's aliases of them) and ``standardize_features``; None values keep the
            defaults.

    Raises:
        ConfigError: an unknown dataset, policy or option, or one option given twice.
    """
    DATASETS.get(name)
    defaults = DEFAULTS.get(name, DatasetDefaults("stratified"))
    policy = split or defaults.split
    SPLITS.get(policy)
    reader_keys = set(DATASETS.options(name)) - {"seed"}
    policy_defaults = SPLITS.options(policy)
    reader: dict[str, Any] = {}
    chosen = {k: v for k, v in defaults.options.items() if k in policy_defaults}
    given: dict[str, str] = {}
    scale = defaults.standardize
    unknown = []
    for key, value in (options or {}).items():
        target = defaults.aliases.get(key, key)
        if value is None:
            continue
        if key in reader_keys:
            reader[key] = value  # a reader that splits itself (val_fraction) ...
            if target in policy_defaults and policy != defaults.split:
                chosen[target] = value  # ... and a policy named instead of its own: both
        elif target in policy_defaults:
            if target in given:
                raise ConfigError(
                    f"data.options.{given[target]} and data.options.{key} both set {target} "
                    f"of split {policy!r}; keep one"
                )
            given[target] = key
            chosen[target] = value
        elif key == "standardize_features" and defaults.standardize is not None:
            scale = bool(value)
        else:
            unknown.append(key)
    if unknown:
        aliases = {v: k for k, v in defaults.aliases.items()}
        takes = [f"{k} (or {aliases[k]})" if k in aliases else k for k in policy_defaults]
        if defaults.standardize is not None:
            takes.append("standardize_features")
        raise ConfigError(
            f"dataset {name!r} with split {policy!r} has no option "
            f"{', '.join(map(repr, unknown))}; its options: "
            f"{', '.join([*sorted(reader_keys), *takes]) or '(none)'}"
        )
    return Plan(name, policy, reader, {**policy_defaults, **chosen}, bool(scale))


def prepare(
    name: str,
    source: str | os.PathLike | None,
    *,
    seed: int | None = None,
    split: str | None = None,
    **options: Any,
) -> DataSplits:
    """``split_plan(name, split, options).load(source, seed)``: read, split and standardise."""
    return split_plan(name, split, options).load(source, seed)
