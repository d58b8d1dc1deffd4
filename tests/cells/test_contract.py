"""Contract tests, parametrized over the whole registry: a new cell is tested once registered."""

import pytest
import torch
from torch.func import functional_call

import nnzoo
from nnzoo import unroll

CELLS = nnzoo.list_cells()
I, H = 5, 8


# presets whose defaults are a paper's full size, made small here to keep the tests fast
SMALL = {"larnn-paper": {"attention_size": 6, "num_heads": 3, "window": 4}}


def make(name, input_size=I, hidden_size=H, **kw):
    return nnzoo.create_cell(name, input_size, hidden_size, **{**SMALL.get(name, {}), **kw})


def test_registry_has_the_required_cells():
    required = {"elman", "gru", "gru-relevance", "lstm", "peephole-lstm", "bn-lstm", "larnn"}
    assert required <= set(CELLS)


@pytest.mark.parametrize("name", CELLS)
def test_shapes_and_no_nan(name):
    cell = make(name)
    x = torch.randn(4, 6, I)
    out, state = unroll(cell, x)
    assert out.shape == (4, 6, H)
    assert torch.isfinite(out).all()
    assert torch.equal(state.h, out[:, -1])
    for field in state:
        assert field.shape[0] == 4
        if field.is_floating_point():
            assert torch.isfinite(field).all()


@pytest.mark.parametrize("name", CELLS)
def test_every_parameter_gets_a_gradient(name):
    cell = make(name)
    out, _ = unroll(cell, torch.randn(4, 6, I))
    (out**2).sum().backward()
    for pname, p in cell.named_parameters():
        assert p.grad is not None, pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", CELLS)
def test_unroll_equals_a_manual_loop_of_step(name):
    cell = make(name).double()
    x = torch.randn(3, 7, I, dtype=torch.float64)
    out, final = unroll(cell, x)
    state = cell.init_state(3, dtype=torch.float64)
    manual = []
    for t in range(7):
        h, state = cell.step(x[:, t], state)
        manual.append(h)
    torch.testing.assert_close(out, torch.stack(manual, 1), atol=1e-12, rtol=0)
    for a, b in zip(final, state):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", CELLS)
def test_variable_length_equals_one_by_one(name, reverse):
    cell = make(name).double().eval()
    lengths = [7, 2, 5, 1]
    x = torch.randn(4, 7, I, dtype=torch.float64)
    out, final = unroll(cell, x, lengths=torch.tensor(lengths), reverse=reverse)
    for b, n in enumerate(lengths):
        alone, alone_state = unroll(cell, x[b : b + 1, :n], reverse=reverse)
        torch.testing.assert_close(out[b : b + 1, :n], alone, atol=1e-12, rtol=0)
        assert (out[b, n:] == 0).all()
        for a, s in zip(final, alone_state):
            torch.testing.assert_close(a[b : b + 1], s, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_packed_sequence_equals_lengths(name):
    cell = make(name).eval()
    x = torch.randn(3, 6, I)
    lengths = torch.tensor([3, 6, 2])
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, lengths, batch_first=True, enforce_sorted=False
    )
    out_packed, state_packed = unroll(cell, packed)
    out, state = unroll(cell, x, lengths=lengths)
    padded, got_lengths = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=True)
    assert got_lengths.tolist() == lengths.tolist()
    torch.testing.assert_close(padded, out)
    for a, b in zip(state_packed, state):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", CELLS)
def test_deterministic_under_a_seed(name):
    x = torch.randn(2, 5, I)
    torch.manual_seed(123)
    a, _ = unroll(make(name), x)
    torch.manual_seed(123)
    b, _ = unroll(make(name), x)
    torch.manual_seed(7)
    c, _ = unroll(make(name), x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", CELLS)
def test_eval_reaches_every_module_and_is_deterministic(name):
    cell = make(name)
    unroll(cell, torch.randn(8, 5, I))  # a training pass (updates any running statistics)
    cell.eval()
    assert all(not m.training for m in cell.modules())
    buffers = {k: v.clone() for k, v in cell.state_dict().items()}
    x = torch.randn(3, 5, I)
    a, _ = unroll(cell, x)
    b, _ = unroll(cell, x)
    assert torch.equal(a, b)
    for k, v in cell.state_dict().items():
        assert torch.equal(v, buffers[k]), f"{k} changed in eval mode"
    # in eval mode a sequence's output does not depend on the rest of its batch
    alone, _ = unroll(cell, x[:1])
    torch.testing.assert_close(alone, a[:1])


@pytest.mark.parametrize("name", CELLS)
def test_state_dict_round_trip(name):
    cell = make(name)
    unroll(cell, torch.randn(8, 5, I))  # so that running statistics are not at their defaults
    cell.eval()
    torch.manual_seed(99)
    other = make(name).eval()
    x = torch.randn(3, 5, I)
    assert not torch.equal(unroll(cell, x)[0], unroll(other, x)[0])
    other.load_state_dict(cell.state_dict())
    assert torch.equal(unroll(cell, x)[0], unroll(other, x)[0])


@pytest.mark.parametrize("name", CELLS)
def test_batch_size_one(name):
    cell = make(name)
    for mode in (cell.train, cell.eval):
        mode()
        out, _ = unroll(cell, torch.randn(1, 4, I))
        assert out.shape == (1, 4, H)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", CELLS)
def test_dtype_moves_with_the_module(name):
    cell = make(name).double()
    assert all(p.dtype == torch.float64 for p in cell.parameters())
    out, state = unroll(cell, torch.randn(2, 3, I, dtype=torch.float64))
    assert out.dtype == torch.float64
    assert all(s.dtype in (torch.float64, torch.long) for s in state)


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck_float64(name):
    """Finite differences against autograd, w.r.t. the input, the initial h and every weight."""
    cell = make(name, input_size=3, hidden_size=4).double()
    params = {k: v.detach().clone().requires_grad_() for k, v in cell.named_parameters()}
    keys = list(params)
    x = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    h0 = (0.5 * torch.randn(2, 4, dtype=torch.float64)).requires_grad_()

    def run(x, h0, *weights):
        state = cell.init_state(2, dtype=torch.float64)._replace(h=h0)
        out, final = _unroll_with(cell, dict(zip(keys, weights)), x, state)
        return out, final.h

    assert torch.autograd.gradcheck(run, (x, h0, *params.values()), eps=1e-6, atol=1e-6)


def _unroll_with(cell, weights, x, state):
    """unroll with the cell's parameters replaced by ``weights`` (for gradcheck)."""

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x, state):
            return unroll(self.cell, x, state)

    return functional_call(Wrapper(), {f"cell.{k}": v for k, v in weights.items()}, (x, state))


@pytest.mark.parametrize("name", CELLS)
def test_bad_input_names_the_argument(name):
    cell = make(name)
    with pytest.raises(ValueError, match=r"x: expected a 3D tensor \(B, T, I\), got 2D"):
        unroll(cell, torch.randn(4, I))
    with pytest.raises(ValueError, match="x: expected input_size=5 features"):
        unroll(cell, torch.randn(2, 3, I + 1))
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, T=3\]"):
        unroll(cell, torch.randn(2, 3, I), lengths=[4, 1])
    with pytest.raises(ValueError, match=r"lengths: expected values in \[1, T=3\]"):
        unroll(cell, torch.randn(2, 3, I), lengths=[0, 1])
    with pytest.raises(ValueError, match="lengths: expected a 1D sequence of B=2"):
        unroll(cell, torch.randn(2, 3, I), lengths=[3])
    with pytest.raises(ValueError, match="x_t: expected input_size=5"):
        cell.step(torch.randn(2, I + 2))
    with pytest.raises(ValueError, match="hidden_size=0: expected an integer >= 1"):
        make(name, hidden_size=0)
