"""Split policies against scikit-learn's folds, NumPy counts and the files they came from."""

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.model_selection import GroupKFold, StratifiedKFold

from nnzoo.config import load_config
from nnzoo.data import SPLITS, DataError, DataParts, SequenceSet, load_dataset, save_sequences_npz
from nnzoo.data.splits import split_by_group, split_plan, split_random
from nnzoo.data.uci_har import load_uci_har
from nnzoo.errors import ConfigError
from tests.data.test_uci_har import make_har

CLASS_SIZES = (17, 11, 7)


def numbered(sizes=CLASS_SIZES, group_sizes=None, seed=0) -> SequenceSet:
    """Rows in a shuffled order with x[i, 0, 0] = i naming row i, ``sizes[c]`` rows of class c
    and, with ``group_sizes``, consecutive groups of those sizes."""
    y = np.concatenate([np.full(n, c) for c, n in enumerate(sizes)])
    y = np.random.default_rng(seed).permutation(y)
    x = torch.arange(len(y), dtype=torch.float32).reshape(-1, 1, 1)
    groups = None
    if group_sizes is not None:
        assert sum(group_sizes) == len(y)
        groups = torch.from_numpy(np.repeat(np.arange(len(group_sizes)) * 10, group_sizes))
    return SequenceSet(x, torch.from_numpy(y), None, groups)


def parts_of(train: SequenceSet, name="toy") -> DataParts:
    classes = int(train.y.max()) + 1
    return DataParts(name, train, numbered((2,) * classes), [f"c{c}" for c in range(classes)], {})


def ids(part) -> list[int]:
    return [round(v) for v in part.x[:, 0, 0].tolist()]


def fold(policy, data, k, j, seed=0):
    return SPLITS.create(policy, parts_of(data), seed, folds=k, fold=j)


# -- kfold: StratifiedKFold's properties --------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 5, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kfold_validates_every_row_once_with_sklearn_class_counts(k, seed):
    data = numbered()
    y = data.y.numpy()
    seen = Counter()
    reference = [np.bincount(y[v], minlength=3) for _, v in StratifiedKFold(k).split(y, y)]
    sizes = []
    for j in range(k):
        train, val, _ = fold("kfold", data, k, j, seed)
        assert not set(ids(train)) & set(ids(val))
        assert sorted(ids(train) + ids(val)) == list(range(len(y)))
        seen.update(ids(val))
        counts = val.y.bincount(minlength=3).numpy()
        assert np.abs(counts - reference[j]).max() <= 1  # per class, within one row of sklearn
        assert np.array_equal(counts, np.bincount(y[ids(val)], minlength=3))  # labels kept
        sizes.append(len(val))
    assert seen == Counter(range(len(y)))  # every row validates exactly once
    assert max(sizes) - min(sizes) <= 1
    assert sorted(sizes) == sorted(len(v) for _, v in StratifiedKFold(k).split(y, y))


def test_kfold_is_seeded():
    data = numbered()
    assert ids(fold("kfold", data, 3, 1, seed=4).val) == ids(fold("kfold", data, 3, 1, seed=4).val)
    assert ids(fold("kfold", data, 3, 1, seed=4).val) != ids(fold("kfold", data, 3, 1, seed=5).val)


# -- group-kfold: GroupKFold's properties ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize(
    "group_sizes", [(10, 1, 7, 2, 8, 3, 4), (5,) * 7], ids=["distinct", "equal"]
)
def test_group_kfold_keeps_groups_whole_and_balances_like_sklearn(seed, group_sizes):
    data = numbered(group_sizes=group_sizes)
    groups = data.groups.numpy()
    k = 3
    folds = []
    seen = Counter()
    for j in range(k):
        train, val, rule = fold("group-kfold", data, k, j, seed)
        assert not set(train.groups.tolist()) & set(val.groups.tolist())  # no group split
        assert sorted(ids(train) + ids(val)) == list(range(len(groups)))
        assert set(ids(val)) == set(np.flatnonzero(np.isin(groups, val.groups.numpy())))
        assert str(sorted(set(val.groups.tolist()))) in rule
        seen.update(ids(val))
        folds.append(frozenset(val.groups.tolist()))
    assert seen == Counter(range(len(groups)))
    assert len(set().union(*folds)) == len(group_sizes)  # no group in two folds, none left out
    sklearn = [frozenset(groups[v]) for _, v in GroupKFold(k).split(groups, groups, groups)]
    rows = sorted(int(np.isin(groups, list(f)).sum()) for f in folds)
    assert rows == sorted(int(np.isin(groups, list(f)).sum()) for f in sklearn)
    if len(set(group_sizes)) == len(group_sizes):  # no ties: exactly sklearn's folds
        assert folds == sklearn


# -- stratified, random, group ---------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5])
def test_stratified_holds_out_the_fraction_of_each_class(fraction):
    data = numbered()
    train, val, rule = SPLITS.create("stratified", parts_of(data), 3, val_fraction=fraction)
    expected = [round(fraction * n) for n in CLASS_SIZES]
    assert val.y.bincount(minlength=3).tolist() == expected
    assert sorted(ids(train) + ids(val)) == list(range(sum(CLASS_SIZES)))
    assert rule == f"a stratified {fraction:g} of the training sequences (seed 3)"


def test_stratified_of_an_empty_set():
    train, val = split_random(numbered((0,)), 0.2, seed=0, source="s")
    assert len(train) == 0 and len(val) == 0


def test_random_holds_out_the_fraction_of_all_rows_and_takes_unlabelled_data():
    data = numbered((40, 2))  # stratified would take 10 + 0
    _, val, _ = SPLITS.create("random", parts_of(data), 1, val_fraction=0.25)
    assert len(val) == round(0.25 * 42)
    splits = load_dataset(
        "copy-reverse", split="random", val_fraction=0.3, train_size=20, val_size=5
    )
    given = load_dataset("copy-reverse", train_size=20, val_size=5)
    assert len(splits.val) == round(0.3 * 25) and len(splits.train) == 25 - len(splits.val)
    assert torch.equal(splits.test.src, given.test.src)  # the test part stays as it was


@pytest.mark.parametrize("seed", range(3))
def test_group_holds_whole_groups(seed):
    data = numbered(group_sizes=[5] * 7)
    train, val, rule = SPLITS.create("group", parts_of(data), seed, val_groups=2)
    chosen = set(val.groups.tolist())
    assert len(chosen) == 2 and not chosen & set(train.groups.tolist())
    assert len(val) == int(np.isin(data.groups.numpy(), list(chosen)).sum())
    assert rule == f"groups {sorted(chosen)} of the training set (seed {seed})"
    with pytest.raises(DataError, match="s: cannot hold out 7 of 7 groups"):
        split_by_group(data, 7, seed, source="s")


# -- through load_dataset: the test part, standardisation, generated data -------------------------


def sequences_files(tmp_path, n=45):
    """A training file (x[i, 0, 0] = 100 + i, ragged lengths) and a test file (ids 1000 + i)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 7, size=n)
    lengths[0] = 6
    x = rng.normal(2.0, 3.0, size=(n, 6, 2)).astype(np.float32)
    x[:, 0, 0] = 100 + np.arange(n)
    y = np.arange(n) % 3
    xt = rng.normal(size=(9, 6, 2)).astype(np.float32)
    xt[:, 0, 0] = 1000 + np.arange(9)
    train = save_sequences_npz(tmp_path / "train.npz", x, y, lengths)
    test = save_sequences_npz(tmp_path / "test.npz", xt, np.arange(9) % 3)
    return train, test, x, lengths


@pytest.mark.parametrize(
    "split, options",
    [
        ("stratified", {"val_fraction": 0.3}),
        ("random", {"val_fraction": 0.3}),
        ("kfold", {"folds": 4, "fold": 3}),
    ],
)
def test_the_test_file_never_validates_and_statistics_come_from_train(tmp_path, split, options):
    train_path, test_path, x, lengths = sequences_files(tmp_path)
    kw = {"path": train_path, "test_path": str(test_path), "split": split, "seed": 2, **options}
    raw = load_dataset("sequences", standardize_features=False, **kw)
    assert [i - 1000 for i in ids(raw.test)] == list(range(9))
    rows = [i - 100 for i in ids(raw.train)]
    assert sorted(rows + [i - 100 for i in ids(raw.val)]) == list(range(45)) and len(raw.val)
    scaled = load_dataset("sequences", **kw)
    steps = np.concatenate([x[i, : lengths[i]] for i in rows])  # the valid train steps
    np.testing.assert_allclose(scaled.info["standardize"]["mean"], steps.mean(0), rtol=1e-5)
    np.testing.assert_allclose(scaled.info["standardize"]["std"], steps.std(0, ddof=1), rtol=1e-5)
    assert scaled.info["split"].startswith(f"{split} (") and scaled.info["split"].endswith(
        "seed 2)"
    )


@pytest.mark.parametrize("split", ["group", "group-kfold"])
def test_uci_har_groups_come_from_the_training_subjects_only(tmp_path, split):
    fake = make_har(tmp_path)
    options = {"val_groups": 1} if split == "group" else {"folds": 3, "fold": 2}
    splits = load_uci_har(fake.folder, split=split, seed=1, **options)
    train, val = set(splits.train.groups.tolist()), set(splits.val.groups.tolist())
    assert len(val) == 1 and not train & val and train | val == {1, 3, 5}  # training subjects
    assert splits.test.groups.tolist() == fake.subjects["test"].tolist()
    raw = fake.x["train"][fake.subjects["train"] != val.pop()].reshape(-1, 9)
    np.testing.assert_allclose(splits.info["standardize"]["mean"], raw.mean(0), atol=1e-5)
    np.testing.assert_allclose(splits.info["standardize"]["std"], raw.std(0, ddof=1), rtol=1e-5)


def test_uci_har_keeps_val_subjects_as_its_name_for_val_groups(tmp_path):
    fake = make_har(tmp_path)
    by_old_name = load_uci_har(fake.folder, seed=2, val_subjects=2)
    assert len(set(by_old_name.val.groups.tolist())) == 2
    assert by_old_name.info["split"] == "group (val_groups 2, seed 2)"
    with pytest.raises(DataError, match="cannot hold out 5 of 3 groups"):
        load_uci_har(fake.folder)  # the default, 5 subjects, needs more than the fake's 3


def test_generated_data_keep_their_own_validation_part_unless_told_otherwise():
    sizes = {"length": 6, "train_size": 30, "val_size": 10, "test_size": 5}
    given = load_dataset("first-symbol", **sizes)
    assert given.info["split"] == "given (drawn with the data)" and len(given.val) == 10
    pool = Counter(tuple(r.flatten().tolist()) for r in torch.cat([given.train.x, given.val.x]))
    seen = Counter()
    for j in range(4):
        splits = load_dataset("first-symbol", split="kfold", folds=4, fold=j, **sizes)
        assert torch.equal(splits.test.x, given.test.x)
        rows = [tuple(r.flatten().tolist()) for r in torch.cat([splits.train.x, splits.val.x])]
        assert Counter(rows) == pool  # the union of train and val, split again
        seen.update(tuple(r.flatten().tolist()) for r in splits.val.x)
    assert seen == pool  # every row of it validates once


# -- the config ------------------------------------------------------------------------------


def test_the_policy_is_chosen_from_the_config(tmp_path):
    train_path, _, _, _ = sequences_files(tmp_path)
    config = load_config(
        values={
            "data.name": "sequences",
            "data.path": str(train_path),
            "data.split": "kfold",
            "data.split_seed": 5,
            "data.options.folds": 3,
            "data.options.fold": 1,
        }
    )
    d = config.data
    splits = load_dataset(d.name, path=d.path, seed=d.split_seed, split=d.split, **d.options)
    assert splits.info["split"] == "kfold (folds 3, fold 1, seed 5)"
    n = len(splits.train) + len(splits.val)
    assert len(splits.val) in (n // 3, n // 3 + 1)  # a third of the training part
    assert splits.val.y.bincount().tolist() == [4, 4, 4]  # a third of 12 training rows a class


# -- bad options -----------------------------------------------------------------------------


def one_line(error, call, *args, **kwargs) -> str:
    with pytest.raises(error) as e:
        call(*args, **kwargs)
    assert "\n" not in str(e.value)
    return str(e.value)


@pytest.mark.parametrize(
    "split, options, error, message",
    [
        ("kfold", {"folds": 3, "fold": 3}, ConfigError, "fold=3: expected an integer from 0 to 2"),
        ("kfold", {"fold": -1}, ConfigError, "fold=-1: expected an integer from 0 to 4"),
        ("kfold", {"folds": 1}, ConfigError, "data.options.folds=1: expected an integer >= 2"),
        ("kfold", {"folds": 16}, DataError, "folds=16 but class '0' has 12 training sequences"),
        ("stratified", {"val_fraction": 1.5}, DataError, "val_fraction=1.5; expected a number"),
        ("random", {"val_fraction": -0.1}, DataError, "val_fraction=-0.1; expected a number"),
        ("stratified", {"val_fraction": "a"}, DataError, "val_fraction='a'; expected a number"),
        ("group", {}, ConfigError, "split 'group' holds out whole groups and sequences has no"),
        ("group-kfold", {}, ConfigError, "split 'group-kfold' holds out whole groups"),
        ("given", {}, ConfigError, "split 'given' keeps a validation part drawn with the data"),
        ("kfold", {"val_fraction": 0.1}, ConfigError, "has no option 'val_fraction'"),
        ("tumbling", {}, ConfigError, "unknown split 'tumbling'; expected one of: given, group"),
    ],
)
def test_bad_options_are_one_line(tmp_path, split, options, error, message):
    train_path, _, _, _ = sequences_files(tmp_path)
    assert message in one_line(
        error, load_dataset, "sequences", path=train_path, split=split, **options
    )


def test_an_unknown_option_lists_what_the_reader_and_the_split_take():
    message = one_line(ConfigError, split_plan, "uci-har", "kfold", {"val_subjects": 2})
    assert message == (
        "dataset 'uci-har' with split 'kfold' has no option 'val_subjects'; its options: "
        "folds, fold, standardize_features"
    )
    message = one_line(ConfigError, split_plan, "sequences", None, {"colour": 1})
    assert message.endswith(
        "its options: label_indices, test_fraction, test_path, val_fraction, standardize_features"
    )


def test_other_bad_choices_are_one_line(tmp_path):
    fake = make_har(tmp_path)
    both = {"val_subjects": 1, "val_groups": 1}
    assert "both set val_groups" in one_line(ConfigError, load_uci_har, fake.folder, **both)
    message = one_line(DataError, load_uci_har, fake.folder, split="group-kfold", folds=4)
    assert message.endswith(
        "folds=4 but the training part has 3 subjects; lower data.options.folds to 3 or less"
    )
    message = one_line(ConfigError, load_dataset, "cycles", split="kfold")
    assert message.startswith("split 'kfold' needs class labels and cycles has no labels")
    # options are checked before the file system is touched
    assert "no option 'folds'" in one_line(
        ConfigError, load_dataset, "uci-har", folds=2, root=tmp_path / "absent"
    )


def test_load_splits_takes_the_policy_from_the_config(tmp_path):
    from nnzoo.runs.train import load_splits

    train_path, _, _, _ = sequences_files(tmp_path)
    values = {"data.name": "sequences", "data.path": str(train_path), "data.split_seed": 5}
    values["data.options.standardize_features"] = False  # keeps the row ids in x[:, 0, 0]
    seen = Counter()
    for j in range(3):
        kfold = {"data.split": "kfold", "data.options.folds": 3, "data.options.fold": j}
        splits = load_splits(load_config(values={**values, **kfold}), tmp_path)
        assert splits.info["split"] == f"kfold (folds 3, fold {j}, seed 5)"
        assert splits.val.y.bincount().tolist() == [4, 4, 4]  # a third of 12 rows a class
        seen.update(ids(splits.val))
    assert len(seen) == 36 and set(seen.values()) == {1}  # each training row validates once
    default = load_splits(load_config(values=values), tmp_path)
    assert default.info["split"] == "stratified (val_fraction 0.2, seed 5)"
