"""gru-relevance against a NumPy implementation written here from the course's equations."""

import numpy as np
import pytest
import torch

import nnzoo
from nnzoo import unroll


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_gru(x, h0, M_u, M_r, M, b_u, b_r, b, relevance):
    """Gu = s(Mu[h,x]+bu), Gr = s(Mr[h,x]+br), hh = tanh(M[Gr*h, x]+b), h = Gu*hh + (1-Gu)*h."""
    h = h0
    outputs = []
    for t in range(x.shape[1]):
        hx = np.concatenate([h, x[:, t]], axis=1)
        gamma_u = sigmoid(hx @ M_u.T + b_u)
        if relevance:
            gamma_r = sigmoid(hx @ M_r.T + b_r)
            h_hat = np.tanh(np.concatenate([gamma_r * h, x[:, t]], axis=1) @ M.T + b)
        else:
            h_hat = np.tanh(hx @ M.T + b)
        h = gamma_u * h_hat + (1 - gamma_u) * h
        outputs.append(h)
    return np.stack(outputs, 1)


@pytest.mark.parametrize("relevance", [True, False])
def test_gru_relevance_equals_numpy_reference(relevance):
    I, H = 3, 5
    cell = nnzoo.create_cell("gru-relevance", I, H, relevance=relevance).double()
    # Build the course's matrices M_* (H, H + I) acting on [h, x] from the cell's layout.
    w_ih = cell.weight_ih.detach().numpy()
    w_hh = cell.weight_hh.detach().numpy()
    bias = cell.bias_ih.detach().numpy()
    blocks = [np.concatenate([w_hh[k * H : (k + 1) * H], w_ih[k * H : (k + 1) * H]], 1)
              for k in range(cell.num_chunks)]  # fmt: skip
    biases = [bias[k * H : (k + 1) * H] for k in range(cell.num_chunks)]
    if relevance:
        (M_u, M_r, M), (b_u, b_r, b) = blocks, biases
    else:
        (M_u, M), (b_u, b) = blocks, biases
        M_r = b_r = None
    x = np.random.default_rng(0).normal(size=(4, 6, I))
    h0 = np.random.default_rng(1).normal(size=(4, H))
    expected = numpy_gru(x, h0, M_u, M_r, M, b_u, b_r, b, relevance)
    out, _ = unroll(cell, torch.from_numpy(x), cell.State(torch.from_numpy(h0)))
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-12, rtol=0)


def test_relevance_gate_changes_the_result():
    """The relevance gate is live: forcing Gamma_r = 1 changes the output."""
    cell = nnzoo.create_cell("gru-relevance", 3, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, _ = unroll(cell, x, cell.State(torch.randn(2, 4, dtype=torch.float64)))
    with torch.no_grad():
        cell.bias_ih[4:8] = 1e3  # Gamma_r saturates at 1
    out_open, _ = unroll(cell, x, cell.State(torch.randn(2, 4, dtype=torch.float64)))
    assert not torch.allclose(out, out_open)
