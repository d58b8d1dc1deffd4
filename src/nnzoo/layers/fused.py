"""The fast path: run a layer of ``lstm``, ``gru`` or ``elman`` cells on torch's fused kernel.

These three cells compute exactly what torch.nn.LSTM / GRU / RNN compute (same equations, same
weight layout), so a layer of them (one direction or two) can be handed to the kernel behind
those modules (oneDNN on CPU, cuDNN on GPU) instead of the step-by-step scan. Tests prove the two
paths equal in outputs, final states and gradients, with and without ``lengths``.

``kernel_wins`` picks, per call, between the kernel and the cells' hand-written scans
(``sequence_recur``, ``nnzoo.layers.bptt*``), whichever is faster on this input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from nnzoo.cells.base import FusedCell
from nnzoo.layers.schedule import scans_allowed

_KERNELS = {
    "LSTM": torch._VF.lstm,
    "GRU": torch._VF.gru,
    "RNN_TANH": torch._VF.rnn_tanh,
    "RNN_RELU": torch._VF.rnn_relu,
}


def can_fuse(cells: list[Any]) -> bool:
    """True if every cell is a torch.nn-equivalent cell of one kind and shape."""
    first = cells[0]
    return all(
        isinstance(c, FusedCell)
        and type(c) is type(first)
        and c.torch_mode == first.torch_mode
        and c.hidden_size == first.hidden_size
        and c.bias == first.bias
        for c in cells
    )


def kernel_wins(cells: list[Any], x: Tensor, lengths: Tensor | None) -> bool:
    """Whether torch's kernel beats the cells' hand-written scan on this input.

    Measured on one CPU thread (fwd + bwd, T = 128, I = 9, 2 layers, ratio to torch.nn.LSTM's
    padded full-length time; ``benchmarks/cells.py``):

    * torch's CPU kernel for GRU is not oneDNN's: torch.nn.GRU ran 2.0x (B = 256, H = 32),
      4.2x (B = 64, H = 32), 2.0x (H = 64) and 1.9x (H = 128) where the ``gru`` scan ran 1.5x,
      2.5x, 1.4x and 1.2x: on CPU ``gru`` always takes its scan.
    * Variable lengths (uniform in [T/2, T]): the kernel's packed path ran torch.nn.LSTM 6.6-7.8x
      and torch.nn.GRU 4.9-5.7x, the scans 1.5-2.0x (lstm) and 1.2-1.6x (gru), as a scan does no
      work past each length: with ``lengths`` on CPU both take their scan.
    * Full-length ``lstm`` stays on the kernel (oneDNN's, 1.2-1.7x faster than its scan).

    The kernel always wins on GPU (cuDNN), for ``elman`` (no scan) and inside torch.func
    transforms, which the hand-written scans cannot join.
    """
    first = cells[0]
    if x.device.type != "cpu" or not scans_allowed() or first.torch_mode not in ("LSTM", "GRU"):
        return True
    return first.torch_mode == "LSTM" and lengths is None


def fused_layers(
    layers: list[list[FusedCell]],
    x: Tensor,
    states: list[list[Any]] | None,
    lengths: Tensor | None,
    dropout: float,
    training: bool,
) -> tuple[Tensor, list[list[Any]]]:
    """L stacked layers of D directions in one kernel call.

    Args:
        layers: per layer, its cells (one, or forward and backward).
        x: (B, T, I) inputs.
        states: per layer, the initial state of each direction (None: zeros).
        lengths: (B,) lengths or None.
        dropout: dropout on the outputs of every layer but the last (torch.nn's semantics).
        training: whether dropout is active.

    Returns:
        outputs (B, T, D*H) of the last layer, and per layer the final state of each direction.
    """
    first = layers[0][0]
    kernel = _KERNELS[first.torch_mode]
    weights = [w for cells in layers for cell in cells for w in cell.fused_weights()]
    B, T = x.shape[:2]
    if states is None:
        states = [[cell.init_state(B, x.device, x.dtype) for cell in cells] for cells in layers]
    flat = [s for layer_states in states for s in layer_states]  # L * D states
    hx = [torch.stack(field) for field in zip(*flat)]  # per state field: (L*D, B, H)
    num_layers, bidirectional = len(layers), len(layers[0]) == 2
    args = (weights, first.bias, num_layers, float(dropout), training, bidirectional)

    if lengths is None:
        result = kernel(x, _hx(hx), *args, True)
        out = result[0]  # (B, T, D*H)
        final = list(result[1:])
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hx = [h.index_select(1, packed.sorted_indices) for h in hx]
        result = kernel(packed.data, packed.batch_sizes, _hx(hx), *args)
        out_packed = PackedSequence(
            result[0], packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=T)
        final = [h.index_select(1, packed.unsorted_indices) for h in result[1:]]
    D = len(layers[0])
    new_states = [
        [cell.State(*(f[index * D + d] for f in final)) for d, cell in enumerate(cells)]
        for index, cells in enumerate(layers)
    ]
    return out, new_states


def _hx(fields: list[Tensor]) -> Tensor | tuple[Tensor, ...]:
    return tuple(fields) if len(fields) > 1 else fields[0]
