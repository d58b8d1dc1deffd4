"""LARNN against references written here: its LSTM core, and a naive step that re-projects the
whole window at every step and attends with torch's scaled_dot_product_attention."""

import math

import pytest
import torch
import torch.nn.functional as F

import nnzoo
from nnzoo import unroll


def test_zeroed_attention_equals_its_lstm_core():
    I, H = 4, 8
    larnn = nnzoo.create_cell("larnn", I, H, window=3, num_heads=2).double()
    lstm = nnzoo.create_cell("lstm", I, H).double()
    with torch.no_grad():
        larnn.weight_ag.zero_()
        lstm.weight_ih.copy_(larnn.weight_ih)
        lstm.weight_hh.copy_(larnn.weight_hh)
        lstm.bias_ih.copy_(larnn.bias_ih)
        lstm.bias_hh.zero_()
    x = torch.randn(3, 9, I, dtype=torch.float64)
    a, sa = unroll(larnn, x)
    b, sb = unroll(lstm, x)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    torch.testing.assert_close(sa.c, sb.c, atol=1e-12, rtol=0)


def positional_table(K):
    """The paper's encoding: position 1 = most recent, wavelengths 2, 4, ..., >= 2K."""
    m = math.ceil(math.log2(K)) + 1 if K > 1 else 1
    rows = []
    for p in range(1, K + 1):
        angles = [2 * math.pi * p / 2**j for j in range(1, m + 1)]
        rows.append([math.sin(a) for a in angles] + [math.cos(a) for a in angles])
    return torch.tensor(rows, dtype=torch.float64)


def population_bn(bn, z):
    return (z - bn.running_mean[0]) / torch.sqrt(bn.running_var[0] + bn.eps) * bn.weight + bn.bias


def naive_run(cell, x):
    """Re-project every window entry at every step; attention by torch's SDPA."""
    B, T, _ = x.shape
    H, D, N, K = cell.hidden_size, cell.attention_size, cell.num_heads, cell.window
    h = c = torch.zeros(B, H, dtype=x.dtype)
    past = []  # cell states, oldest first
    outputs = []
    for t in range(T):
        xt = x[:, t]
        q = torch.cat([xt, h], 1) @ torch.cat([cell.weight_qi, cell.weight_qh], 1).T
        q = q + cell.bias_q
        if cell.query_activation == "elu":
            q = F.elu(q)
        window = past[::-1][:K]  # most recent first
        if window:
            W = torch.stack(window, 1)  # (B, k, H)
            W_k, W_v = cell.weight_kv.chunk(2, 0)
            k, v = W @ W_k.T, W @ W_v.T + cell.bias_v
            if cell.kv_norm == "layer":
                k, v = F.elu(cell.norm_k(k)), F.elu(cell.norm_v(v))
            elif cell.kv_norm == "batch":  # evaluation mode: population statistics
                k, v = F.elu(population_bn(cell.norm_k, k)), F.elu(population_bn(cell.norm_v, v))
            if cell.positional_encoding:
                pe = positional_table(K)[: len(window)]
                P_k, P_v = cell.weight_kvp.chunk(2, 0)
                k, v = k + pe @ P_k.T, v + pe @ P_v.T
            heads = lambda z: z.view(B, -1, N, D // N).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(heads(q[:, None]), heads(k), heads(v))
            a = a.transpose(1, 2).reshape(B, D)
        else:
            a = torch.zeros(B, D, dtype=x.dtype)
        z = xt @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias_ih
        i, f, g, o = z.chunk(4, 1)
        g = g + a @ cell.weight_ag.T
        if cell.mode == "residual":
            g = torch.tanh(g)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * g
        h = torch.sigmoid(o) * torch.tanh(c)
        past.append(c)
        outputs.append(h)
    return torch.stack(outputs, 1), past


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "residual"},
        {"mode": "layer"},
        {"mode": "residual", "positional_encoding": True, "query_activation": "elu"},
        {"mode": "layer", "kv_norm": "layer", "positional_encoding": True},
        {"mode": "residual", "kv_norm": "batch"},
    ],
)
def test_cached_window_equals_reprojecting_every_step(options):
    I, H, K = 3, 8, 4
    cell = nnzoo.create_cell("larnn", I, H, window=K, num_heads=2, **options).double()
    if options.get("kv_norm") == "batch":
        unroll(cell, torch.randn(16, 10, I, dtype=torch.float64))  # population statistics
        cell.eval()
    x = torch.randn(2, 11, I, dtype=torch.float64)  # T > K: the window slides
    expected, past = naive_run(cell, x)
    out, state = unroll(cell, x)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(state.window, torch.stack(past[::-1][:K], 1), atol=1e-12, rtol=0)
    assert state.count.tolist() == [K, K]


def test_paper_best_settings_build_and_run():
    """Residual mode, H=81, 27 heads, window 38 (the LARNN paper's best trial)."""
    cell = nnzoo.create_cell("larnn", 32, 81, window=38, num_heads=27)
    out, state = unroll(cell, torch.randn(2, 40, 32))
    assert out.shape == (2, 40, 81) and state.window.shape == (2, 38, 81)
    names = set(dict(cell.named_parameters()))
    assert {"weight_qi", "weight_qh", "weight_kv", "weight_ag"} <= names


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_heads": 3}, "num_heads=3: expected a divisor of the attention width "
                           "attention_size=8"),
        ({"window": 0}, "window=0: expected an integer >= 1"),
        ({"mode": "stacked"}, "mode='stacked': expected one of 'residual', 'layer'"),
        ({"kv_norm": "group"}, "kv_norm='group': expected one of None, 'batch', 'layer', "
                           "'elu-batch'"),
    ],
)  # fmt: skip
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        nnzoo.create_cell("larnn", 3, 8, **options)
