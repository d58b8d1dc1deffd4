r"""Batch-normalised LSTM: recurrent batch normalisation (Cooijmans et al. 2016).

.. math::
    (\Gamma_u, \Gamma_f, \Gamma_o, \tilde c_t) &= \mathrm{split}\big(
        \mathrm{BN}_t(W_h h_{t-1}; \gamma_h) + \mathrm{BN}_t(W_x x_t; \gamma_x) + b\big)
        \ \text{with } \sigma, \sigma, \tanh, \sigma \\
    c_t &= \Gamma_f \odot c_{t-1} + \Gamma_u \odot \tilde c_t \\
    h_t &= \Gamma_o \odot \phi(\mathrm{BN}_t(c_t; \gamma_c, \beta_c))

BN_t normalises with the statistics of time step t (per-step population statistics up to
``max_length``; later steps reuse the last). The two BNs inside the gates have no shift (the bias b
plays that role); every gamma starts at 0.1 as the paper recommends. phi is tanh, or ELU with
``activation="elu"`` (the LARNN paper's BN-ELU variant). Gate order in ``weight_ih`` (4H, I),
``weight_hh`` (4H, H) and ``bias_ih`` (4H) is i, f, g, o as in torch.nn.

Training statistics are computed over the sequences still running at step t (the scan passes
a mask), so variable-length batches normalise over real steps only.

Shape:
    x_t (B, I), state ``BNLSTMState(h, c, step)`` with h, c (B, H), step (B,) long -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import CellBase, check_choice, check_positive_int
from nnzoo.cells.registry import CELLS
from nnzoo.layers.bptt_bn import Norms, bn_lstm_scan
from nnzoo.layers.gemm import projection
from nnzoo.layers.norm import TimeBatchNorm
from nnzoo.layers.schedule import scans_allowed


class BNLSTMState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)
    step: Tensor  # (B,) long: the time index t of the next step


@CELLS.register("bn-lstm")
class BNLSTMCell(CellBase):
    """BN-LSTM. Options: ``max_length``, ``activation`` ("tanh" or "elu"), ``gamma``, ``bias``."""

    State = BNLSTMState
    uses_batch_statistics = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        max_length: int = 256,
        activation: str = "tanh",
        gamma: float = 0.1,
        bias: bool = True,
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=4, bias=bias)
        self.max_length = check_positive_int("max_length", max_length)
        self.activation = check_choice("activation", activation, ("tanh", "elu"))
        self.bn_x = TimeBatchNorm(4 * hidden_size, max_length, gamma=gamma, shift=False)
        self.bn_h = TimeBatchNorm(4 * hidden_size, max_length, gamma=gamma, shift=False)
        self.bn_c = TimeBatchNorm(hidden_size, max_length, gamma=gamma, shift=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for bn in (self.bn_x, self.bn_h, self.bn_c):
            bn.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> BNLSTMState:
        zeros = self.zeros(batch, self.hidden_size, device, dtype)
        step = torch.zeros(batch, dtype=torch.long, device=zeros.device)
        return BNLSTMState(zeros, zeros, step)

    def input_projection(self, x: Tensor) -> Tensor:
        return projection(x, self.weight_ih)  # W_x x, normalised per step in recur

    def recur(self, xp_t: Tensor, state: BNLSTMState, mask: Tensor | None = None):
        h_prev, c_prev, t = state
        gates = self.bn_x(xp_t, t, mask) + self.bn_h(F.linear(h_prev, self.weight_hh), t, mask)
        if self.bias_ih is not None:
            gates = gates + self.bias_ih  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        c_hat = self.bn_c(c, t, mask)
        phi = torch.tanh(c_hat) if self.activation == "tanh" else F.elu(c_hat)
        h = torch.sigmoid(o) * phi  # (B, H)
        return h, BNLSTMState(h, c, t + 1)

    def sequence_recur(self, xp: Tensor, state: BNLSTMState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 4H) with hand-written BPTT
        (``nnzoo.layers.bptt_bn``), any lengths, training or evaluation, with or without a
        graph. None (the loop) where the rows start at different steps, the three batch
        norms differ in mode, momentum or eps, or inside torch.func transforms."""
        if not scans_allowed():
            return None
        norms = (self.bn_x, self.bn_h, self.bn_c)
        first = int(state.step[0]) if state.step.numel() else 0
        if (
            xp.shape[1] == 0
            or not bool((state.step == first).all())
            or len({(bn.training, bn.momentum, bn.eps) for bn in norms}) > 1
        ):
            return None
        spec = Norms(
            running=tuple((bn.running_mean, bn.running_var) for bn in norms),
            training=self.bn_x.training, momentum=self.bn_x.momentum, eps=self.bn_x.eps,
            first=first, elu=self.activation == "elu",
        )  # fmt: skip
        weights = (self.bn_x.weight, self.bn_h.weight, self.bias_ih, self.bn_c.weight,
                   self.bn_c.bias)  # fmt: skip
        out, h, c = bn_lstm_scan(xp, state.h, state.c, self.weight_hh, weights, spec, lengths)
        steps = state.step + (xp.shape[1] if lengths is None else lengths)
        return out, BNLSTMState(h, c, steps)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, max_length={self.max_length}, activation={self.activation!r}"
        )
