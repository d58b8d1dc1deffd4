import pytest
import torch

import nnzoo
from nnzoo.layers.scan import reverse_padded, unroll


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


@pytest.mark.parametrize("cell_name", ["elman", "lstm", "gru", "peephole-lstm", "larnn"])
def test_collect_hands_back_the_outputs_and_their_gradients_are_those_of_the_steps(cell_name):
    """``collect``: each h_t is output t, and dL/dh_t (through every later step) equals the
    gradient at the h_t of a loop over ``cell.step`` (the reference, no scan)."""
    torch.manual_seed(0)
    options = {"window": 3, "num_heads": 1} if cell_name == "larnn" else {}
    cell = nnzoo.create_cell(cell_name, 2, 4, **options).double()
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    weights = torch.randn(6, 4, dtype=torch.float64)  # a loss that reads every step

    hs = []
    out, _ = nnzoo.unroll(cell, x, collect=hs)
    assert len(hs) == 6 and all(h.shape == (3, 4) for h in hs)
    torch.testing.assert_close(torch.stack(hs, 1), out, rtol=0, atol=0)
    got = torch.autograd.grad((out * weights).sum() + out[:, -1].pow(2).sum(), hs)

    state, steps = cell.init_state(3, x.device, x.dtype), []
    for t in range(6):
        h, state = cell.step(x[:, t], state)
        steps.append(h)
    ref = torch.stack(steps, 1)
    expected = torch.autograd.grad((ref * weights).sum() + ref[:, -1].pow(2).sum(), steps)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-14)
    assert got[0].abs().sum() > 0  # step 1 reaches the loss through every later step


def test_collect_takes_the_step_loop_and_leaves_the_outputs_alone():
    fused = nnzoo.create_cell("peephole-lstm", 2, 3).double()  # it has a sequence_recur
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    hs = []
    torch.testing.assert_close(nnzoo.unroll(fused, x, collect=hs)[0], nnzoo.unroll(fused, x)[0])
    assert len(hs) == 5
    cell = nnzoo.create_cell("elman", 2, 3).double()  # no sequence_recur: both take the loop
    plain, plain_state = nnzoo.unroll(cell, x, lengths=[5, 3])
    hs = []
    out, state = nnzoo.unroll(cell, x, lengths=[5, 3], collect=hs)
    torch.testing.assert_close(out, plain, rtol=0, atol=0)
    torch.testing.assert_close(state.h, plain_state.h, rtol=0, atol=0)
    assert len(hs) == 5
    torch.testing.assert_close(hs[2][1], out[1, 2], rtol=0, atol=0)  # within the length
    hs = []
    nnzoo.unroll(cell, x, reverse=True, collect=hs)
    torch.testing.assert_close(hs[0], nnzoo.unroll(cell, x[:, -1:])[0][:, 0])  # reads x_T first


@pytest.mark.parametrize(
    "name", ["lstm", "gru", "peephole-lstm", "gru-relevance", "bn-lstm", "larnn"]
)
def test_a_fast_path_read_backwards_with_lengths_equals_the_loop(name):
    # each cell's sequence_recur against the step loop (collect=[] forces it), reverse=True
    torch.manual_seed(0)
    cell = nnzoo.create_cell(name, 3, 4).double().train()
    x = torch.randn(5, 7, 3, dtype=torch.float64)
    lengths = torch.tensor([7, 1, 4, 6, 2])
    state = cell.init_state(5, dtype=torch.float64)
    fast, fast_state = nnzoo.unroll(cell, x, state, lengths=lengths, reverse=True)
    if hasattr(cell, "running_mean"):
        cell.reset_running_stats()
    loop, loop_state = nnzoo.unroll(cell, x, state, lengths=lengths, reverse=True, collect=[])
    torch.testing.assert_close(fast, loop, rtol=1e-10, atol=1e-12)
    for a, b in zip(fast_state, loop_state):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert cell.sequence_recur(cell.input_projection(x), state, lengths) is not None


@pytest.mark.parametrize("name", nnzoo.list_cells())
def test_under_autocast_the_scan_runs_in_float32(name):
    """train.precision bf16: every cell's scan gives what it gives without autocast."""
    options = {"attention_size": 4, "num_heads": 2, "window": 3} if "larnn" in name else {}
    cell = nnzoo.create_cell(name, 3, 4, **options)
    x = torch.randn(2, 5, 3, requires_grad=True)
    expected, _ = unroll(cell, x, lengths=torch.tensor([5, 3]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state = unroll(cell, x, lengths=torch.tensor([5, 3]))
    assert out.dtype == torch.float32 and all(f.dtype in (torch.float32, torch.long) for f in state)
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
