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

``forget_bias`` is added to the forget gate's slice of ``bias_ih`` at initialisation (and again
by every ``reset_parameters()``): b_f starts at forget_bias plus the usual uniform draws. With
forget_bias = 1 the forget gate starts near sigma(1) = 0.73 instead of 1/2, so c_{t-1}, and the
gradient through it, fades more slowly from the first step of training (Gers et al. 2000;
Jozefowicz et al. 2015 found that it brings the LSTM level with the GRU on most of their tasks).
It is an initial value only: training moves b_f freely, and the fused kernel and the scan run
the same weights. The default 0 leaves the cell bit-identical to ``torch.nn.LSTMCell``.

Shape:
    x_t (B, I), state ``LSTMState(h, c)`` with h, c (B, H) -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import FusedCell, check_number
from nnzoo.cells.registry import CELLS
from nnzoo.errors import ConfigError
from nnzoo.layers.bptt import peephole_lstm_scan
from nnzoo.layers.gemm import projection
from nnzoo.layers.schedule import scans_allowed


class LSTMState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)


@CELLS.register("lstm")
class LSTMCell(FusedCell):
    """LSTM cell in torch.nn's layout. Options: ``bias``, ``forget_bias`` (needs ``bias``)."""

    State = LSTMState
    torch_mode = "LSTM"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, forget_bias: float = 0.0
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=4, bias=bias)
        self.forget_bias = check_number("forget_bias", forget_bias)
        if self.forget_bias and not self.bias:
            raise ConfigError(
                f"forget_bias={forget_bias!r} needs a bias; expected bias=True or forget_bias=0"
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.forget_bias:
            H = self.hidden_size
            with torch.no_grad():
                self.bias_ih[H : 2 * H] += self.forget_bias  # the f slice of i, f, g, o

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

    def input_projection(self, x: Tensor) -> Tensor:
        return projection(x, self.weight_ih, self.bias_ih)  # F.linear, laid out for the scan

    def sequence_recur(self, xp: Tensor, state: LSTMState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 4H) with hand-written BPTT (the
        peephole scan of ``nnzoo.layers.bptt`` without peepholes), any lengths; None inside
        torch.func transforms."""
        if not scans_allowed():
            return None
        if self.bias_hh is not None:
            xp = xp + self.bias_hh  # b_hh is step-independent: it joins the hoisted part
        out, h, c = peephole_lstm_scan(xp, state.h, state.c, self.weight_hh, None, lengths,
                                       diagonal=False)  # fmt: skip
        return out, LSTMState(h, c)

    def extra_repr(self) -> str:
        extra = f", forget_bias={self.forget_bias:g}" if self.forget_bias else ""
        return super().extra_repr() + extra
