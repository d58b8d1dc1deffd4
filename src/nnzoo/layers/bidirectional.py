"""``Bidirectional``: run one cell forwards and another backwards, then merge (any cell).

Shape:
    x (B, T, I) -> outputs (B, T, 2H) for ``merge="concat"``, (B, T, H) for "sum", "mul" and
    "mean"; state ``BiState(fw, bw)`` with each direction's own cell state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from nnzoo.cells.base import check_choice
from nnzoo.errors import ConfigError
from nnzoo.layers.scan import as_padded, repack, unroll

MERGES = ("concat", "sum", "mul", "mean")


class BiState(NamedTuple):
    fw: Any  # the forward cell's state
    bw: Any  # the backward cell's state


def merge_directions(fw: Tensor, bw: Tensor, merge: str) -> Tensor:
    if merge == "concat":
        return torch.cat([fw, bw], -1)
    if merge == "sum":
        return fw + bw
    if merge == "mul":
        return fw * bw
    return (fw + bw) / 2


class Bidirectional(nn.Module):
    """A forward and a backward cell over the same sequence, outputs merged per step."""

    def __init__(self, cell_fw: nn.Module, cell_bw: nn.Module, merge: str = "concat") -> None:
        super().__init__()
        self.merge = check_choice("merge", merge, MERGES)
        if cell_fw.input_size != cell_bw.input_size:
            raise ConfigError(
                f"cell_bw: expected input_size={cell_fw.input_size} like cell_fw, "
                f"got {cell_bw.input_size}"
            )
        if merge != "concat" and cell_fw.hidden_size != cell_bw.hidden_size:
            raise ConfigError(
                f"merge={merge!r}: expected both cells with hidden_size={cell_fw.hidden_size}, "
                f"got {cell_bw.hidden_size} for cell_bw"
            )
        self.fw, self.bw = cell_fw, cell_bw
        self.input_size = cell_fw.input_size

    @property
    def output_size(self) -> int:
        if self.merge == "concat":
            return self.fw.hidden_size + self.bw.hidden_size
        return self.fw.hidden_size

    def forward(self, x: Tensor | PackedSequence, state: BiState | None = None, lengths=None):
        padded = as_padded(x, lengths)
        fw_state, bw_state = (None, None) if state is None else state
        out_fw, fw_state = unroll(self.fw, padded.x, fw_state, padded.lengths)
        out_bw, bw_state = unroll(self.bw, padded.x, bw_state, padded.lengths, reverse=True)
        out = merge_directions(out_fw, out_bw, self.merge)  # (B, T, 2H or H)
        return repack(out, padded), BiState(fw_state, bw_state)

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"
