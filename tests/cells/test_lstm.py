import re

import pytest
import torch

import nnzoo
from nnzoo import unroll
from nnzoo.errors import ConfigError
from nnzoo.layers.recurrent import Recurrent
from tests.cells.torch_reference import check_cell_against_torch, copy_weights


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstm_equals_torch_lstm_cell(dtype, bias):
    check_cell_against_torch("lstm", torch.nn.LSTMCell, dtype, bias=bias)


def test_forget_bias_shifts_the_f_slice_of_torchs_init():
    """Same seed: torch.nn.LSTMCell's draws, with forget_bias added to bias_ih[H:2H] only."""
    I, H, forget_bias = 5, 7, 1.0
    torch.manual_seed(3)
    reference = torch.nn.LSTMCell(I, H)
    torch.manual_seed(3)
    plain = nnzoo.create_cell("lstm", I, H)
    torch.manual_seed(3)
    cell = nnzoo.create_cell("lstm", I, H, forget_bias=forget_bias)
    expected = reference.bias_ih.detach().clone()
    expected[H : 2 * H] += forget_bias
    assert torch.equal(cell.bias_ih, expected)
    for name in ("weight_ih", "weight_hh", "bias_hh"):
        assert torch.equal(getattr(cell, name), getattr(reference, name))
        assert torch.equal(getattr(plain, name), getattr(reference, name))
    assert torch.equal(plain.bias_ih, reference.bias_ih)
    for k in (0, 2, 3):  # the i, g and o slices are untouched
        assert torch.equal(cell.bias_ih[k * H : (k + 1) * H], plain.bias_ih[k * H : (k + 1) * H])
    torch.testing.assert_close(
        cell.bias_ih[H : 2 * H] - plain.bias_ih[H : 2 * H], torch.full((H,), forget_bias)
    )

    torch.manual_seed(4)
    cell.reset_parameters()  # a second init keeps the option
    torch.manual_seed(4)
    again = torch.nn.LSTMCell(I, H)
    expected = again.bias_ih.detach().clone()
    expected[H : 2 * H] += forget_bias
    assert torch.equal(cell.bias_ih, expected)


def test_forget_bias_runs_like_torch_with_the_same_shifted_bias():
    ours = nnzoo.create_cell("lstm", 5, 7, forget_bias=-0.5).double()
    theirs = torch.nn.LSTMCell(5, 7).double()
    copy_weights(theirs, ours)  # theirs takes our (shifted) init
    x = torch.randn(4, 6, 5, dtype=torch.float64)
    out, final = unroll(ours, x)
    state = None
    for t in range(6):
        state = theirs(x[:, t], state)
    torch.testing.assert_close(out[:, -1], state[0], atol=1e-12, rtol=0)
    torch.testing.assert_close(final.c, state[1], atol=1e-12, rtol=0)


@pytest.mark.parametrize("lengths", [None, torch.tensor([6, 2, 5])])
def test_forget_bias_fused_kernel_equals_the_scan(lengths):
    torch.manual_seed(5)
    fused = Recurrent("lstm", 4, 6, num_layers=2, forget_bias=1.0).double()
    torch.manual_seed(5)
    scan = Recurrent("lstm", 4, 6, num_layers=2, forget_bias=1.0, fused=False).double()
    assert fused.uses_fused_kernel and not scan.uses_fused_kernel
    for a, b in zip(fused.parameters(), scan.parameters()):
        assert torch.equal(a, b)  # the same seed gives the same (shifted) init on both paths
    assert (fused.layers[0].bias_ih[6:12] > 1 - 2 / 6**0.5).all()
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    out_f, states_f = fused(x, lengths=lengths)
    out_s, states_s = scan(x, lengths=lengths)
    torch.testing.assert_close(out_f, out_s, atol=1e-10, rtol=0)
    for sf, ss in zip(states_f, states_s):
        for a, b in zip(sf, ss):
            torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    grads_f = torch.autograd.grad(out_f.sum(), list(fused.parameters()))
    grads_s = torch.autograd.grad(out_s.sum(), list(scan.parameters()))
    for a, b in zip(grads_f, grads_s):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"bias": False, "forget_bias": 1.0}, "forget_bias=1.0 needs a bias"),
        ({"forget_bias": "one"}, "forget_bias='one': expected a finite number"),
        ({"forget_bias": float("inf")}, "forget_bias=inf: expected a finite number"),
    ],
)
def test_bad_forget_bias_is_a_config_error(options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        nnzoo.create_cell("lstm", 3, 4, **options)


def test_forget_bias_without_bias_at_zero_is_fine():
    cell = nnzoo.create_cell("lstm", 3, 4, bias=False, forget_bias=0)
    assert cell.bias_ih is None


def test_forget_bias_is_a_listed_option_and_reaches_the_cell_through_a_config():
    from nnzoo.cells import CELLS
    from nnzoo.config import load_config
    from nnzoo.models import create_model

    assert CELLS.options("lstm") == {"bias": True, "forget_bias": 0.0}
    config = load_config(None, ["model.cell=lstm", "model.layers=2",
                                "model.cell_options.forget_bias=1"])  # fmt: skip
    torch.manual_seed(0)
    model = create_model(config.model, 3, 4)
    torch.manual_seed(0)
    plain = create_model(load_config(None, ["model.cell=lstm", "model.layers=2"]).model, 3, 4)
    for cell, base in zip(model.encoder.layers, plain.encoder.layers):
        assert cell.forget_bias == 1.0
        torch.testing.assert_close(cell.bias_ih[32:64] - base.bias_ih[32:64], torch.ones(32))
