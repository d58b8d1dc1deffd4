import pytest
import torch

import nnzoo
from nnzoo import unroll


@pytest.mark.parametrize("peephole", ["diagonal", "full"])
def test_zero_peepholes_equal_lstm(peephole):
    I, H = 4, 6
    lstm = nnzoo.create_cell("lstm", I, H).double()
    cell = nnzoo.create_cell("peephole-lstm", I, H, peephole=peephole).double()
    with torch.no_grad():
        cell.weight_ih.copy_(lstm.weight_ih)
        cell.weight_hh.copy_(lstm.weight_hh)
        cell.bias_ih.copy_(lstm.bias_ih + lstm.bias_hh)
        cell.weight_ch.zero_()
    x = torch.randn(3, 7, I, dtype=torch.float64)
    state = lstm.State(
        torch.randn(3, H, dtype=torch.float64), torch.randn(3, H, dtype=torch.float64)
    )
    a, sa = unroll(lstm, x, state)
    b, sb = unroll(cell, x, state)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    torch.testing.assert_close(sa.c, sb.c, atol=1e-12, rtol=0)


def test_diagonal_peepholes_follow_the_equations():
    """One step by hand: i, f see c_{t-1}; o sees c_t."""
    I, H = 3, 4
    cell = nnzoo.create_cell("peephole-lstm", I, H).double()
    x = torch.randn(2, I, dtype=torch.float64)
    h0, c0 = torch.randn(2, H, dtype=torch.float64), torch.randn(2, H, dtype=torch.float64)
    h, state = cell.step(x, cell.State(h0, c0))
    W, U, b, P = cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.weight_ch
    z = x @ W.T + h0 @ U.T + b
    i = torch.sigmoid(z[:, :H] + P[0] * c0)
    f = torch.sigmoid(z[:, H : 2 * H] + P[1] * c0)
    c = f * c0 + i * torch.tanh(z[:, 2 * H : 3 * H])
    o = torch.sigmoid(z[:, 3 * H :] + P[2] * c)
    torch.testing.assert_close(state.c, c, atol=1e-12, rtol=0)
    torch.testing.assert_close(h, o * torch.tanh(c), atol=1e-12, rtol=0)


def test_full_peepholes_are_matrices():
    cell = nnzoo.create_cell("peephole-lstm", 3, 4, peephole="full")
    assert cell.weight_ch.shape == (12, 4)
    with pytest.raises(ValueError, match="peephole='none': expected one of 'diagonal', 'full'"):
        nnzoo.create_cell("peephole-lstm", 3, 4, peephole="none")


def test_hand_written_bptt_equals_the_step_loop():
    """The diagonal fast path (DiagonalPeepholeLSTMScan) against autograd through cell.step."""
    I, H, B, T = 3, 5, 4, 9
    cell = nnzoo.create_cell("peephole-lstm", I, H).double()
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    w_out, w_h, w_c = torch.randn(B, T, H), torch.randn(B, H), torch.randn(B, H)

    def loss(out, state):
        return (out * w_out).sum() + (state.h * w_h).sum() + (state.c * w_c).sum()

    out, state = unroll(cell, x, cell.State(h0, c0))
    inputs = [x, h0, c0, *cell.parameters()]
    fast = torch.autograd.grad(loss(out, state), inputs)

    state, steps = cell.State(h0, c0), []
    for t in range(T):
        h, state = cell.step(x[:, t], state)
        steps.append(h)
    slow = torch.autograd.grad(loss(torch.stack(steps, 1), state), inputs)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    # the reversed scan goes through the same path
    rev, _ = unroll(cell, x, reverse=True)
    flipped, _ = unroll(cell, x.flip(1))
    torch.testing.assert_close(rev, flipped.flip(1), atol=1e-12, rtol=0)
