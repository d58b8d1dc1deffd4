r"""The course's GRU with a relevance gate (Cho et al. 2014, as taught), and its simplified form.

.. math::
    \Gamma_u &= \sigma(M_u [h_{t-1}, x_t] + b_u) \\
    \Gamma_r &= \sigma(M_r [h_{t-1}, x_t] + b_r) \\
    \hat h_t &= \tanh(M [\Gamma_r \odot h_{t-1}, x_t] + b) \\
    h_t &= \Gamma_u \odot \hat h_t + (1 - \Gamma_u) \odot h_{t-1}

One slide writes ``Gamma_r * h-hat`` in the last line: that is a typo, the update gate
Gamma_u mixes the candidate with the old state (as above, and as implemented here).
With ``relevance=False`` the simplified GRU drops Gamma_r: h-hat = tanh(M [h_{t-1}, x_t] + b).

Unlike the torch.nn form (``gru``), Gamma_r multiplies h_{t-1} *before* the matmul.
Rows of ``weight_ih`` (3H, I) and ``weight_hh`` (3H, H) are ordered u, r, candidate (u,
candidate when ``relevance=False``); ``bias_ih`` holds b_u, b_r, b.

Shape:
    x_t (B, I), state ``GRUState(h)`` with h (B, H) -> h_t (B, H).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import CellBase
from nnzoo.cells.gru import GRUState
from nnzoo.cells.registry import CELLS
from nnzoo.layers.bptt_gru import gru_scan
from nnzoo.layers.gemm import projection
from nnzoo.layers.schedule import scans_allowed


@CELLS.register("gru-relevance")
class GRURelevanceCell(CellBase):
    """The course's GRU. Options: ``relevance`` (keep the relevance gate), ``bias``."""

    State = GRUState

    def __init__(
        self, input_size: int, hidden_size: int, relevance: bool = True, bias: bool = True
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=3 if relevance else 2, bias=bias)
        self.relevance = bool(relevance)
        self.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> GRUState:
        return GRUState(self.zeros(batch, self.hidden_size, device, dtype))

    def recur(self, xp_t: Tensor, state: GRUState, mask=None):
        H = self.hidden_size
        h_prev = state.h  # (B, H)
        n_gates = self.num_chunks - 1
        x_gates, x_hat = xp_t.split([n_gates * H, H], 1)
        w_gates, w_hat = self.weight_hh.split([n_gates * H, H], 0)
        gates = torch.sigmoid(x_gates + F.linear(h_prev, w_gates))  # (B, n_gates * H)
        if self.relevance:
            gamma_u, gamma_r = gates.chunk(2, 1)
            h_hat = torch.tanh(x_hat + F.linear(gamma_r * h_prev, w_hat))
        else:
            gamma_u = gates
            h_hat = torch.tanh(x_hat + F.linear(h_prev, w_hat))
        h = gamma_u * h_hat + (1 - gamma_u) * h_prev  # (B, H)
        return h, GRUState(h)

    def input_projection(self, x: Tensor) -> Tensor:
        return projection(x, self.weight_ih, self.bias_ih)  # F.linear, laid out for the scan

    def sequence_recur(self, xp: Tensor, state: GRUState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, kH) with hand-written BPTT
        (``nnzoo.layers.bptt_gru``), any lengths, with or without a graph; None inside
        torch.func transforms."""
        if not scans_allowed():
            return None
        out, h = gru_scan(xp, state.h, self.weight_hh, lengths, self.relevance)
        return out, GRUState(h)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, relevance={self.relevance}"
