r"""LSTM cell (Hochreiter & Schmidhuber 1997), numerically equal to ``torch.nn.LSTMCell``.

.. math::
    \Gamma_u &= \sigma(M_u [h_{t-1}, x_t] + b_u) \qquad (\text{input gate } i_t) \\
    \Gamma_f &= \sigma(M_f [h_{t-1}, x_t] + b_f) \qquad (\text{forget gate } f_t) \\
    \tilde c_t &= \tanh(M_c [h_{t-1}, x_t] + b_c) \qquad (g_t) \\
    \Gamma_o &= \sigma(M_o [h_{t-1}, x_t] + b_o) \qquad (\text{output gate } o_t) \\
    c_t &= \Gamma_f \odot c_{t-1} + \Gamma_u \odot \tilde c_t \\
    h_t &= \Gamma_o \odot \tanh(c_t)

Weights are stored as in torch.nn: the rows of ``weight_ih`` (4H, I), ``weight_hh`` (4H, H),
``bias_ih`` and ``bias_hh`` (4H) are the gates in the order i, f, g, o.

Shape:
    x_t (B, I), state ``LSTMState(h, c)`` with h, c (B, H) -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import FusedCell
from nnzoo.cells.registry import CELLS


class LSTMState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)


@CELLS.register("lstm")
class LSTMCell(FusedCell):
    """LSTM cell in torch.nn's layout. Option: ``bias``."""

    State = LSTMState
    torch_mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size, num_chunks=4, bias=bias)
        self.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> LSTMState:
        zeros = self.zeros(batch, self.hidden_size, device, dtype)
        return LSTMState(zeros, zeros)

    def recur(self, xp_t: Tensor, state: LSTMState, mask=None):
        h_prev, c_prev = state
        gates = xp_t + F.linear(h_prev, self.weight_hh, self.bias_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
        return h, LSTMState(h, c)
