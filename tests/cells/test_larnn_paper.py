"""The LARNN's paper options against a reference written here from the paper's equations.

The reference keeps the raw cell states and, at every step, re-projects the whole window
(most recent first, c_0 in it while it is among the last k), in float64:

    keys_j = nu(W_k c_j [+ P_k pe(p_j)] + b_k),  values_j = nu(W_v c_j [+ P_v pe(p_j)] + b_v)
    nu = BN(ELU(.)) ("elu-batch"), ELU(BN(.)) ("batch"), the identity (None)
    a_t = MultiHead(q_t, keys, values) by torch's scaled_dot_product_attention
    z_t = W_x x_t + W_h h_{t-1} + U a_t (g rows or all);  core "bn-elu": z_t = BN_t(z_t) + b
    c_t = BN_t(f c_{t-1} + i g_t),  h_t = BN_t(o elu(c_t))

BN in training takes the statistics of the batch (the running rows): per window entry where the
keys do not depend on the position, over batch and window where the published encoding is
concatenated; in evaluation the population statistics (of step t for the core).
"""

import math

import pytest
import torch
import torch.nn.functional as F

import nnzoo
from nnzoo import unroll

I, H, B, T = 3, 5, 6, 9
SMALL = {"attention_size": 6, "num_heads": 3, "window": 4}


def published_table(K):
    """cos(2 pi p / 2^i), i = 1..b, then sin(2 pi p / 2^i), i = 2..b+1; b = ceil(log2 4K)."""
    b = math.ceil(math.log2(4 * K))
    rows = []
    for p in range(1, K + 1):
        rows.append([math.cos(2 * math.pi * p / 2**i) for i in range(1, b + 1)]
                    + [math.sin(2 * math.pi * p / 2**i) for i in range(2, b + 2)])  # fmt: skip
    return torch.tensor(rows, dtype=torch.float64)


def nnzoo_table(K):
    """sin, then cos, at wavelengths 2, 4, ..., 2^m, m = ceil(log2 K) + 1."""
    m = math.ceil(math.log2(K)) + 1
    rows = []
    for p in range(1, K + 1):
        angles = [2 * math.pi * p / 2**j for j in range(1, m + 1)]
        rows.append([math.sin(a) for a in angles] + [math.cos(a) for a in angles])
    return torch.tensor(rows, dtype=torch.float64)


def bn(z, bn_module, training, running, row=0):
    """Batch norm of z (M, F) over the rows where ``running`` (M,) is true."""
    if training:
        zr = z[running]
        mean, var = zr.mean(0), zr.var(0, unbiased=False)
    else:
        mean, var = bn_module.running_mean[row], bn_module.running_var[row]
    y = (z - mean) / torch.sqrt(var + bn_module.eps) * bn_module.weight
    return y if bn_module.bias is None else y + bn_module.bias


def reference(cell, x, lengths, training):
    """Outputs (B, T, H) and the final window (B, K, H), step by step from the equations."""
    Bn, Tn, _ = x.shape
    D, N, K = cell.attention_size, cell.num_heads, cell.window
    W_k, W_v = cell.weight_kv.chunk(2, 0)
    b_k = cell.bias_k if cell.bias_k is not None else torch.zeros(D, dtype=x.dtype)
    b_v = cell.bias_v
    concat = cell.positional_encoding == "concat"
    if cell.positional_encoding is not None:
        P_k, P_v = cell.weight_kvp.chunk(2, 0)
        table = published_table(K) if concat else nnzoo_table(K)
    h = torch.zeros(Bn, H, dtype=x.dtype)
    c = torch.zeros(Bn, H, dtype=x.dtype)
    entered = []  # per entry time: the rows running then (the batch of its statistics)
    if cell.initial_window == "c0":
        entered.append(torch.ones(Bn, dtype=torch.bool))
        states = [c.clone()]
    else:
        states = []
    index = [list(range(len(states))) for _ in range(Bn)]  # entry ids per row, oldest first
    outputs = torch.zeros(Bn, Tn, H, dtype=x.dtype)

    def nu(z, z_running):
        if cell.kv_norm == "elu-batch":
            return lambda m: bn(F.elu(z), m, training, z_running)
        if cell.kv_norm == "batch":
            return lambda m: F.elu(bn(z, m, training, z_running))
        return lambda m: z

    for t in range(Tn):
        running = torch.tensor([t < n for n in lengths])  # (B,)
        xt = x[:, t]
        q = xt @ cell.weight_qi.T + h @ cell.weight_qh.T + cell.bias_q
        if cell.query_activation == "elu":
            q = F.elu(q)
        # the window of each row, most recent first (all rows have the same entry ids while
        # they run, so one batch of keys per window slot)
        ids = index[0][::-1][:K]
        n = len(ids)
        if n:
            C = torch.stack([states[j] for j in ids], 1)  # (B, n, H)
            lin_k, lin_v = C @ W_k.T + b_k, C @ W_v.T + b_v  # (B, n, D)
            if concat:
                lin_k, lin_v = lin_k + table[:n] @ P_k.T, lin_v + table[:n] @ P_v.T
                mask = running[:, None].expand(Bn, n).reshape(-1)
                k = nu(lin_k.reshape(-1, D), mask)(cell.norm_k) if cell.kv_norm else lin_k
                v = nu(lin_v.reshape(-1, D), mask)(cell.norm_v) if cell.kv_norm else lin_v
                k, v = k.reshape(Bn, n, D), v.reshape(Bn, n, D)
            else:
                ks, vs = [], []
                for s, j in enumerate(ids):  # each entry with the statistics of its entry
                    ks.append(nu(lin_k[:, s], entered[j])(getattr(cell, "norm_k", None)))
                    vs.append(nu(lin_v[:, s], entered[j])(getattr(cell, "norm_v", None)))
                k, v = torch.stack(ks, 1), torch.stack(vs, 1)
                if cell.positional_encoding == "add":
                    k, v = k + table[:n] @ P_k.T, v + table[:n] @ P_v.T
            heads = lambda z: z.view(Bn, -1, N, D // N).transpose(1, 2)  # noqa: E731
            a = F.scaled_dot_product_attention(heads(q[:, None]), heads(k), heads(v))
            a = a.transpose(1, 2).reshape(Bn, D)
        else:
            a = torch.zeros(Bn, D, dtype=x.dtype)
        z = xt @ cell.weight_ih.T + h @ cell.weight_hh.T
        u = a @ cell.weight_ag.T
        z = z + (u if cell.attention_gates == "all" else F.pad(u, (2 * H, H)))  # g rows
        row = min(t, cell.max_length - 1)
        if cell.core == "bn-elu":
            z = bn(z, cell.bn_z, training, running, row) + cell.bias_ih
        else:
            z = z + cell.bias_ih
        i, f, g, o = z.chunk(4, 1)
        if cell.mode == "residual":
            g = torch.tanh(g)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * g
        if cell.core == "bn-elu":
            c_new = bn(c_new, cell.bn_c, training, running, row)
            h_new = bn(torch.sigmoid(o) * F.elu(c_new), cell.bn_h, training, running, row)
        else:
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
        keep = running[:, None]
        h, c = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
        outputs[:, t] = torch.where(keep, h_new, 0.0)
        states.append(c.clone())
        entered.append(running.clone())
        for r in range(Bn):
            if running[r]:
                index[r].append(len(states) - 1)
    window = torch.zeros(Bn, K, H, dtype=x.dtype)
    for r in range(Bn):
        for s, j in enumerate(index[r][::-1][:K]):
            window[r, s] = states[j][r]
    return outputs, window


CASES = [
    ("larnn-paper", {}),
    ("larnn-paper", {"attention_gates": "all", "mode": "layer"}),
    ("larnn-paper", {"positional_encoding": "concat"}),
    ("larnn-paper", {"positional_encoding": "add", "initial_window": "empty"}),
    ("larnn", {"positional_encoding": "concat", "kv_norm": "batch", "initial_window": "c0"}),
    ("larnn", {"positional_encoding": "concat", "attention_gates": "all"}),
    ("larnn", {"kv_norm": "elu-batch", "query_activation": "elu"}),
    ("larnn", {"core": "bn-elu", "mode": "layer"}),
]


def ids(case):
    name, options = case
    return name + "".join(f",{k}={v}" for k, v in options.items())


def make(name, options):
    torch.manual_seed(0)
    cell = nnzoo.create_cell(name, I, H, **{**SMALL, **options}).double()
    if cell.uses_batch_statistics:  # population statistics that are not the initial ones
        with torch.no_grad():
            unroll(cell, torch.randn(16, T, I, dtype=torch.float64))
    return cell


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", CASES, ids=ids)
def test_equals_the_paper_equations_full_length(case, training):
    cell = make(*case).train(training)
    x = torch.randn(B, T, I, dtype=torch.float64)  # T > K: the window slides, c_0 leaves it
    with torch.no_grad():
        out, state = unroll(cell, x)
        expected, window = reference(cell.train(training), x, [T] * B, training)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(state.window, window, atol=1e-12, rtol=0)
    assert state.count.tolist() == [cell.window] * B and state.step.tolist() == [T] * B


@pytest.mark.parametrize("case", CASES[:3] + CASES[4:5], ids=ids)
def test_equals_the_paper_equations_variable_lengths_in_training(case):
    """Statistics over the running sequences only; ended sequences keep their state."""
    cell = make(*case).train()
    lengths = [9, 2, 5, 9, 1, 6]
    x = torch.randn(B, T, I, dtype=torch.float64)
    with torch.no_grad():
        out, state = unroll(cell, x, lengths=torch.tensor(lengths))
        expected, window = reference(cell, x, lengths, True)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(state.window, window, atol=1e-12, rtol=0)
    assert state.step.tolist() == lengths


def test_which_options_take_the_fast_path():
    """The "concat" encoding with LayerNorm on the keys and values, and attention into all
    gates, run the loop; the rest, the paper's cell and "concat" with batch statistics
    included, the fast path (tests/cells/test_larnn_fast_path.py proves it equal)."""
    fast = [{}, {"kv_norm": "elu-batch", "initial_window": "c0", "positional_encoding": "add"},
            {"core": "bn-elu"}, {"positional_encoding": "concat"},
            {"positional_encoding": "concat", "kv_norm": "elu-batch"}]  # fmt: skip
    loop = [{"positional_encoding": "concat", "kv_norm": "layer"}, {"attention_gates": "all"}]
    for options in fast:
        assert nnzoo.create_cell("larnn", I, H, **{**SMALL, **options}).has_fast_path
    for options in loop:
        assert not nnzoo.create_cell("larnn", I, H, **{**SMALL, **options}).has_fast_path
    assert nnzoo.create_cell("larnn-paper", I, H).has_fast_path


def test_preset_is_the_papers_best_trial():
    cell = nnzoo.create_cell("larnn-paper", 9, 81)
    got = {k: getattr(cell, k) for k in ("window", "num_heads", "attention_size", "mode",
           "positional_encoding", "kv_norm", "query_activation", "core", "initial_window",
           "attention_gates")}  # fmt: skip
    assert got == {
        "window": 38, "num_heads": 27, "attention_size": 81, "mode": "residual",
        "positional_encoding": None, "kv_norm": "elu-batch", "query_activation": "elu",
        "core": "bn-elu", "initial_window": "c0", "attention_gates": "g",
    }  # fmt: skip


def test_published_table_size_and_no_dead_column():
    """2 (ceil(log2 K) + 2) features (16 for K = 38); nnzoo's own table has a zero column."""
    from nnzoo.layers.positional import published_positional_encoding, window_positional_encoding

    for K in (1, 4, 10, 38):
        table = published_positional_encoding(K, dtype=torch.float64)
        torch.testing.assert_close(table, published_table(K), atol=1e-15, rtol=0)
        assert table.shape[1] == 2 * (math.ceil(math.log2(K)) + 2)
        if K > 1:  # (a single position is one row: cos(pi / 2) = 0 there)
            assert (table.abs().amax(0) > 0.4).all()
    assert published_positional_encoding(38).shape == (38, 16)
    assert window_positional_encoding(38, dtype=torch.float64)[:, 0].abs().max() < 1e-12


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"core": "bn"}, "core='bn': expected one of 'lstm', 'bn-elu'"),
        ({"initial_window": "zeros"}, "initial_window='zeros': expected one of 'empty', 'c0'"),
        ({"attention_gates": "i"}, "attention_gates='i': expected one of 'g', 'all'"),
        ({"positional_encoding": "sum"}, "positional_encoding='sum': expected false, true"),
        ({"positional_encoding": 1}, "positional_encoding=1: expected false, true"),
        ({"max_length": 0}, "max_length=0: expected an integer >= 1"),
    ],
)  # fmt: skip
def test_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        nnzoo.create_cell("larnn-paper", 3, 8, **options)
