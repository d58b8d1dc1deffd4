"""SequenceSet, DataSplits and the standardisation, against NumPy."""

import numpy as np
import pytest
import torch

from nnzoo.data import DataError, DataSplits, SequenceSet, standardize
from nnzoo.data.base import check_int, restandardize
from nnzoo.errors import ConfigError


def ragged(n: int, seed: int) -> SequenceSet:
    """n sequences of 5 steps, 2 features, lengths 1..5, padding zero."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, size=n)
    x = rng.normal(3.0, 2.0, size=(n, 5, 2)).astype(np.float32)
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0.0
    y = torch.zeros(n, dtype=torch.int64)
    return SequenceSet(torch.from_numpy(x), y, torch.tensor(lengths))


def test_standardize_fits_the_valid_steps_of_train_and_keeps_padding_zero():
    train, val = ragged(20, 0), ragged(7, 1)
    splits = standardize(DataSplits("toy", train, val, ragged(4, 2), ["a"]))
    steps = np.concatenate([train.x[i, : train.lengths[i]].numpy() for i in range(20)])
    mean, std = steps.mean(0), steps.std(0, ddof=1)
    np.testing.assert_allclose(splits.info["standardize"]["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(splits.info["standardize"]["std"], std, rtol=1e-5)
    valid = val.mask().numpy()[:, :, None]
    expected = np.where(valid, (val.x.numpy() - mean) / std, 0.0)
    np.testing.assert_allclose(splits.val.x.numpy(), expected, atol=1e-5)
    again = restandardize(val, splits.info["standardize"])  # new data, scaled the same way
    np.testing.assert_allclose(again.x.numpy(), expected, atol=1e-5)


def test_rows_must_agree():
    with pytest.raises(DataError, match="y has 3 rows but x has 4"):
        SequenceSet(torch.zeros(4, 2, 1), torch.zeros(3, dtype=torch.int64))


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_check_int_names_the_option(value):
    with pytest.raises(ConfigError) as e:
        check_int("folds", value, 1)
    assert str(e.value) == f"data.options.folds={value!r}: expected an integer >= 1"


def test_a_sequence_set_is_a_torch_dataset():
    x = torch.randn(5, 4, 2)
    data = SequenceSet(x, torch.tensor([0, 1, 0, 1, 1]), torch.tensor([4, 1, 2, 3, 4]))
    batches = list(torch.utils.data.DataLoader(data, batch_size=2))
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    xs, ys, lengths = (torch.cat(parts) for parts in zip(*batches))
    assert torch.equal(xs, x) and ys.tolist() == [0, 1, 0, 1, 1]
    assert lengths.tolist() == [4, 1, 2, 3, 4]
    full = SequenceSet(x, torch.zeros(5, dtype=torch.long))
    assert int(full[3][2]) == 4  # every sequence has length T
