"""Shared check: a cell equals its torch.nn counterpart with copied weights."""

import torch

import nnzoo
from nnzoo import unroll
from tests.conftest import tolerance


def copy_weights(ours, theirs):
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if getattr(ours, name) is not None:
                getattr(ours, name).copy_(getattr(theirs, name))


def check_cell_against_torch(name, torch_cell_type, dtype, bias=True, **options):
    I, H, B, T = 5, 7, 4, 6
    theirs = torch_cell_type(I, H, bias=bias, **options).to(dtype)
    ours = nnzoo.create_cell(name, I, H, bias=bias, **options).to(dtype)
    copy_weights(ours, theirs)
    x = torch.randn(B, T, I, dtype=dtype)
    is_lstm = torch_cell_type is torch.nn.LSTMCell
    h = torch.randn(B, H, dtype=dtype)
    c = torch.randn(B, H, dtype=dtype)

    state_theirs = (h, c) if is_lstm else h
    reference = []
    for t in range(T):
        state_theirs = theirs(x[:, t], state_theirs)
        reference.append(state_theirs[0] if is_lstm else state_theirs)
    reference = torch.stack(reference, 1)

    state = ours.State(h, c) if is_lstm else ours.State(h)
    out, final = unroll(ours, x, state)
    tol = tolerance(dtype)
    torch.testing.assert_close(out, reference, **tol)
    if is_lstm:
        torch.testing.assert_close(final.c, state_theirs[1], **tol)

    weights = torch.randn_like(out)
    (out * weights).sum().backward()
    (reference * weights).sum().backward()
    for pname, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, getattr(theirs, pname).grad, **tol)
