import pytest
import torch

import nnzoo
from nnzoo.layers.scan import reverse_padded


def test_reverse_padded_reverses_within_each_length():
    x = torch.arange(1.0, 6.0).repeat(2, 1)[:, :, None]  # (2, 5, 1): 1..5
    out = reverse_padded(x, torch.tensor([5, 3]))[:, :, 0]
    assert out.tolist() == [[5, 4, 3, 2, 1], [3, 2, 1, 4, 5]]


def test_reverse_reads_each_sequence_from_its_own_end():
    """Output t of a reversed scan is the state after reading x[L-1], ..., x[t]."""
    cell = nnzoo.create_cell("elman", 2, 3).double()
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    out, state = nnzoo.unroll(cell, x, lengths=[4], reverse=True)
    forward_on_flipped, last = nnzoo.unroll(cell, x[:, :4].flip(1))
    torch.testing.assert_close(out[:, :4], forward_on_flipped.flip(1))
    torch.testing.assert_close(state.h, last.h)
    assert (out[:, 4:] == 0).all()


def test_full_lengths_take_the_unmasked_path():
    cell = nnzoo.create_cell("lstm", 2, 3)
    x = torch.randn(2, 4, 2)
    torch.testing.assert_close(nnzoo.unroll(cell, x, lengths=[4, 4])[0], nnzoo.unroll(cell, x)[0])


def test_lengths_must_be_integers():
    cell = nnzoo.create_cell("lstm", 2, 3)
    with pytest.raises(ValueError, match="lengths: expected integers, got torch.float32"):
        nnzoo.unroll(cell, torch.randn(2, 4, 2), lengths=torch.tensor([1.0, 2.0]))


def test_state_batch_must_match():
    cell = nnzoo.create_cell("gru", 2, 3)
    with pytest.raises(
        ValueError, match="state: expected a state for batch size B=2, got one for 5"
    ):
        nnzoo.unroll(cell, torch.randn(2, 4, 2), state=cell.init_state(5))
    with pytest.raises(ValueError, match="merge='max': expected one of 'concat'"):
        nnzoo.Recurrent("gru", 2, 3, merge="max")
