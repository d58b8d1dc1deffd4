import pytest
import torch

from nnzoo.data import DataError, SequenceSet
from nnzoo.data.base import split_by_group, split_random


def numbered(n: int, classes: int = 3) -> SequenceSet:
    """x[i, 0, 0] = i, labels i % classes, groups i // 4."""
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1, 1)
    return SequenceSet(x, torch.arange(n) % classes, None, torch.arange(n) // 4)


def test_split_random_is_stratified_seeded_and_disjoint():
    data = numbered(30)
    train, val = split_random(data, 0.3, seed=4, source="s")
    assert val.y.bincount().tolist() == [3, 3, 3]
    assert sorted(train.x.flatten().tolist() + val.x.flatten().tolist()) == list(range(30))
    again, _ = split_random(data, 0.3, seed=4, source="s")
    assert torch.equal(again.x, train.x)


def test_split_random_of_an_empty_set():
    train, val = split_random(numbered(0), 0.2, seed=0, source="s")
    assert len(train) == 0 and len(val) == 0


def test_split_by_group_moves_whole_groups():
    train, val, chosen = split_by_group(numbered(16), 2, seed=1, source="s")
    assert len(chosen) == 2 and set(val.groups.tolist()) == set(chosen)
    assert not set(train.groups.tolist()) & set(chosen) and len(train) + len(val) == 16
    with pytest.raises(DataError, match="s: cannot hold out 4 of 4 groups"):
        split_by_group(numbered(16), 4, seed=1, source="s")
