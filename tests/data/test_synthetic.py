"""The long-lag tasks: shapes, labels recomputed from the inputs, determinism, bad options."""

import pytest
import torch

from nnzoo.data import load_dataset
from nnzoo.errors import ConfigError

SMALL = {"length": 12, "train_size": 30, "val_size": 7, "test_size": 11}


def test_first_symbol_shapes_and_classes(tmp_path):
    splits = load_dataset("first-symbol", root=tmp_path / "absent", symbols=5, **SMALL)
    assert splits.train.x.shape == (30, 12, 6)
    assert splits.val.x.shape == (7, 12, 6)
    assert splits.test.x.shape == (11, 12, 6)
    assert splits.num_classes == 5 and splits.seq_len == 12
    assert splits.train.x.dtype == torch.float32 and splits.train.y.dtype == torch.int64
    assert splits.train.lengths is None
    assert splits.info["chance"] == pytest.approx(1 / 5)


def test_first_symbol_label_is_the_symbol_at_step_one():
    splits = load_dataset("first-symbol", symbols=4, **SMALL)
    for part in (splits.train, splits.val, splits.test):
        x = part.x
        symbols = x[:, :, :4]
        assert torch.equal(symbols.sum(-1), torch.ones(x.shape[:2]))  # one symbol per step
        marker = x[:, :, 4]
        assert torch.equal(marker[:, 0], torch.ones(len(x)))
        assert marker[:, 1:].sum() == 0
        first = [int(row.nonzero()) for row in symbols[:, 0]]
        assert part.y.tolist() == first


def test_first_symbol_distractors_use_the_whole_alphabet():
    splits = load_dataset("first-symbol", length=50, train_size=200, val_size=1, test_size=1)
    counts = splits.train.x[:, 1:, :4].sum((0, 1))
    assert (counts > 0.2 * counts.sum() / 4).all()
    assert set(splits.train.y.tolist()) == {0, 1, 2, 3}


def test_adding_label_is_the_sum_of_the_marked_values():
    splits = load_dataset("adding", length=20, train_size=300, val_size=5, test_size=5)
    x, y = splits.train.x, splits.train.y
    assert x.shape == (300, 20, 2) and splits.class_names == ["sum <= 1", "sum > 1"]
    for row, label in zip(x, y):
        marked = row[:, 1].nonzero().squeeze(1).tolist()
        assert len(marked) == 2 and marked[0] < 10 <= marked[1]
        total = float(row[marked[0], 0]) + float(row[marked[1], 0])
        assert int(label) == int(total > 1.0)
    assert 0.35 < float(y.double().mean()) < 0.65  # the median of v_a + v_b is 1


@pytest.mark.parametrize("name", ["first-symbol", "adding"])
def test_deterministic_from_the_seed(name):
    a = load_dataset(name, seed=3, **SMALL)
    b = load_dataset(name, seed=3, **SMALL)
    c = load_dataset(name, seed=4, **SMALL)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize("name", ["first-symbol", "adding"])
def test_each_split_has_its_own_stream(name):
    splits = load_dataset(name, length=12, train_size=11, val_size=11, test_size=11)
    assert not torch.equal(splits.train.x, splits.test.x)
    assert not torch.equal(splits.val.x, splits.test.x)
    # a larger training set does not change the test set
    bigger = load_dataset(name, length=12, train_size=50, val_size=11, test_size=11)
    assert torch.equal(splits.test.x, bigger.test.x)
    assert torch.equal(splits.train.x, bigger.train.x[:11])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"length": 1}, "length=1: expected an integer >= 2"),
        ({"length": 2.5}, "length=2.5"),
        ({"train_size": 0}, "train_size=0"),
        ({"test_size": -1}, "test_size=-1"),
        ({"symbols": 1}, "symbols=1"),
        ({"seed": -1}, "seed=-1"),
        ({"colours": 3}, "colours"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        load_dataset("first-symbol", **options)


def test_adding_has_no_symbols_option():
    with pytest.raises(ConfigError, match="symbols"):
        load_dataset("adding", symbols=4)
