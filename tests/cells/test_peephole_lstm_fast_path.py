"""peephole-lstm's hand-written scan (``nnzoo.layers.bptt``) against the step-by-step loop."""

import pytest
import torch

import nnzoo
from tests.cells.scan_reference import (
    check_no_graph_equals_loop,
    check_scan_equals_loop,
    check_torch_func_takes_the_loop,
    gradcheck_scan,
    random_lengths,
)

KINDS = ["diagonal", "full"]


def make(kind, I=3, H=5, dtype=torch.float32, B=6):
    cell = nnzoo.create_cell("peephole-lstm", I, H, peephole=kind).to(dtype)
    with torch.no_grad():
        cell.weight_ch.uniform_(-1, 1)  # peepholes as large as the other weights
    h0 = 0.5 * torch.randn(B, H, dtype=dtype)
    c0 = torch.randn(B, H, dtype=dtype)
    return cell, cell.State(h0, c0)


@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_float64(kind, lengths):
    cell, state = make(kind, I=2, H=3, dtype=torch.float64, B=3)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    assert gradcheck_scan(cell, x, state, torch.tensor([4, 1, 3]) if lengths else None)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_float32_equals_the_loop(kind, lengths, mode):
    cell, state = make(kind)
    getattr(cell, mode)()
    x = torch.randn(6, 9, 3)
    given = random_lengths(6, 9, torch.Generator().manual_seed(2)) if lengths else None
    check_scan_equals_loop(cell, x, state, given)
    check_no_graph_equals_loop(cell, x, state, given)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_equals_the_loop_at_onednn_sizes(kind):
    """B * 4H * H above ``ONEDNN_MIN_MACS``: the products run on oneDNN where it is built."""
    cell, state = make(kind, I=4, H=64, B=128)
    x = torch.randn(128, 5, 4)
    check_scan_equals_loop(cell, x, state)
    given = random_lengths(128, 5, torch.Generator().manual_seed(3))
    check_scan_equals_loop(cell, x, state, given)


@pytest.mark.parametrize("kind", KINDS)
def test_unroll_takes_the_scan_and_equals_the_loop(kind):
    cell, state = make(kind)
    x = torch.randn(6, 9, 3)
    check_scan_equals_loop(cell, x, state, through_unroll=True)
    given = random_lengths(6, 9, torch.Generator().manual_seed(4))
    check_scan_equals_loop(cell, x, state, given, through_unroll=True)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_size_one_and_a_single_step(kind):
    cell, state = make(kind, B=1)
    check_scan_equals_loop(cell, torch.randn(1, 1, 3), state)
    check_scan_equals_loop(cell, torch.randn(1, 4, 3), state, torch.tensor([2]))


def test_torch_func_takes_the_loop():
    cell, state = make("full")
    check_torch_func_takes_the_loop(cell, torch.randn(6, 4, 3), state)
