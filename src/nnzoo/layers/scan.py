"""``unroll``: the one loop over time in nnzoo. Every cell, every layer runs through it.

Batch-first: x is (B, T, I). The input projection of the whole sequence is computed once,
before the loop (``cell.input_projection``), and the loop calls ``cell.recur`` per step.

Variable-length batches (``lengths`` (B,) or a PackedSequence): each sequence's state stops at
its own last element, outputs past it are zero, and every sequence gets exactly the result it
would get alone. ``reverse=True`` reads each sequence backwards from its own last element and
returns outputs aligned with the input (output t belongs to input t).

``collect=[]`` also hands back each step's h_t (B, H), the very tensor that feeds step t + 1
and the layer above, so that ``torch.autograd.grad(loss, collect)`` is the total derivative
dL/dh_t through every later step (the gradient-flow study reads it).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from nnzoo.errors import ConfigError


class Padded(NamedTuple):
    x: Tensor  # (B, T, I)
    lengths: Tensor | None  # (B,) long on x's device, None when every sequence is full length
    packed: bool  # the caller passed a PackedSequence: return one


def as_padded(x: Tensor | PackedSequence, lengths: Any = None) -> Padded:
    """Check and normalise (x, lengths); unpack a PackedSequence."""
    if isinstance(x, PackedSequence):
        if lengths is not None:
            raise ConfigError("lengths: give either a PackedSequence or lengths, not both")
        x, lengths = pad_packed_sequence(x, batch_first=True)
        return Padded(x, check_lengths(lengths, x), True)
    if not isinstance(x, Tensor):
        raise ConfigError(f"x: expected a tensor (B, T, I), got {type(x).__name__}")
    if x.dim() != 3:
        raise ConfigError(
            f"x: expected a 3D tensor (B, T, I), got {x.dim()}D with shape {tuple(x.shape)}"
        )
    return Padded(x, None if lengths is None else check_lengths(lengths, x), False)


def check_lengths(lengths: Any, x: Tensor) -> Tensor | None:
    """lengths (B,) of integers in [1, T] -> long tensor on x's device (None if all equal T)."""
    B, T = x.shape[0], x.shape[1]
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ConfigError(
            f"lengths: expected a 1D sequence of B={B} lengths, got shape {tuple(lengths.shape)}"
        )
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise ConfigError(f"lengths: expected integers, got {lengths.dtype}")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ConfigError(f"lengths: expected values in [1, T={T}], got values from {lo} to {hi}")
    if lo == T:
        return None
    return lengths.to(device=x.device, dtype=torch.long)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of x (B, T, F) within its own length; padding stays in place."""
    if lengths is None:
        return x.flip(1)
    T = x.shape[1]
    t = torch.arange(T, device=x.device)[None]  # (1, T)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, T)
    return x.gather(1, index[:, :, None].expand_as(x))


def repack(out: Tensor, padded: Padded) -> Tensor | PackedSequence:
    if not padded.packed:
        return out
    lengths = padded.lengths
    if lengths is None:
        lengths = torch.full((out.shape[0],), out.shape[1], dtype=torch.long)
    return pack_padded_sequence(out, lengths.cpu(), batch_first=True, enforce_sorted=False)


def _as_float32(value: Any) -> Any:
    """A tensor, PackedSequence or state NamedTuple with its floating tensors in float32."""
    if value is None:
        return None
    if isinstance(value, PackedSequence):
        return value._replace(data=value.data.float())
    if isinstance(value, Tensor):
        return value.float() if value.is_floating_point() else value
    return type(value)(*(_as_float32(v) for v in value))


def unroll(
    cell,
    x: Tensor | PackedSequence,
    state: NamedTuple | None = None,
    lengths: Any = None,
    reverse: bool = False,
    collect: list[Tensor] | None = None,
):
    """Run ``cell`` over a batch of sequences.

    Args:
        cell: any registered cell (the contract of ``nnzoo.cells.base.CellBase``).
        x: (B, T, I) batch-first inputs, or a PackedSequence.
        state: the state before the first step (default: ``cell.init_state``).
        lengths: (B,) number of valid steps of each sequence (default: all T).
        reverse: read each sequence from its own last element back to its first.
        collect: a list that each step's h_t (B, H), as ``cell.recur`` returned it, is appended
            to, in the order the steps run (with ``reverse``, from the last element back). It
            takes the step-by-step loop, never the cell's fused ``sequence_recur``, so that
            every h_t is a tensor of the graph. With ``lengths``, a sequence's h_t past its end
            feeds nothing (its state and output keep their last values).

    Returns:
        outputs (B, T, H) (a PackedSequence if x was one), with zeros past each length, and the
        state after each sequence's own last step.
    """
    device_type = (x.data if isinstance(x, PackedSequence) else x).device.type
    if torch.is_autocast_enabled(device_type):
        # Under autocast (train.precision bf16 / 16-mixed) the scan runs in float32: the cells'
        # hand-written backward passes are written for one dtype, and a recurrence accumulates
        # its rounding over T steps. The layers around it (projections, heads) keep autocast.
        with torch.autocast(device_type, enabled=False):
            return unroll(cell, _as_float32(x), _as_float32(state), lengths, reverse, collect)
    padded = as_padded(x, lengths)
    x, lengths = padded.x, padded.lengths
    cell.check_input(x)
    B, T, _ = x.shape
    if state is None:
        state = cell.init_state(B, x.device, x.dtype)
    elif state[0].shape[0] != B:
        raise ConfigError(
            f"state: expected a state for batch size B={B}, got one for {state[0].shape[0]}"
        )
    if reverse:
        x = reverse_padded(x, lengths)

    xp = cell.input_projection(x)  # (B, T, P)
    fast = cell.sequence_recur(xp, state, lengths) if collect is None else None
    if fast is not None:
        out, state = fast
        return repack(reverse_padded(out, lengths) if reverse else out, padded), state
    outputs = []
    if lengths is None:
        for xp_t in xp.unbind(1):
            h, state = cell.recur(xp_t, state)
            outputs.append(h)
            if collect is not None:
                collect.append(h)
    else:
        running = torch.arange(T, device=x.device)[None] < lengths[:, None]  # (B, T)
        for xp_t, mask in zip(xp.unbind(1), running[:, :, None].unbind(1)):
            if cell.uses_batch_statistics:
                h, new = cell.recur(xp_t, state, mask=mask)
            else:
                h, new = cell.recur(xp_t, state)
            if collect is not None:
                collect.append(h)
            state = type(state)(*(_keep(mask, n, s) for n, s in zip(new, state)))
            outputs.append(torch.where(mask, h, torch.zeros_like(h)))
    out = torch.stack(outputs, 1)  # (B, T, H)
    if reverse:
        out = reverse_padded(out, lengths)
    return repack(out, padded), state


def _keep(mask: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """new where the sequence is still running, else old; mask (B, 1) broadcast to any rank."""
    return torch.where(mask.view(-1, *([1] * (new.dim() - 1))), new, old)
