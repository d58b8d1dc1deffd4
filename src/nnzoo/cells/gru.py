r"""GRU cell in the cuDNN / torch.nn form, numerically equal to ``torch.nn.GRUCell``.

.. math::
    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
    n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

The reset gate r_t multiplies the hidden matmul *after* it is computed (cuDNN's choice), unlike
the course's form ``gru-relevance`` where Gamma_r multiplies h_{t-1} before the matmul. In the
course's notation z_t = 1 - Gamma_u and n_t = h-tilde. Rows of ``weight_ih`` (3H, I) and
``weight_hh`` (3H, H) are ordered r, z, n as in torch.nn.

Shape:
    x_t (B, I), state ``GRUState(h)`` with h (B, H) -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import FusedCell
from nnzoo.cells.registry import CELLS
from nnzoo.layers.bptt_gru import torch_gru_scan
from nnzoo.layers.gemm import projection
from nnzoo.layers.schedule import scans_allowed


class GRUState(NamedTuple):
    h: Tensor  # (B, H)


@CELLS.register("gru")
class GRUCell(FusedCell):
    """GRU cell in torch.nn's layout. Option: ``bias``."""

    State = GRUState
    torch_mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, num_chunks=3, bias=bias)
        self.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> GRUState:
        return GRUState(self.zeros(batch, self.hidden_size, device, dtype))

    def recur(self, xp_t: Tensor, state: GRUState, mask=None):
        h_prev = state.h
        x_r, x_z, x_n = xp_t.chunk(3, 1)  # (B, H) each
        h_r, h_z, h_n = F.linear(h_prev, self.weight_hh, self.bias_hh).chunk(3, 1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h_prev  # (B, H)
        return h, GRUState(h)

    def input_projection(self, x: Tensor) -> Tensor:
        return projection(x, self.weight_ih, self.bias_ih)  # F.linear, laid out for the scan

    def sequence_recur(self, xp: Tensor, state: GRUState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 3H) with hand-written BPTT
        (``nnzoo.layers.bptt_gru``), any lengths; None inside torch.func transforms."""
        if not scans_allowed():
            return None
        out, h = torch_gru_scan(xp, state.h, self.weight_hh, self.bias_hh, lengths)
        return out, GRUState(h)
