import pytest
import torch
import torch.nn.functional as F

import nnzoo
from nnzoo import unroll


def randomise(cell):
    """Random gammas, betas and per-step population statistics, so the check is not trivial."""
    with torch.no_grad():
        for bn in (cell.bn_x, cell.bn_h, cell.bn_c):
            bn.weight.uniform_(0.5, 1.5)
            if bn.bias is not None:
                bn.bias.normal_()
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("activation", ["tanh", "elu"])
def test_eval_mode_follows_the_equations_step_by_step(activation):
    I, H, T, L = 3, 4, 6, 4  # T > max_length: steps 4 and 5 reuse the statistics of step 3
    cell = nnzoo.create_cell("bn-lstm", I, H, max_length=L, activation=activation).double()
    randomise(cell)
    cell.eval()
    x = torch.randn(2, T, I, dtype=torch.float64)
    out, _ = unroll(cell, x)

    def bn(module, z, t):
        t = min(t, L - 1)
        y = (z - module.running_mean[t]) / torch.sqrt(module.running_var[t] + module.eps)
        y = y * module.weight
        return y if module.bias is None else y + module.bias

    h = c = torch.zeros(2, H, dtype=torch.float64)
    for t in range(T):
        z = bn(cell.bn_x, x[:, t] @ cell.weight_ih.T, t) + bn(cell.bn_h, h @ cell.weight_hh.T, t)
        z = z + cell.bias_ih
        i, f, g, o = z.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        c_hat = bn(cell.bn_c, c, t)
        phi = torch.tanh(c_hat) if activation == "tanh" else F.elu(c_hat)
        h = torch.sigmoid(o) * phi
        torch.testing.assert_close(out[:, t], h, atol=1e-12, rtol=0)


def test_gamma_starts_at_one_tenth():
    cell = nnzoo.create_cell("bn-lstm", 3, 4)
    for bn in (cell.bn_x, cell.bn_h, cell.bn_c):
        assert torch.all(bn.weight == 0.1)
    assert cell.bn_x.bias is None and cell.bn_h.bias is None  # the gate bias b plays beta's role


def test_training_statistics_use_running_sequences_only():
    """With lengths, the first step's BN of W_x x equals torch's batch_norm over running rows."""
    cell = nnzoo.create_cell("bn-lstm", 3, 4, max_length=8).double()
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([3, 1, 3, 2, 3])
    unroll(cell, x, lengths=lengths)
    # step 1 (t index 1) has rows 0, 2, 3 running; check the population update of bn_x there
    rows = lengths > 1
    z = x[rows, 1] @ cell.weight_ih.T
    expected_mean = 0.1 * z.mean(0)  # momentum 0.1 from a zero start
    torch.testing.assert_close(cell.bn_x.running_mean[1], expected_mean, atol=1e-12, rtol=0)
    expected_var = 0.9 + 0.1 * z.var(0, unbiased=True)
    torch.testing.assert_close(cell.bn_x.running_var[1], expected_var, atol=1e-12, rtol=0)
    assert torch.all(cell.bn_x.running_mean[3:] == 0)  # steps never reached keep their start
