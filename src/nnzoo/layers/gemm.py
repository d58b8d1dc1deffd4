"""Matrix products for the hand-written scans: oneDNN's kernel for float32 CPU, torch's elsewhere.

On CPU ``torch.mm`` calls MKL, which on some x86 CPUs (AMD's) runs its AVX2 code only: about half
the speed of the oneDNN kernel that torch.nn.LSTM uses there. ``linear`` and ``linear_add`` take
that kernel (``torch.ops.mkldnn._linear_pointwise``, the one torch.compile emits for linear
layers on CPU) for float32 CPU products big enough to pay for its call (``ONEDNN_MIN_MACS``),
and ``torch.mm`` / ``torch.addmm`` for anything else (small products, float64, GPU, a torch
built without oneDNN, or ``torch.backends.mkldnn.flags(enabled=False)``); ``gram`` likewise
for weight gradients. Both compute the same product; they differ only in float rounding.

``projection`` is ``F.linear`` with these products in its forward and backward, laid out time
major: the input projection of a cell whose scan is hand-written.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

try:
    _POINTWISE = torch.ops.mkldnn._linear_pointwise
except (AttributeError, RuntimeError):  # a torch without oneDNN's linear ops
    _POINTWISE = None


GRAM_ONEDNN_MIN_WIDTH = 128  # from here ``gram`` takes oneDNN in blocks of rows
GRAM_BLOCK = 1024


def transforms_active() -> bool:
    """True inside torch.func transforms (grad, vmap, ...), which a hand-written
    autograd.Function without ``setup_context`` cannot join."""
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return active is not None and active()


# oneDNN's call costs about 11 us more than MKL's: it pays off from about 2M multiply-adds
# (B = 256 rows times H = 64 times 4H), and wins 2x from there on at the speeds above.
ONEDNN_MIN_MACS = 1 << 21


def use_onednn(x: Tensor, macs: int = ONEDNN_MIN_MACS) -> bool:
    """True where a product of ``macs`` multiply-adds on x runs on oneDNN: float32 CPU tensors,
    oneDNN built and enabled, and a product big enough to pay for its call."""
    return (
        macs >= ONEDNN_MIN_MACS
        and _POINTWISE is not None
        and x.dtype == torch.float32
        and x.device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


def linear(x: Tensor, w: Tensor) -> Tensor:
    """x (M, K) @ w (N, K)^T -> (M, N). Rows of x may be strided; w should be contiguous."""
    if use_onednn(x, x.shape[0] * w.shape[0] * w.shape[1]):
        return _POINTWISE(x, w, None, "none", [], "")
    return torch.mm(x, w.t())


def linear_add(
    x: Tensor,
    w: Tensor,
    other: Tensor | None = None,
    out: Tensor | None = None,
    scale: float = 1.0,
) -> Tensor:
    """x (M, K) @ w (N, K)^T (+ scale * other (M, N)), into ``out`` if given."""
    if use_onednn(x, x.shape[0] * w.shape[0] * w.shape[1]):
        y = _POINTWISE(x, w, None, "none", [], "")
        if other is None:
            return y if out is None else out.copy_(y)
        return torch.add(y, other, alpha=scale, out=out)
    if other is None:
        return torch.mm(x, w.t(), out=out)
    return torch.addmm(other, x, w.t(), beta=scale, out=out)


def gram(a: Tensor, b: Tensor) -> Tensor:
    """a (K, M)^T @ b (K, N) -> (M, N): a weight gradient summed over K rows (steps, batch).

    oneDNN multiplies rows against rows only: where it pays (M and N from 128, where it is
    over a third faster than MKL even counting the copies), the K rows go through it in
    blocks small enough that transposing a block stays in cache. Elsewhere MKL, with the
    narrower operand first: its product with a narrow right operand (N = 9 input features,
    say) runs several times slower than the same product transposed.
    """
    K, M, N = a.shape[0], a.shape[1], b.shape[1]
    if min(M, N) >= GRAM_ONEDNN_MIN_WIDTH and use_onednn(a, K * M * N):
        out = None
        for start in range(0, K, GRAM_BLOCK):
            rows = slice(start, start + GRAM_BLOCK)
            part = _POINTWISE(a[rows].t().contiguous(), b[rows].t().contiguous(), None,
                              "none", [], "")  # fmt: skip
            out = part if out is None else out.add_(part)
        return out
    if N < M:
        return torch.mm(b.t(), a).t()
    return torch.mm(a.t(), b)


class _Projection(torch.autograd.Function):
    """F.linear on (N, I) rows with the products above; backward by hand."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = linear(x, weight)
        return y if bias is None else y.add_(bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: Tensor):
        x, weight = ctx.saved_tensors
        dy = dy.contiguous()
        dx = linear(dy, weight.t().contiguous()) if ctx.needs_input_grad[0] else None
        dw = gram(dy, x) if ctx.needs_input_grad[1] else None
        db = dy.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


def projection(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``, on oneDNN where ``use_onednn`` says so.

    For x (B, T, I) the result (B, T, P) is a view of time-major storage (T, B, P), so that a
    scan finds each step's rows in one contiguous block (a batch-first x is copied time-major
    first; the outputs of a hand-written scan already are).
    """
    if x.dim() != 3:
        return _linear_rows(x, weight, bias)
    B, T, I = x.shape
    rows = x.transpose(0, 1).reshape(T * B, I)  # a view when x is time-major storage
    return _linear_rows(rows, weight, bias).view(T, B, -1).transpose(0, 1)


def _linear_rows(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    if (
        x.dim() != 2
        or not use_onednn(x, x.shape[0] * weight.numel())
        or x.shape[-1] == 0
        or transforms_active()
    ):
        return F.linear(x, weight, bias)
    return _Projection.apply(x, weight, bias)
