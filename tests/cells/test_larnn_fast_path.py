"""LARNN's fast path (``scan_sequence``, nnzoo.layers.larnn_scan) against the step-by-step loop
of ``recur`` (``unroll(..., collect=[])`` takes the loop) and against finite differences."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import nnzoo
from nnzoo import unroll

# every option of the cell; heads of width d = 1, 2, 4, 8 and one head (d <= 4 and d > 4 take
# different reductions; N = 1 or d = 1 keep the head-major feature order)
OPTIONS = [
    {"num_heads": 2},
    {"num_heads": 2, "mode": "layer"},
    {"num_heads": 4, "positional_encoding": True, "query_activation": "elu"},
    {"num_heads": 1, "mode": "layer", "kv_norm": "layer", "positional_encoding": True},
    {"num_heads": 8, "kv_norm": "batch"},
    {"num_heads": 2, "kv_norm": "batch", "bias": False, "query_activation": "elu"},
    {"num_heads": 1, "bias": False},
    {"num_heads": 2, "kv_norm": "elu-batch", "initial_window": "c0"},
    {"num_heads": 4, "kv_norm": "elu-batch", "bias": False, "positional_encoding": "add"},
    {"num_heads": 2, "initial_window": "c0", "mode": "layer", "query_activation": "elu"},
    # the paper's cell (larnn-paper's options) and its core in layer mode, without a bias
    {
        "num_heads": 2,
        "core": "bn-elu",
        "kv_norm": "elu-batch",
        "initial_window": "c0",
        "query_activation": "elu",
    },
    {"num_heads": 4, "core": "bn-elu", "mode": "layer", "bias": False, "max_length": 3},
]
I, H = 3, 8


def ids(options):
    return ",".join(f"{k}={v}" for k, v in options.items())


def make(options, window=4, dtype=torch.float32, attention_size=None):
    torch.manual_seed(0)
    cell = nnzoo.create_cell("larnn", I, H, window=window, attention_size=attention_size,
                             **options).to(dtype)  # fmt: skip
    if cell.uses_batch_statistics:  # population statistics that are not the initial ones
        with torch.no_grad():
            unroll(cell, torch.randn(16, 6, I, dtype=dtype))
    return cell


def random_state(cell, B, dtype, count):
    """A state as a previous chunk would leave it: everything non-zero, windows partly filled."""
    state = cell.init_state(B, dtype=dtype)
    fields = [torch.randn_like(f) if f.is_floating_point() else f for f in state]
    return type(state)(*fields)._replace(count=torch.as_tensor(count))


class FastPath(nn.Module):
    """The cell's input projection and fast path, as one module for ``functional_call``."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, state, lengths):
        return self.cell.scan_sequence(self.cell.input_projection(x), state, lengths)


def run(cell, x, state, lengths, fast):
    """Outputs, final state and the gradients of a random loss w.r.t. x, the state and every
    parameter, by the fast path or by the loop."""
    x = x.detach().requires_grad_()
    state = type(state)(*(f.detach().requires_grad_() if f.is_floating_point() else f
                          for f in state))  # fmt: skip
    if fast:
        out, final = cell.scan_sequence(cell.input_projection(x), state, lengths)
    else:
        out, final = unroll(cell, x, state, lengths, collect=[])
    gen = torch.Generator().manual_seed(1)
    loss = (out * torch.randn(out.shape, generator=gen, dtype=out.dtype)).sum()
    for f in final:
        if f.is_floating_point():
            loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=f.dtype)).sum()
    inputs = [x, *(f for f in state if f.is_floating_point()), *cell.parameters()]
    grads = torch.autograd.grad(loss, inputs)
    names = ["x", *(n for n, f in zip(state._fields, state) if f.is_floating_point())]
    names += [n for n, _ in cell.named_parameters()]
    return out, final, dict(zip(names, grads))


def assert_same(fast, loop, tol):
    """Equal up to ``tol`` times each tensor's largest value; the gradients up to ``tol`` times
    the largest gradient (some are zero in exact arithmetic: their rounding has that scale)."""
    (out_f, final_f, grads_f), (out_l, final_l, grads_l) = fast, loop

    def close(a, b, name, floor=0.0):
        scale = max(b.abs().max().item(), floor)
        torch.testing.assert_close(a, b, rtol=0, atol=tol * scale, msg=lambda m: f"{name}: {m}")

    close(out_f, out_l, "outputs")
    for name, a, b in zip(final_l._fields, final_f, final_l):
        close(a, b, f"final {name}")
    assert grads_f.keys() == grads_l.keys()
    floor = max(g.abs().max().item() for g in grads_l.values())
    for name in grads_l:
        close(grads_f[name], grads_l[name], f"d {name}", floor)


LENGTHS = [None, [9, 1, 5, 3, 9, 7]]  # a sequence of length 1, lengths in no order


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("lengths", LENGTHS, ids=["full", "lengths"])
@pytest.mark.parametrize("options", OPTIONS, ids=ids)
def test_fast_path_equals_the_loop_float32(options, lengths, training):
    """Outputs, final state, and every parameter's, input's and initial state's gradient."""
    cell = make(options).train(training)
    B, T = 6, 9  # T > K: the window slides
    x = torch.randn(B, T, I)
    lengths = None if lengths is None else torch.tensor(lengths)
    state = random_state(cell, B, torch.float32, [0, 1, 2, 4, 3, 4])  # some windows empty
    stats = {k: v.clone() for k, v in cell.state_dict().items()}
    fast = run(cell, x, state, lengths, fast=True)
    after_fast = {k: v.clone() for k, v in cell.state_dict().items()}
    cell.load_state_dict(stats)
    loop = run(cell, x, state, lengths, fast=False)
    # batch statistics over 6 sequences scale rounding up: BN's bound is looser
    tol = 1e-4 if cell.uses_batch_statistics and training else 1e-5
    if cell.core == "bn-elu" and training and lengths is not None:
        # per-step BN over the one or two sequences still running late in the batch: gradients
        # of 1e3 whose float32 rounding differs by 2e-4 relative (float64 below agrees to 1e-12)
        tol = 1e-3
    assert_same(fast, loop, tol=tol)
    for key, value in cell.state_dict().items():  # BN's running statistics, step by step
        torch.testing.assert_close(after_fast[key], value, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("count", [[0, 3, 1, 2, 0], [1] * 5], ids=["mixed", "same"])
@pytest.mark.parametrize("options", OPTIONS, ids=ids)
def test_fast_path_equals_the_loop_float64(options, count):
    """Windows filled to different or equal counts (masked, or cut to their filled part)."""
    cell = make(options, window=3, dtype=torch.float64).train()
    B, T = 5, 8
    x = torch.randn(B, T, I, dtype=torch.float64)
    state = random_state(cell, B, torch.float64, count)
    for lengths in (None, torch.tensor([8, 2, 1, 8, 6])):
        fast = run(cell, x, state, lengths, fast=True)
        loop = run(cell, x, state, lengths, fast=False)
        assert_same(fast, loop, tol=1e-12)


@pytest.mark.parametrize("options", OPTIONS, ids=ids)
def test_fast_path_without_a_graph_equals_the_loop(options):
    """Inference (grad mode off) runs the forward loop alone."""
    cell = make(options).eval()
    x = torch.randn(4, 9, I)
    for lengths in (None, torch.tensor([9, 1, 6, 4])):
        with torch.no_grad():
            out, final = cell.scan_sequence(cell.input_projection(x), cell.init_state(4), lengths)
            out_l, final_l = unroll(cell, x, lengths=lengths, collect=[])
        torch.testing.assert_close(out, out_l, atol=2e-6, rtol=1e-5)
        for a, b in zip(final, final_l):
            torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize(
    ("options", "training"),
    [({"num_heads": 2}, True), ({"num_heads": 4, "mode": "layer", "query_activation": "elu",
      "positional_encoding": True}, True), ({"num_heads": 2, "kv_norm": "layer"}, True),
     ({"num_heads": 2, "kv_norm": "batch"}, True), ({"num_heads": 2, "kv_norm": "batch"}, False)],
)  # fmt: skip
def test_gradcheck(options, training):
    """Finite differences in float64 through the fast path: inputs, state and every weight."""
    torch.manual_seed(0)
    cell = nnzoo.create_cell("larnn", 2, 4, window=3, **options).double().train(training)
    state = random_state(cell, 3, torch.float64, [0, 2, 3])
    assert gradcheck_fast_path(cell, state, torch.tensor([5, 1, 3]))


def gradcheck_fast_path(cell, state, lengths, T=5):
    """``gradcheck`` of the fast path's outputs and final state w.r.t. inputs (B, T, 2), the
    state's tensors and every parameter."""
    x = torch.randn(state.h.shape[0], T, 2, dtype=torch.float64, requires_grad=True)
    floats = [f.detach().requires_grad_() for f in state if f.is_floating_point()]
    names = [n for n, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]
    fast = FastPath(cell)

    def fn(x, *tensors):
        st = type(state)(*tensors[:5], state.count, state.step)
        weights = {f"cell.{n}": p for n, p in zip(names, tensors[5:])}
        out, final = functional_call(fast, weights, (x, st, lengths))
        return (out, *final[:5])

    return torch.autograd.gradcheck(fn, (x, *floats, *params), fast_mode=True)


def test_unroll_takes_the_fast_path_for_full_length_batches():
    cell = make({"num_heads": 2})
    xp = cell.input_projection(torch.randn(2, 5, I))
    assert cell.sequence_recur(xp, cell.init_state(2)) is not None


def test_input_projection_of_a_sequence_is_the_linear_map():
    cell = make({"num_heads": 2}, dtype=torch.float64)
    x = torch.randn(4, 7, I, dtype=torch.float64)
    weight = torch.cat([cell.weight_ih, cell.weight_qi])
    bias = torch.cat([cell.bias_ih, cell.bias_q])
    torch.testing.assert_close(cell.input_projection(x), F.linear(x, weight, bias), rtol=0,
                               atol=1e-14)  # fmt: skip


def test_outputs_changed_in_place_before_backward_are_caught():
    """The backward reads the outputs: changing them in place first is an error, not a wrong
    gradient."""
    cell = make({"num_heads": 2})
    out, _ = unroll(cell, torch.randn(2, 5, I))
    loss = (out * out).sum()
    out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("window", [1, 2, 12])
def test_windows_longer_and_shorter_than_the_sequence(window):
    cell = make({"num_heads": 2}, window=window, dtype=torch.float64)
    x = torch.randn(3, 6, I, dtype=torch.float64)
    for lengths in (None, torch.tensor([6, 1, 4])):
        state = cell.init_state(3, dtype=torch.float64)
        fast = run(cell, x, state, lengths, fast=True)
        loop = run(cell, x, state, lengths, fast=False)
        assert_same(fast, loop, tol=1e-12)


@pytest.mark.parametrize(("B", "T"), [(1, 1), (4, 1), (1, 5)])
def test_one_step_and_one_sequence(B, T):
    cell = make({"num_heads": 2, "kv_norm": "layer"}, dtype=torch.float64)
    x = torch.randn(B, T, I, dtype=torch.float64)
    state = random_state(cell, B, torch.float64, [1] * B)
    fast = run(cell, x, state, None, fast=True)
    loop = run(cell, x, state, None, fast=False)
    assert_same(fast, loop, tol=1e-12)


def test_attention_wider_than_the_hidden_state():
    for options, size in itertools.product([{"num_heads": 3}, {"num_heads": 6}], [6, 12]):
        cell = make(options, dtype=torch.float64, attention_size=size)
        x = torch.randn(2, 7, I, dtype=torch.float64)
        state = cell.init_state(2, dtype=torch.float64)
        fast = run(cell, x, state, None, fast=True)
        loop = run(cell, x, state, None, fast=False)
        assert_same(fast, loop, tol=1e-12)


@pytest.mark.parametrize("lengths", [None, [9, 2, 5, 9, 1, 6]], ids=["full", "lengths"])
def test_a_training_pass_leaves_the_loops_population_statistics(lengths):
    """The batch norms of the paper's cell (core, keys and values) update their running
    statistics in the fast path exactly as in the loop."""
    import copy

    cell = make(OPTIONS[-2], dtype=torch.float64).train()
    fast, loop = copy.deepcopy(cell), copy.deepcopy(cell)
    x = torch.randn(6, 9, I, dtype=torch.float64)
    lengths = None if lengths is None else torch.tensor(lengths)
    unroll(fast, x, lengths=lengths)  # with a graph, as in training
    unroll(loop, x, lengths=lengths, collect=[])
    for (name, a), b in zip(fast.named_buffers(), loop.buffers()):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0, msg=name)
    assert any(not torch.equal(a, b) for a, b in zip(fast.buffers(), cell.buffers()))


PAPER = {"num_heads": 2, "core": "bn-elu", "kv_norm": "elu-batch", "initial_window": "c0",
         "query_activation": "elu"}  # fmt: skip


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    "options",
    [PAPER, {"num_heads": 4, "core": "bn-elu", "mode": "layer", "kv_norm": "batch",
             "bias": False, "max_length": 3}, {**PAPER, "positional_encoding": "concat"},
     {"num_heads": 4, "positional_encoding": "concat", "kv_norm": "batch", "mode": "layer"}],
    ids=ids,
)  # fmt: skip
def test_gradcheck_of_the_written_out_batch_norms(options, training):
    """Finite differences in float64 through the scan's own batch norms (full lengths, every
    sequence at the same step): the "bn-elu" core and the key/value BN, once per entry or,
    with the "concat" encoding, over each step's window."""
    torch.manual_seed(0)
    cell = nnzoo.create_cell("larnn", 2, 4, window=3, **options).double().train(training)
    if not training:  # population statistics that are not the initial ones
        with torch.no_grad():
            unroll(cell.train(), torch.randn(8, 5, 2, dtype=torch.float64))
        cell.eval()
    state = random_state(cell, 3, torch.float64, [2, 2, 2])._replace(step=torch.full((3,), 2))
    assert gradcheck_fast_path(cell, state, None)


def test_full_length_batches_take_the_written_out_batch_norms(monkeypatch):
    """Four BNs per step (three in the core, one over keys and values together) run in the
    scan itself for full-length batches; a batch with shorter sequences runs the cell's
    modules instead (both checked against the loop above)."""
    import nnzoo.layers.larnn_scan as scan

    cell = make(PAPER).train()
    calls = []
    real = scan.batch_norm_step
    monkeypatch.setattr(scan, "batch_norm_step", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(4, 6, I)
    unroll(cell, x)
    assert len(calls) == 4 * 6  # BN_z, BN_c, BN_h and one for [k; v], at each of 6 steps
    calls.clear()
    unroll(cell, x, lengths=torch.tensor([6, 2, 6, 6]))
    assert calls == []


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_a_second_chunk_continues_the_written_out_batch_norms(training):
    """A chunk that starts at step 4 uses the statistics of steps 4, 5, ... (clamped to
    max_length), as the loop does; after a chunk of mixed lengths the rows are at different
    steps and the modules run instead."""
    options = {**PAPER, "max_length": 6}
    cell = make(options, dtype=torch.float64).train(training)
    x = torch.randn(5, 9, I, dtype=torch.float64)
    for lengths in (None, torch.tensor([4, 2, 4, 1, 3])):
        with torch.no_grad():
            _, state = unroll(cell, x[:, :4], lengths=lengths, collect=[])
        stats = {k: v.clone() for k, v in cell.state_dict().items()}
        fast = run(cell, x[:, 4:], state, None, fast=True)
        cell.load_state_dict(stats)
        loop = run(cell, x[:, 4:], state, None, fast=False)
        assert_same(fast, loop, tol=1e-12)


CONCAT = [
    {"num_heads": 2, "positional_encoding": "concat"},
    {"num_heads": 2, "positional_encoding": "concat", "kv_norm": "elu-batch",
     "initial_window": "c0"},
    {"num_heads": 4, "positional_encoding": "concat", "kv_norm": "batch", "mode": "layer",
     "bias": False},
    {**PAPER, "positional_encoding": "concat"},
]  # fmt: skip


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("count", [[0] * 5, [2] * 5, [3] * 5], ids=["fresh", "part", "full"])
@pytest.mark.parametrize("options", CONCAT, ids=ids)
def test_concat_fast_path_equals_the_loop(options, count, training):
    """The concatenated encoding: nu over each step's window, its BN statistics over the window's
    entries and the batch, the population statistics moved at every step as in the loop."""
    cell = make(options, window=3, dtype=torch.float64).train(training)
    B, T = 5, 8
    x = torch.randn(B, T, I, dtype=torch.float64)
    state = random_state(cell, B, torch.float64, count)
    stats = {k: v.clone() for k, v in cell.state_dict().items()}
    fast = run(cell, x, state, None, fast=True)
    after_fast = {k: v.clone() for k, v in cell.state_dict().items()}
    cell.load_state_dict(stats)
    loop = run(cell, x, state, None, fast=False)
    assert_same(fast, loop, tol=1e-12)
    for key, value in cell.state_dict().items():
        torch.testing.assert_close(after_fast[key], value, atol=1e-12, rtol=0, msg=key)


def test_concat_with_batch_statistics_over_uneven_windows_takes_the_loop():
    """Windows of different counts (or sequences of different lengths) would need nu's
    statistics masked per entry: the fast path declines and ``unroll`` runs the loop."""
    cell = make(CONCAT[1]).train()
    xp = cell.input_projection(torch.randn(3, 5, I))
    state = random_state(cell, 3, torch.float32, [0, 2, 3])
    assert cell.scan_sequence(xp, state) is None
    assert cell.scan_sequence(xp, cell.init_state(3), torch.tensor([5, 2, 5])) is None
    assert cell.scan_sequence(xp, cell.init_state(3)) is not None
