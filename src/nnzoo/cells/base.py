"""What every cell shares: the fused weight layout, initialisation and input checks.

Shape legend used in every ``# (...)`` comment of nnzoo: B batch, T time, I input features,
H hidden units, K attention window, N attention heads, D attention width.

The cell contract (see ``nnzoo.layers.scan.unroll``, the only loop over time):

* ``init_state(batch, device, dtype)`` returns the zero state, a NamedTuple of tensors whose
  first dimension is the batch.
* ``step(x_t, state) -> (h_t, state)`` advances one time step.
* ``step`` is split in two so that the scan can hoist the input projection out of the loop:
  ``input_projection(x)`` works on (..., I) and ``recur(xp_t, state)`` does the rest.
  ``step(x_t, state) == recur(input_projection(x_t), state)``; a test proves it for every cell.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.errors import ConfigError


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r}: expected an integer >= 1")
    return value


def check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r}: expected a finite number")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r}: expected true or false")
    return value


def check_choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name}={value!r}: expected one of {expected}")
    return value


def check_features(name: str, x: Tensor, rank: int, layout: str, size: int, what: str) -> None:
    """Raise ConfigError unless ``x`` has ``rank`` dimensions and ``size`` features last."""
    if not isinstance(x, Tensor):
        raise ConfigError(f"{name}: expected a tensor, got {type(x).__name__}")
    if x.dim() != rank:
        raise ConfigError(
            f"{name}: expected a {rank}D tensor {layout}, got {x.dim()}D with shape "
            f"{tuple(x.shape)}"
        )
    if x.shape[-1] != size:
        raise ConfigError(
            f"{name}: expected {what}={size} features in the last dimension, got {x.shape[-1]} "
            f"(shape {tuple(x.shape)})"
        )
    if not x.is_floating_point():
        raise ConfigError(f"{name}: expected a floating-point tensor, got {x.dtype}")


class CellBase(nn.Module):
    """Base of every recurrent cell.

    Owns the gate-major weight layout shared with torch.nn: ``weight_ih`` (chunks*H, I),
    ``weight_hh`` (chunks*H, H), ``bias_ih`` (chunks*H) and, for the cells that must match
    torch.nn exactly, a second bias ``bias_hh`` (chunks*H). Every parameter starts from
    U(-1/sqrt(H), 1/sqrt(H)) as in torch.nn; a cell adjusts what its paper says otherwise.

    Class attributes a cell may set:
        State: the NamedTuple type of its state.
        uses_batch_statistics: True if ``recur`` takes a ``mask`` (B, 1) of the sequences still
            running, for normalisations that compute batch statistics.
    """

    State: type[NamedTuple]
    uses_batch_statistics = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_chunks: int,
        bias: bool = True,
        hidden_bias: bool = False,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_chunks = num_chunks
        self.bias = bool(bias)
        gates = num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(gates)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(gates)) if bias and hidden_bias else None

    # -- initialisation -------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)

    # -- the contract ---------------------------------------------------------------------------
    def init_state(
        self, batch: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> NamedTuple:
        raise NotImplementedError

    def input_projection(self, x: Tensor) -> Tensor:
        """(..., I) -> (..., P): the part of the step that depends on x_t alone."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recur(self, xp_t: Tensor, state: NamedTuple, mask: Tensor | None = None):
        raise NotImplementedError

    def sequence_recur(self, xp: Tensor, state: NamedTuple, lengths: Tensor | None = None):
        """Optional fast path: ``recur`` over a whole (B, T, P) sequence.

        ``lengths`` (B,) is None when every sequence has length T; otherwise the fast path must
        give what the scan's masked loop gives: outputs zero past each length, and each
        sequence's state after its own last step. Returns (outputs (B, T, H), final state), or
        None where the cell has no fast path for this input (the scan then loops over
        ``recur``). A cell that has one proves it equal to the loop in its tests.
        """
        return None

    def step(self, x_t: Tensor, state: NamedTuple | None = None):
        """One time step: (B, I) and the state at t-1 -> h_t (B, H) and the state at t."""
        check_features("x_t", x_t, 2, "(B, I)", self.input_size, "input_size")
        if state is None:
            state = self.init_state(x_t.shape[0], x_t.device, x_t.dtype)
        return self.recur(self.input_projection(x_t), state)

    def forward(self, x_t: Tensor, state: NamedTuple | None = None):
        return self.step(x_t, state)

    # -- helpers --------------------------------------------------------------------------------
    def check_input(self, x: Tensor, name: str = "x") -> None:
        check_features(name, x, 3, "(B, T, I)", self.input_size, "input_size")

    def zeros(self, batch: int, size: int, device=None, dtype=None) -> Tensor:
        device = self.weight_ih.device if device is None else device
        dtype = self.weight_ih.dtype if dtype is None else dtype
        return torch.zeros(batch, size, device=device, dtype=dtype)

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class FusedCell(CellBase):
    """A cell torch.nn also has: it can run on torch's fused kernel (``torch_mode``)."""

    torch_mode: str = ""

    def __init__(self, input_size: int, hidden_size: int, num_chunks: int, bias: bool) -> None:
        super().__init__(input_size, hidden_size, num_chunks, bias=bias, hidden_bias=True)

    def fused_weights(self) -> list[Tensor]:
        """The flat weight list torch's kernels take, in torch.nn's order."""
        if self.bias:
            return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        return [self.weight_ih, self.weight_hh]
