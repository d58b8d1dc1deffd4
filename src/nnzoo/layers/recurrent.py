"""``Recurrent``: a drop-in analogue of torch.nn.LSTM for every registered cell.

Stacks ``num_layers`` layers of a cell (each a cell, or a ``Bidirectional`` pair), with dropout
between layers and, with ``residual=True``, a sum connection around every layer after the first
whose input and output widths are equal. Batch-first.

Shape:
    x (B, T, I) or a PackedSequence -> outputs (B, T, H) ((B, T, 2H) bidirectional with
    ``merge="concat"``) and the final state: a list with one entry per layer, the cell's state
    (a ``BiState(fw, bw)`` for bidirectional layers).

``lstm``, ``gru`` and ``elman`` layers may run on torch's fused kernel (``fused=True``, the
default), where it is faster than their hand-written scans (``nnzoo.layers.fused.kernel_wins``:
on CPU, ``gru`` and variable-length ``lstm`` take the scan); every other cell, or
``fused=False``, runs the scan (``unroll``). Weights move between this
module and torch.nn.RNN / GRU / LSTM with ``Recurrent.from_torch`` and ``to_torch``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from nnzoo.cells import create_cell
from nnzoo.cells.base import check_choice, check_features, check_positive_int
from nnzoo.errors import ConfigError
from nnzoo.layers.bidirectional import MERGES, Bidirectional, BiState, merge_directions
from nnzoo.layers.fused import can_fuse, fused_layers, kernel_wins
from nnzoo.layers.scan import as_padded, repack, unroll

_TORCH_CELLS = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "elman"}


class Recurrent(nn.Module):
    """A stack of recurrent layers of any registered cell.

    Args:
        cell: registry name of the cell (see ``nnzoo.list_cells()``).
        input_size: I.
        hidden_size: H of every layer.
        num_layers: number of stacked layers.
        bidirectional: each layer reads the sequence both ways.
        residual: add each layer's input to its output when the widths are equal (layers > 1).
        dropout: dropout probability on the inputs of every layer but the first.
        merge: how a bidirectional layer merges its two directions ("concat", "sum", "mul",
            "mean").
        fused: let ``lstm``, ``gru`` and ``elman`` run on torch's fused kernel where it wins.
        **cell_options: passed to every cell (e.g. ``window=38, num_heads=27`` for ``larnn``).
    """

    def __init__(
        self,
        cell: str = "lstm",
        input_size: int | None = None,
        hidden_size: int | None = None,
        num_layers: int = 1,
        bidirectional: bool = False,
        residual: bool = False,
        dropout: float = 0.0,
        merge: str = "concat",
        fused: bool = True,
        **cell_options: Any,
    ) -> None:
        super().__init__()
        if input_size is None or hidden_size is None:
            raise ConfigError("Recurrent: expected input_size and hidden_size, both integers >= 1")
        self.cell = cell
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout={dropout!r}: expected a probability in [0, 1)")
        self.bidirectional, self.residual = bool(bidirectional), bool(residual)
        self.dropout, self.fused = float(dropout), bool(fused)
        self.merge = check_choice("merge", merge, MERGES)
        self.cell_options = dict(cell_options)

        self.layers = nn.ModuleList()
        self.residual_layers: list[bool] = []
        width = input_size
        for index in range(num_layers):
            if bidirectional:
                layer = Bidirectional(
                    create_cell(cell, width, hidden_size, **cell_options),
                    create_cell(cell, width, hidden_size, **cell_options),
                    merge=merge,
                )
            else:
                layer = create_cell(cell, width, hidden_size, **cell_options)
            self.layers.append(layer)
            self.residual_layers.append(residual and index > 0 and layer.output_size == width)
            width = layer.output_size
        self.output_size = width

    @staticmethod
    def _cells(layer: nn.Module) -> list[nn.Module]:
        return [layer.fw, layer.bw] if isinstance(layer, Bidirectional) else [layer]

    @property
    def uses_fused_kernel(self) -> bool:
        """Whether the stack can run on torch's fused kernel (``kernel_path`` says if it will)."""
        return self.fused and all(can_fuse(self._cells(layer)) for layer in self.layers)

    def kernel_path(self, x: Tensor, lengths: Tensor | None = None) -> bool:
        """Whether a call on (x, lengths) runs on torch's fused kernel (else the scans)."""
        return self.uses_fused_kernel and kernel_wins(self._cells(self.layers[0]), x, lengths)

    def forward(
        self, x: Tensor | PackedSequence, state: list[Any] | None = None, lengths: Any = None
    ):
        """x (B, T, I) -> outputs (B, T, output_size) and the list of per-layer final states."""
        padded = as_padded(x, lengths)
        x, lengths = padded.x, padded.lengths
        check_features("x", x, 3, "(B, T, I)", self.input_size, "input_size")
        if state is not None and len(state) != self.num_layers:
            raise ConfigError(
                f"state: expected a list of num_layers={self.num_layers} layer states, "
                f"got {len(state)}"
            )
        fused = self.kernel_path(x, lengths)  # checks every layer's cells: once per call
        if fused and not any(self.residual_layers) and self.merge == "concat":
            x, states = self._fused_stack(x, state, lengths)  # the whole stack in one call
            return repack(x, padded), states
        states = []
        for index, layer in enumerate(self.layers):
            layer_input = x
            if index > 0 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            layer_state = None if state is None else state[index]
            if fused:
                x, (layer_state,) = self._fused_stack(x, [layer_state], lengths, [layer])
            elif isinstance(layer, Bidirectional):
                x, layer_state = layer(x, layer_state, lengths)
            else:
                x, layer_state = unroll(layer, x, layer_state, lengths)
            if self.residual_layers[index]:
                x = x + layer_input  # (B, T, H)
            states.append(layer_state)
        return repack(x, padded), states

    def _fused_stack(self, x, state, lengths, layers=None):
        """Layers (default: all) on torch's kernel; our state format in and out."""
        layers = list(self.layers) if layers is None else layers
        cells = [self._cells(layer) for layer in layers]
        flat_state = None
        if state is not None and any(s is not None for s in state):
            B, flat_state = x.shape[0], []
            for layer, layer_cells, s in zip(layers, cells, state):
                if s is None:
                    flat_state.append([c.init_state(B, x.device, x.dtype) for c in layer_cells])
                elif isinstance(layer, Bidirectional):
                    flat_state.append(list(s))
                else:
                    flat_state.append([s])
        dropout = self.dropout if len(layers) > 1 else 0.0
        out, new_states = fused_layers(cells, x, flat_state, lengths, dropout, self.training)
        merged = []
        for layer, layer_states in zip(layers, new_states):
            merged.append(BiState(*layer_states) if isinstance(layer, Bidirectional)
                          else layer_states[0])  # fmt: skip
        if isinstance(layers[-1], Bidirectional) and layers[-1].merge != "concat":
            H = layers[-1].fw.hidden_size
            out = merge_directions(out[..., :H], out[..., H:], layers[-1].merge)
        return out, merged

    # -- interop with torch.nn ------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> Recurrent:
        """A Recurrent with the weights of a torch.nn.RNN / GRU / LSTM (any layers, directions).

        The result is batch-first whatever ``module.batch_first`` says.
        """
        name = next((n for t, n in _TORCH_CELLS.items() if type(module) is t), None)
        if name is None:
            raise ConfigError(
                f"module: expected torch.nn.RNN, GRU or LSTM, got {type(module).__name__}"
            )
        if getattr(module, "proj_size", 0):
            raise ConfigError(
                f"module.proj_size={module.proj_size}: expected 0 (projected LSTMs have no cell)"
            )
        options = {"nonlinearity": module.nonlinearity} if name == "elman" else {}
        recurrent = cls(
            name,
            module.input_size,
            module.hidden_size,
            num_layers=module.num_layers,
            bidirectional=module.bidirectional,
            dropout=module.dropout,
            bias=module.bias,
            **options,
        )
        weight = module.weight_ih_l0
        recurrent.to(device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            for target, source in recurrent._torch_parameter_pairs(module):
                target.copy_(source)
        return recurrent

    def to_torch(self) -> nn.RNNBase:
        """The equivalent torch.nn.RNN / GRU / LSTM (batch_first=True), weights copied."""
        if self.cell not in _TORCH_CELLS.values():
            raise ConfigError(
                f"cell={self.cell!r}: torch.nn has only lstm, gru and elman; cannot export: "
                "build the Recurrent with one of those cells"
            )
        if any(self.residual_layers) or (self.bidirectional and self.merge != "concat"):
            raise ConfigError(
                "to_torch: residual connections and merges other than 'concat' have no "
                "torch.nn equivalent; expected residual=False, merge='concat'"
            )
        first = self._cells(self.layers[0])[0]
        kwargs: dict[str, Any] = {}
        if self.cell == "elman":
            kwargs["nonlinearity"] = first.nonlinearity
        torch_type = next(t for t, n in _TORCH_CELLS.items() if n == self.cell)
        module = torch_type(
            self.input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            bias=first.bias,
            batch_first=True,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            **kwargs,
        ).to(device=first.weight_ih.device, dtype=first.weight_ih.dtype)
        with torch.no_grad():
            for ours, theirs in self._torch_parameter_pairs(module):
                theirs.copy_(ours)
        return module

    def _torch_parameter_pairs(self, module: nn.RNNBase):
        """(our parameter, torch.nn's parameter) for every weight, matched by name."""
        for index, layer in enumerate(self.layers):
            for direction, cell in enumerate(self._cells(layer)):
                suffix = f"_l{index}" + ("_reverse" if direction else "")
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    ours = getattr(cell, name)
                    if ours is not None:
                        yield ours, getattr(module, name + suffix)

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell!r}, {self.input_size}, {self.hidden_size}, "
            f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
            f"residual={self.residual}, dropout={self.dropout}"
        )
