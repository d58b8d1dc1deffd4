"""Recurrent against full torch.nn.LSTM / GRU / RNN modules (multi-layer, bidirectional)."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import nnzoo
from nnzoo import Recurrent
from tests.conftest import tolerance

TORCH_MODULES = [
    (torch.nn.LSTM, {}),
    (torch.nn.GRU, {}),
    (torch.nn.RNN, {"nonlinearity": "tanh"}),
    (torch.nn.RNN, {"nonlinearity": "relu"}),
]


def layer_states(states, field):
    """Our per-layer states -> torch's (L * D, B, H) layout for one state field."""
    rows = []
    for s in states:
        rows.extend([getattr(s.fw, field), getattr(s.bw, field)] if hasattr(s, "fw") else
                    [getattr(s, field)])  # fmt: skip
    return torch.stack(rows)


@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("torch_type", "options"), TORCH_MODULES)
def test_equals_torch_module_with_copied_weights(torch_type, options, dtype, fused, with_lengths):
    I, H, B, T = 5, 6, 4, 7
    theirs = torch_type(I, H, num_layers=2, bidirectional=True, batch_first=True, **options)
    theirs = theirs.to(dtype)
    ours = Recurrent.from_torch(theirs)
    ours.fused = fused
    assert ours.uses_fused_kernel == fused
    x = torch.randn(B, T, I, dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1]) if with_lengths else None

    if with_lengths:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        ref_packed, ref_state = theirs(packed)
        reference, _ = pad_packed_sequence(ref_packed, batch_first=True, total_length=T)
    else:
        reference, ref_state = theirs(x)
    out, states = ours(x, lengths=lengths)
    if with_lengths:  # a PackedSequence in gives the same PackedSequence out
        ours_packed, _ = ours(packed)
        torch.testing.assert_close(ours_packed.data, ref_packed.data, **tolerance(dtype))
        assert torch.equal(ours_packed.batch_sizes, ref_packed.batch_sizes)

    tol = tolerance(dtype)
    torch.testing.assert_close(out, reference, **tol)
    if torch_type is torch.nn.LSTM:
        torch.testing.assert_close(layer_states(states, "h"), ref_state[0], **tol)
        torch.testing.assert_close(layer_states(states, "c"), ref_state[1], **tol)
    else:
        torch.testing.assert_close(layer_states(states, "h"), ref_state, **tol)

    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (reference * weights).sum().backward()
    for ours_p, theirs_p in ours._torch_parameter_pairs(theirs):
        torch.testing.assert_close(ours_p.grad, theirs_p.grad, **tol)


@pytest.mark.parametrize("name", ["lstm", "gru", "elman"])
def test_fused_path_equals_the_scan_with_initial_state_and_residual(name):
    """The fast path and the plain scan agree on everything Recurrent adds around the kernel."""
    I, H = 6, 6
    torch.manual_seed(1)
    a = Recurrent(name, I, H, num_layers=3, bidirectional=True, residual=True, merge="sum").double()
    b = Recurrent(name, I, H, num_layers=3, bidirectional=True, residual=True, merge="sum",
                  fused=False).double()  # fmt: skip
    b.load_state_dict(a.state_dict())
    assert a.uses_fused_kernel and not b.uses_fused_kernel
    assert a.residual_layers == [False, True, True]
    x = torch.randn(3, 5, I, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        _, init = b(torch.randn(3, 2, I, dtype=torch.float64))  # some non-zero initial state
    lengths = torch.tensor([5, 2, 4])
    out_a, st_a = a(x, init, lengths)
    out_b, st_b = b(x, init, lengths)
    torch.testing.assert_close(out_a, out_b, atol=1e-10, rtol=0)
    for la, lb in zip(st_a, st_b):
        for da, db in zip(la, lb):
            for fa, fb in zip(da, db):
                torch.testing.assert_close(fa, fb, atol=1e-10, rtol=0)
    ga = torch.autograd.grad(out_a.sum(), [x, *a.parameters()])
    gb = torch.autograd.grad(out_b.sum(), [x, *b.parameters()])
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, atol=1e-10, rtol=0)


@pytest.mark.parametrize("torch_type", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_to_torch_round_trip(torch_type):
    ours = Recurrent(
        {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "elman"}[torch_type],
        4, 5, num_layers=3, bidirectional=True,
    )  # fmt: skip
    theirs = ours.to_torch()
    assert type(theirs) is torch_type and theirs.num_layers == 3 and theirs.bidirectional
    x = torch.randn(2, 6, 4)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-6, rtol=0)
    back = Recurrent.from_torch(theirs)
    for p, q in zip(ours.parameters(), back.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("name", nnzoo.list_cells())
def test_every_cell_stacks_bidirectional_residual(name):
    rec = Recurrent(name, 5, 8, num_layers=3, bidirectional=True, residual=True, dropout=0.2)
    assert rec.residual_layers == [False, True, True]
    out, states = rec(torch.randn(3, 6, 5), lengths=[6, 4, 2])
    assert out.shape == (3, 6, 16) and len(states) == 3
    assert torch.isfinite(out).all() and (out[2, 2:] == 0).all()
    out.sum().backward()
    assert all(p.grad is not None for p in rec.parameters())


def test_residual_connection_is_a_sum_around_the_layer():
    rec = Recurrent("gru-relevance", 4, 4, num_layers=2, residual=True).eval()
    x = torch.randn(2, 5, 4)
    first, _ = nnzoo.unroll(rec.layers[0], x)
    second, _ = nnzoo.unroll(rec.layers[1], first)
    torch.testing.assert_close(rec(x)[0], second + first)


def test_dropout_between_layers_only_in_training():
    rec = Recurrent("lstm", 4, 8, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 4)
    torch.manual_seed(0)
    a = rec(x)[0]
    torch.manual_seed(1)
    b = rec(x)[0]
    assert not torch.equal(a, b)
    rec.eval()
    assert torch.equal(rec(x)[0], rec(x)[0])


def test_layer_widths_for_merges():
    assert Recurrent("gru", 3, 8, bidirectional=True).output_size == 16
    assert Recurrent("gru", 3, 8, bidirectional=True, merge="mean").output_size == 8


def test_bad_arguments():
    with pytest.raises(ValueError, match="x: expected input_size=4 features"):
        Recurrent("lstm", 4, 8)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"dropout=1.5: expected a probability in \[0, 1\)"):
        Recurrent("lstm", 4, 8, dropout=1.5)
    with pytest.raises(ValueError, match="unknown cell 'lstn'; expected one of: bn-lstm"):
        Recurrent("lstn", 4, 8)
    with pytest.raises(ValueError, match="cell 'lstm' has no option 'window'"):
        Recurrent("lstm", 4, 8, window=3)
    with pytest.raises(ValueError, match="state: expected a list of num_layers=2"):
        Recurrent("lstm", 4, 8, num_layers=2)(torch.randn(2, 3, 4), state=[None])
    with pytest.raises(ValueError, match="cell='larnn': torch.nn has only lstm, gru and elman"):
        Recurrent("larnn", 4, 8).to_torch()
    with pytest.raises(ValueError, match="module.proj_size=2: expected 0"):
        Recurrent.from_torch(torch.nn.LSTM(4, 8, proj_size=2))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_fused_stack_with_a_partial_initial_state(bidirectional):
    """Layer states may be None (zeros) next to given ones, on both paths."""
    a = Recurrent("gru", 3, 4, num_layers=2, bidirectional=bidirectional).double()
    b = Recurrent("gru", 3, 4, num_layers=2, bidirectional=bidirectional, fused=False).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    with torch.no_grad():
        _, given = a(torch.randn(2, 3, 3, dtype=torch.float64))
    state = [None, given[1]]
    out_a, st_a = a(x, state)
    out_b, st_b = b(x, state)
    torch.testing.assert_close(out_a, out_b, atol=1e-10, rtol=0)
    torch.testing.assert_close(st_a[1].fw.h if bidirectional else st_a[1].h,
                               st_b[1].fw.h if bidirectional else st_b[1].h,
                               atol=1e-10, rtol=0)  # fmt: skip
