"""bn-lstm's hand-written scan (``nnzoo.layers.bptt_bn``) against the step-by-step loop."""

import pytest
import torch

import nnzoo
from nnzoo import unroll
from tests.cells.scan_reference import (
    check_no_graph_equals_loop,
    check_scan_equals_loop,
    check_torch_func_takes_the_loop,
    gradcheck_scan,
    random_lengths,
)
from tests.cells.test_bn_lstm import randomise

ACTIVATIONS = ["tanh", "elu"]


def make(activation="tanh", I=3, H=5, dtype=torch.float32, B=6, max_length=6, first=0):
    """A cell with random gammas, betas and population statistics, and a random state at step
    ``first``."""
    cell = nnzoo.create_cell("bn-lstm", I, H, max_length=max_length, activation=activation)
    cell = cell.to(dtype)
    randomise(cell)
    state = cell.init_state(B, dtype=dtype)
    state = state._replace(
        h=0.5 * torch.randn(B, H, dtype=dtype),
        c=torch.randn(B, H, dtype=dtype),
        step=torch.full((B,), first, dtype=torch.long),
    )
    return cell, state


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck_float64(activation, lengths, mode):
    """With lengths [4, 1, 3] step 3 has one running sequence (the single-row batch norm)."""
    cell, state = make(activation, I=2, H=3, dtype=torch.float64, B=3, max_length=3)
    getattr(cell, mode)()
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    assert gradcheck_scan(cell, x, state, torch.tensor([4, 1, 3]) if lengths else None)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_equals_the_loop(activation, lengths, mode):
    """T = 9 > max_length = 6: the last steps share (and in training keep moving) the last
    population statistics; the buffers after the pass are compared too."""
    cell, state = make(activation)
    getattr(cell, mode)()
    x = torch.randn(6, 9, 3)
    given = random_lengths(6, 9, torch.Generator().manual_seed(2)) if lengths else None
    check_scan_equals_loop(cell, x, state, given)
    check_no_graph_equals_loop(cell, x, state, given)


@pytest.mark.parametrize("lengths", [False, True])
def test_a_state_from_a_later_step_reads_that_steps_statistics(lengths):
    cell, state = make(first=2)
    x = torch.randn(6, 5, 3)
    given = random_lengths(6, 5, torch.Generator().manual_seed(5)) if lengths else None
    for mode in (cell.train, cell.eval):
        mode()
        check_scan_equals_loop(cell, x, state, given)


def test_running_statistics_after_training_passes_match_and_serve_evaluation():
    cell, state = make()
    twin = make()[0]
    twin.load_state_dict(cell.state_dict())
    for seed in range(3):  # training passes: the scan on cell, the loop on twin
        x = torch.randn(6, 9, 3, generator=torch.Generator().manual_seed(seed))
        lengths = random_lengths(6, 9, torch.Generator().manual_seed(seed))
        xp = cell.input_projection(x)
        cell.sequence_recur(xp, state, lengths)[0].sum().backward()
        unroll(twin, x, state, lengths=lengths, collect=[])[0].sum().backward()
    for a, b in zip(cell.buffers(), twin.buffers()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    cell.eval()
    check_scan_equals_loop(cell, torch.randn(6, 9, 3), state)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_equals_the_loop_at_onednn_sizes(activation):
    """B * 4H * H above ``ONEDNN_MIN_MACS``: the products run on oneDNN where it is built."""
    cell, state = make(activation, I=4, H=64, B=128)
    x = torch.randn(128, 5, 4)
    check_scan_equals_loop(cell, x, state)
    check_scan_equals_loop(cell, x, state, random_lengths(128, 5, torch.Generator()))


def test_unroll_takes_the_scan_and_equals_the_loop():
    cell, state = make()
    x = torch.randn(6, 9, 3)
    check_scan_equals_loop(cell, x, state, through_unroll=True)
    given = random_lengths(6, 9, torch.Generator().manual_seed(4))
    check_scan_equals_loop(cell, x, state, given, through_unroll=True)


def test_batch_size_one_and_a_single_step():
    cell, state = make(B=1)
    for mode in (cell.train, cell.eval):
        mode()
        check_scan_equals_loop(cell, torch.randn(1, 1, 3), state)
        check_scan_equals_loop(cell, torch.randn(1, 4, 3), state, torch.tensor([2]))


def test_rows_at_different_steps_take_the_loop():
    cell, state = make()
    state = state._replace(step=torch.tensor([0, 1, 0, 0, 2, 0]))
    x = torch.randn(6, 4, 3)
    assert cell.sequence_recur(cell.input_projection(x), state) is None
    out, final = unroll(cell, x, state)
    ref, _ = unroll(cell, x, state, collect=[])
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert torch.equal(final.step, state.step + 4)


def test_torch_func_takes_the_loop():
    cell, state = make()
    check_torch_func_takes_the_loop(cell, torch.randn(6, 4, 3), state)
