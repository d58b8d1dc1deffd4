r"""Elman RNN cell (Elman 1990), numerically equal to ``torch.nn.RNNCell``.

.. math::
    h_t = g_1(W h_{t-1} + U x_t + b_h), \qquad g_1 \in \{\tanh, \mathrm{relu}\}

In torch.nn's names: U = ``weight_ih`` (H, I), W = ``weight_hh`` (H, H),
b_h = ``bias_ih + bias_hh`` (two vectors, kept as in torch.nn so weights copy one to one).
The output layer y_t = g_2(V h_t + b_y) belongs to the model's head, not to the cell.

Shape:
    x_t (B, I), state ``ElmanState(h)`` with h (B, H) -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from nnzoo.cells.base import FusedCell, check_choice
from nnzoo.cells.registry import CELLS


class ElmanState(NamedTuple):
    h: Tensor  # (B, H)


@CELLS.register("elman")
class ElmanCell(FusedCell):
    """Elman cell. Options: ``nonlinearity`` ("tanh" or "relu"), ``bias``."""

    State = ElmanState

    def __init__(
        self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", bias: bool = True
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=1, bias=bias)
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.reset_parameters()

    @property
    def torch_mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def init_state(self, batch, device=None, dtype=None) -> ElmanState:
        return ElmanState(self.zeros(batch, self.hidden_size, device, dtype))

    def recur(self, xp_t: Tensor, state: ElmanState, mask=None):
        # xp_t = U x_t + b_ih  (B, H)
        pre = xp_t + F.linear(state.h, self.weight_hh, self.bias_hh)  # (B, H)
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h, ElmanState(h)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"
