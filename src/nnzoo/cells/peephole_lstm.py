r"""LSTM with peephole connections (Gers & Schmidhuber 2000).

.. math::
    \Gamma_u &= \sigma(M_u [h_{t-1}, x_t] + P_u c_{t-1} + b_u) \\
    \Gamma_f &= \sigma(M_f [h_{t-1}, x_t] + P_f c_{t-1} + b_f) \\
    \tilde c_t &= \tanh(M_c [h_{t-1}, x_t] + b_c) \\
    c_t &= \Gamma_f \odot c_{t-1} + \Gamma_u \odot \tilde c_t \\
    \Gamma_o &= \sigma(M_o [h_{t-1}, x_t] + P_o c_t + b_o) \\
    h_t &= \Gamma_o \odot \tanh(c_t)

The input and forget gates peek at the previous cell state, the output gate at the new one.
``peephole="diagonal"`` (Gers & Schmidhuber): P_u, P_f, P_o are diagonal, stored as the rows of
``weight_ch`` (3, H). ``peephole="full"`` (the course's M [c, h, x]): full matrices, ``weight_ch``
(3H, H). With zero peephole weights the cell is the plain LSTM (``lstm``), same gate order
i, f, g, o in ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H), one bias ``bias_ih`` (4H).

Shape:
    x_t (B, I), state ``LSTMState(h, c)`` with h, c (B, H) -> h_t (B, H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.cells.base import CellBase, check_choice
from nnzoo.cells.lstm import LSTMState
from nnzoo.cells.registry import CELLS
from nnzoo.layers.bptt import peephole_lstm_scan
from nnzoo.layers.gemm import projection
from nnzoo.layers.schedule import scans_allowed


@CELLS.register("peephole-lstm")
class PeepholeLSTMCell(CellBase):
    """Peephole LSTM. Options: ``peephole`` ("diagonal" or "full"), ``bias``."""

    State = LSTMState

    def __init__(
        self, input_size: int, hidden_size: int, peephole: str = "diagonal", bias: bool = True
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=4, bias=bias)
        self.peephole = check_choice("peephole", peephole, ("diagonal", "full"))
        rows = 3 if peephole == "diagonal" else 3 * hidden_size
        self.weight_ch = nn.Parameter(torch.empty(rows, hidden_size))
        self.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> LSTMState:
        zeros = self.zeros(batch, self.hidden_size, device, dtype)
        return LSTMState(zeros, zeros)

    def recur(self, xp_t: Tensor, state: LSTMState, mask=None):
        H = self.hidden_size
        h_prev, c_prev = state
        gates = xp_t + F.linear(h_prev, self.weight_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        if self.peephole == "diagonal":
            p_u, p_f, p_o = self.weight_ch.unbind(0)  # (H,) each
            i = i + p_u * c_prev
            f = f + p_f * c_prev
        else:
            p_uf, p_o = self.weight_ch.split([2 * H, H], 0)
            peek_u, peek_f = F.linear(c_prev, p_uf).chunk(2, 1)
            i = i + peek_u
            f = f + peek_f
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        o = o + (p_o * c if self.peephole == "diagonal" else F.linear(c, p_o))
        h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
        return h, LSTMState(h, c)

    def input_projection(self, x: Tensor) -> Tensor:
        return projection(x, self.weight_ih, self.bias_ih)  # F.linear, laid out for the scan

    def sequence_recur(self, xp: Tensor, state: LSTMState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 4H) with hand-written BPTT
        (``nnzoo.layers.bptt``), any lengths, with or without a graph; None inside
        torch.func transforms."""
        if not scans_allowed():
            return None
        out, h, c = peephole_lstm_scan(
            xp, state.h, state.c, self.weight_hh, self.weight_ch, lengths,
            diagonal=self.peephole == "diagonal",
        )  # fmt: skip
        return out, LSTMState(h, c)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, peephole={self.peephole!r}"
