"""Shared check: a cell's hand-written scan (``sequence_recur``) against the step-by-step loop.

The reference is ``unroll(..., collect=[])``: the scan's own loop over ``cell.recur`` (the masked
loop with lengths), whose gradients come from autograd through every step. Both runs see the
same inputs, initial state and parameters; the check compares the outputs, each final state
field, and the gradient of a loss reading all of them w.r.t. the input, the initial state and
every parameter.
"""

import copy

import torch

from nnzoo import unroll


def random_lengths(batch: int, steps: int, generator: torch.Generator) -> torch.Tensor:
    """Lengths in random order with a length-1 sequence and a full one among them."""
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0], lengths[-1] = steps, 1
    return lengths[torch.randperm(batch, generator=generator)]


def fast_and_loop(cell, x, state, lengths=None, through_unroll=False, twin=None):
    """(outputs, final state) of the hand-written scan on ``cell`` and of the loop on ``twin``
    (default: the cell itself), same inputs."""
    if through_unroll:
        fast = unroll(cell, x, state, lengths=lengths)
    else:
        xp = cell.input_projection(x)
        fast = cell.sequence_recur(xp, state, lengths)
    loop = unroll(cell if twin is None else twin, x, state, lengths=lengths, collect=[])
    return fast, loop


def close(a, b, atol, rtol):
    """assert_close with atol relative to b's scale: float32 sums over many rows and steps
    carry an error in proportion to their size."""
    scale = max(1.0, float(b.detach().abs().max())) if b.numel() else 1.0
    torch.testing.assert_close(a, b, atol=atol * scale, rtol=rtol)


def check_scan_equals_loop(cell, x, state, lengths=None, through_unroll=False, atol=2e-5,
                           rtol=1e-5):  # fmt: skip
    """Outputs, final states, every gradient (x, the floating-point ``state`` fields, every
    parameter) and the buffers after the pass (running statistics) equal: the scan runs on
    ``cell``, the loop on a copy of it."""
    twin = copy.deepcopy(cell)
    x = x.detach().requires_grad_()
    state = type(state)(*(s.detach().requires_grad_() if s.is_floating_point() else s
                          for s in state))  # fmt: skip
    inputs = [x, *(s for s in state if s.requires_grad)]
    g = torch.Generator().manual_seed(1)
    (out, final), (ref, ref_final) = fast_and_loop(cell, x, state, lengths, through_unroll, twin)
    close(out, ref, atol, rtol)
    weights = [torch.randn(out.shape, generator=g, dtype=out.dtype)]
    loss_fast = (out * weights[0]).sum()
    loss_loop = (ref * weights[0]).sum()
    for a, b in zip(final, ref_final):
        if a.is_floating_point():
            close(a, b, atol, rtol)
            w = torch.randn(a.shape, generator=g, dtype=a.dtype)
            loss_fast = loss_fast + (a * w).sum()
            loss_loop = loss_loop + (b * w).sum()
        else:
            assert torch.equal(a, b)
    if lengths is not None:  # padding is zero in both
        past = torch.arange(x.shape[1])[None] >= torch.as_tensor(lengths)[:, None]
        assert torch.all(out[past] == 0)
    fast_grads = torch.autograd.grad(loss_fast, inputs + list(cell.parameters()))
    loop_grads = torch.autograd.grad(loss_loop, inputs + list(twin.parameters()))
    for a, b in zip(fast_grads, loop_grads):
        close(a, b, atol, rtol)
    for a, b in zip(cell.buffers(), twin.buffers()):
        close(a, b, atol, rtol)


def check_no_graph_equals_loop(cell, x, state, lengths=None, atol=2e-5, rtol=1e-5):
    """Without a graph (inference) the scan gives the loop's outputs, final state and buffers."""
    twin = copy.deepcopy(cell)
    with torch.no_grad():
        (out, final), (ref, ref_final) = fast_and_loop(cell, x, state, lengths, twin=twin)
    close(out, ref, atol, rtol)
    for a, b in zip([*final, *cell.buffers()], [*ref_final, *twin.buffers()]):
        if a.is_floating_point():
            close(a, b, atol, rtol)
        else:
            assert torch.equal(a, b)


def gradcheck_scan(cell, x, state, lengths=None):
    """Finite differences against the hand-written backward, float64, w.r.t. x, the float
    state fields and every parameter."""
    names = [k for k, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]
    floats = [i for i, s in enumerate(state) if s.is_floating_point()]
    inputs = [x.detach().requires_grad_(), *(state[i].detach().requires_grad_() for i in floats)]

    def run(x, *rest):
        fields = list(state)
        for i, s in zip(floats, rest[: len(floats)]):
            fields[i] = s
        weights = dict(zip(names, rest[len(floats) :]))
        out, final = _call_scan(cell, weights, x, type(state)(*fields), lengths)
        return (out, *(f for f in final if f.is_floating_point()))

    return torch.autograd.gradcheck(run, (*inputs, *params), eps=1e-6, atol=1e-6)


def _call_scan(cell, weights, x, state, lengths):
    """cell.sequence_recur with the cell's parameters replaced by ``weights``."""

    class Scan(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x, state):
            return self.cell.sequence_recur(self.cell.input_projection(x), state, lengths)

    weights = {f"cell.{k}": v for k, v in weights.items()}
    return torch.func.functional_call(Scan(), weights, (x, state))


def check_torch_func_takes_the_loop(cell, x, state):
    """Inside torch.func.grad the cell takes the loop (a hand-written Function cannot join the
    transform) and gives autograd's gradient."""

    def loss(x):
        return unroll(cell, x, state)[0].pow(2).sum()

    got = torch.func.grad(loss)(x)
    x = x.detach().requires_grad_()
    want = torch.autograd.grad(unroll(cell, x, state, collect=[])[0].pow(2).sum(), x)[0]
    close(got, want, 2e-5, 1e-5)
