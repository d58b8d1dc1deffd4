r"""LARNN: an LSTM that attends over a window of its own past cell states (Chevalier 2018).

.. math::
    q_t &= \psi(W_q [x_t, h_{t-1}] + b_q) \\
    K_t &= \big[\nu(W_k c_j) + P_k\,\mathrm{pe}(p_j)\big]_j, \quad
    V_t = \big[\nu(W_v c_j + b_v) + P_v\,\mathrm{pe}(p_j)\big]_j
        \quad (\texttt{positional\_encoding="add"}) \\
    K_t &= \big[\nu(W_k c_j + P_k\,\mathrm{pe}(p_j) + b_k)\big]_j, \quad
    V_t = \big[\nu(W_v c_j + P_v\,\mathrm{pe}(p_j) + b_v)\big]_j
        \quad (\texttt{"concat"}: \nu \text{ sees } [c_j, \mathrm{pe}(p_j)]) \\
    a_t &= \mathrm{MultiHead}(q_t, K_t, V_t) \\
    z_t &= M [x_t, h_{t-1}] + b + U a_t, \quad
        U a_t \text{ in the g rows only } (\texttt{attention\_gates="g"}) \text{ or in all four} \\
    \Gamma_u, \Gamma_f, \Gamma_o &= \sigma(z_{i,f,o}), \quad
    g_t = \tanh(z_g) \ (\texttt{mode="residual"}) \text{ or } z_g \ (\texttt{"layer"}) \\
    \text{core "lstm":}\ c_t &= \Gamma_f \odot c_{t-1} + \Gamma_u \odot g_t, \quad
        h_t = \Gamma_o \odot \tanh(c_t) \\
    \text{core "bn-elu":}\ z_t &\leftarrow \mathrm{BN}_t(z_t - b) + b, \quad
        c_t = \mathrm{BN}_t(\Gamma_f \odot c_{t-1} + \Gamma_u \odot g_t), \quad
        h_t = \mathrm{BN}_t(\Gamma_o \odot \mathrm{elu}(c_t))

The window holds the last k cell states (most recent first, position p = 1): c_{t-1}, ...,
c_{t-k}, and with ``initial_window="c0"`` the initial c_0 too while it is among the last k
(step 1 attends to c_0; with ``"empty"`` it attends to nothing, a_1 = 0). psi is ELU or the
identity (``query_activation``); nu is the identity or, with ``kv_norm``: ``"batch"``
ELU(BN(.)), ``"layer"`` ELU(LayerNorm(.)), ``"elu-batch"`` BN(ELU(.)), the paper's
BNELU(arg) = BN(elu(arg)). b_k exists only where nu can see it (``"elu-batch"``): elsewhere a
key bias shifts every score of a query by the same q . b_k and softmax ignores it. BN_t in the
"bn-elu" core is per-step recurrent batch normalisation as in ``bn-lstm`` (population
statistics per time step up to ``max_length``, gamma starting at ``gamma``). Heads N divide
the width D.

pe is one of two tables (`nnzoo.layers.positional`): ``"add"`` (or ``True``) adds nnzoo's own
table after nu; ``"concat"`` concatenates the published table (2 (ceil(log2 K) + 2) features)
to each cell state before the key and value maps, as the paper writes it (keys = values =
positionalEncoding(window)), so that nu sees both.

Presets. ``larnn`` defaults to the plain LSTM core and no key/value activation. ``larnn-paper``
(`LARNNPaperCell`) is the paper's best trial of the cell: window 38, 27 heads of width 3
(D = 81, the paper's H), the BN-ELU core,
BN(ELU) on keys and values, ELU on the query, no positional encoding (the best trial had it
off), c_0 in the first window, attention into g (residual mode, as the paper writes it).

Differences from the paper and from the published code, and why:

* ``attention_gates``: the paper adds W_ac a_t to the g row only; the published code adds it
  to all four gates (``"all"``). Both are offered; ``"g"`` is the default and the preset's.
* BN statistics of keys and values: the published code re-normalises the whole window at every
  step, with statistics over batch and window together. Here, where the keys and values do not
  depend on the position (no ``"concat"``), an entry is normalised once, with the statistics of
  the batch at the step it enters the window: that keeps the cache below exact and the cost
  linear (the published pooled statistics change as the window slides, so no cache could
  reproduce them in training; in evaluation both are the same per-entry affine map). With
  ``"concat"`` every key depends on its position, nu runs over the window at every step (O(K D)
  per step, the linear parts stay cached), and its BN takes the published statistics: over the
  running sequences and the valid window entries of that step.
* The published code computes BN on the gate pre-activations and then discards it (it returns
  the un-normalised sum); the "bn-elu" core applies it, as the paper writes. Its BNs are per
  time step as in ``bn-lstm`` (the published code shares one set of statistics over all steps),
  and their gamma starts at 0.1 (Cooijmans et al.), not at the published code's random
  uniform(-1/sqrt(H), 1/sqrt(H)), which gives some units a negative scale.
* Not taken from the published code: its linear map, ELU and BN on the attended vector before
  W_ac (the map is absorbed in W_ac here), its dropout 0.1 on the attention weights and on the
  positional table, and its sharing of one BN between keys and values (``[bn] * 2``), which
  appears to be unintended; nnzoo has one BN for keys and one for values.

The LSTM core is stored as ``lstm`` stores it (``weight_ih`` (4H, I), ``weight_hh`` (4H, H),
``bias_ih`` (4H), gates i, f, g, o); the attention enters through ``weight_ag``, (H, D) for
the g rows or (4H, D) for all gates. In ``layer`` mode W_a = [W_xc, W_hc, W_ac] (no tanh, as
the paper writes it). With ``weight_ag`` zeroed the cell with the "lstm" core in residual mode
is exactly its LSTM core.

Cost. Each cell state is projected into its key and value ONCE, when it enters the window;
the state carries that projected window, so a step costs O(k D) for the attention instead of
O(k H D) for re-projecting the window. A positional term and, with ``"concat"``, nu are
applied to the cached projections at each step (O(k D)).

Fast path. ``recur`` is the reference, step by step. Over a whole batch of full-length
sequences ``unroll`` takes ``sequence_recur``, which computes the same numbers by
``nnzoo.layers.larnn_scan``: each key and value written once into a preallocated buffer of
T + K slots (step t attends to a view of it; no window is concatenated, and the window of raw
cell states, which no step reads, is not carried but gathered once for the final state), the
batch innermost, and a hand-written backward that saves O(T (H + D + K N)) numbers per
sequence instead of the graph's O(T K D). The tests check it against the loop of ``recur``.
It covers both cores, every ``kv_norm``, every encoding, either first window (c_0 enters it
before the scan) and attention into g. Attention into all gates, and the "concat" encoding with
LayerNorm on the keys and values, run the loop of ``recur``; so does "concat" with batch
statistics where the windows hold different counts (a batch of mixed lengths, or a state left
by one), whose statistics need a mask per entry. With "concat" and batch statistics nu runs
over each step's window in the scan (one batch norm over its entries and the batch, recomputed
in the backward from the step's statistics): at B = 32, window 60, H = 68, 3 layers, 2.3 times
faster than the loop and 0.4 instead of 2.5 GB (the loop's graph keeps O(T K D) per layer; at
B = 256 it outgrows 24 GB). The batch norms (the "bn-elu" core's three, and the key/value
BN of ``"batch"`` and ``"elu-batch"``) are written out in the scan, one fused batch-norm call
and its backward each, where every sequence runs the whole chunk from the same step and, in
training, there is more than one sequence; otherwise (variable lengths, rows at different
steps, a single training row) the scan runs the cell's own modules as a small graph per step,
differentiated in the backward. Measured on one CPU thread at B = 256 and the paper's size
(3 residual layers, T = 128): ``larnn-paper`` takes about 1.4 times the time of ``larnn``
(forward and backward), and the written-out batch norms make it about 1.3 times faster than
the graphs per step.

Shape:
    x_t (B, I), state ``LARNNState(h, c, window, keys, values, count, step)`` with h, c (B, H),
    window (B, K, H), keys/values (B, K, D), count (B,) long, step (B,) long -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.cells.base import CellBase, check_choice, check_number, check_positive_int
from nnzoo.cells.registry import CELLS
from nnzoo.errors import ConfigError
from nnzoo.layers.attention import window_attention
from nnzoo.layers.bptt_bn import Norms
from nnzoo.layers.larnn_scan import LARNNSpec, larnn_scan, time_major
from nnzoo.layers.norm import TimeBatchNorm
from nnzoo.layers.positional import (
    num_positional_features,
    num_published_features,
    published_positional_encoding,
    window_positional_encoding,
)

POSITIONAL = {False: None, None: None, True: "add", "add": "add", "concat": "concat"}
# positional_encoding -> (its feature count, its (K, P) table), as functions of the window K
TABLES = {
    "add": (num_positional_features, window_positional_encoding),
    "concat": (num_published_features, published_positional_encoding),
}


class LARNNState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)
    window: Tensor  # (B, K, H): the cell states in the window, most recent first
    keys: Tensor  # (B, K, D): their key projections (cached)
    values: Tensor  # (B, K, D): their value projections (cached)
    count: Tensor  # (B,) long: number of valid window entries
    step: Tensor  # (B,) long: the time index t of the next step


@CELLS.register("larnn")
class LARNNCell(CellBase):
    """LARNN cell.

    Args:
        input_size: I.
        hidden_size: H.
        window: k, the number of past cell states attended to.
        num_heads: N, must divide ``attention_size``.
        attention_size: D, width of queries, keys and values (default H).
        mode: "residual" or "layer".
        positional_encoding: False, "add" (or True: nnzoo's table added after nu) or "concat"
            (the published table concatenated to the cell states before the key and value
            maps).
        kv_norm: None (or "none"), "batch" (ELU(BN)), "layer" (ELU(LayerNorm)) or
            "elu-batch" (BN(ELU), the paper's) on the keys and values.
        query_activation: None or "elu".
        core: "lstm" (tanh, no normalisation) or "bn-elu" (the paper's: per-step BN on the gate
            pre-activations, on c_t and on h_t, ELU instead of tanh on c_t).
        initial_window: "empty" (step 1 attends to nothing) or "c0" (the initial cell state is
            the first window entry, as in the paper and the published code).
        attention_gates: "g" (the paper: W_ac a_t in the g rows) or "all" (the published code:
            in all four gates).
        max_length: time steps with their own BN statistics in the "bn-elu" core.
        gamma: initial BN scale of the "bn-elu" core.
        bias: learn biases.
    """

    State = LARNNState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        window: int = 16,
        num_heads: int = 4,
        attention_size: int | None = None,
        mode: str = "residual",
        positional_encoding: bool | str = False,
        kv_norm: str | None = None,
        query_activation: str | None = None,
        core: str = "lstm",
        initial_window: str = "empty",
        attention_gates: str = "g",
        max_length: int = 256,
        gamma: float = 0.1,
        bias: bool = True,
    ) -> None:
        super().__init__(input_size, hidden_size, num_chunks=4, bias=bias)
        self.window = check_positive_int("window", window)
        self.num_heads = check_positive_int("num_heads", num_heads)
        D = hidden_size if attention_size is None else attention_size
        self.attention_size = check_positive_int("attention_size", D)
        if D % num_heads:
            divisors = ", ".join(str(d) for d in range(1, D + 1) if D % d == 0)
            raise ConfigError(
                f"num_heads={num_heads}: expected a divisor of the attention width "
                f"attention_size={D} ({divisors}); set the cell option num_heads (e.g. "
                f"--cell-option num_heads={max(d for d in range(1, min(D, 8) + 1) if D % d == 0)})"
            )
        self.mode = check_choice("mode", mode, ("residual", "layer"))
        if not isinstance(positional_encoding, bool | str | None) or (
            isinstance(positional_encoding, str) and positional_encoding not in POSITIONAL
        ):
            raise ConfigError(
                f"positional_encoding={positional_encoding!r}: expected false, true (the same "
                "as 'add'), 'add' or 'concat'"
            )
        self.positional_encoding = POSITIONAL[positional_encoding]
        kv_norm = None if kv_norm == "none" else kv_norm  # "none": for configs and searches
        self.kv_norm = check_choice("kv_norm", kv_norm, (None, "batch", "layer", "elu-batch"))
        self.query_activation = check_choice("query_activation", query_activation, (None, "elu"))
        self.core = check_choice("core", core, ("lstm", "bn-elu"))
        self.initial_window = check_choice("initial_window", initial_window, ("empty", "c0"))
        self.attention_gates = check_choice("attention_gates", attention_gates, ("g", "all"))
        self.max_length = check_positive_int("max_length", max_length)
        self.gamma = check_number("gamma", gamma)
        self.uses_batch_statistics = kv_norm in ("batch", "elu-batch") or core == "bn-elu"

        H = hidden_size
        self.weight_qi = nn.Parameter(torch.empty(D, input_size))  # W_q, x part
        self.weight_qh = nn.Parameter(torch.empty(D, H))  # W_q, h part
        self.bias_q = nn.Parameter(torch.empty(D)) if bias else None
        self.weight_kv = nn.Parameter(torch.empty(2 * D, H))  # [W_k; W_v]
        # b_k only where nu sees it: otherwise softmax ignores the q . b_k it adds to a row
        self.bias_k = nn.Parameter(torch.empty(D)) if bias and kv_norm == "elu-batch" else None
        self.bias_v = nn.Parameter(torch.empty(D)) if bias else None
        self.weight_ag = nn.Parameter(torch.empty(H if attention_gates == "g" else 4 * H, D))
        if self.positional_encoding is not None:
            P = TABLES[self.positional_encoding][0](self.window)
            self.weight_kvp = nn.Parameter(torch.empty(2 * D, P))  # [P_k; P_v]
        self._pe: dict[tuple, Tensor] = {}  # (K, P) tables, made exactly per device and dtype
        if kv_norm in ("batch", "elu-batch"):
            self.norm_k = TimeBatchNorm(D, 1, gamma=1.0)
            self.norm_v = TimeBatchNorm(D, 1, gamma=1.0)
        elif kv_norm == "layer":
            self.norm_k, self.norm_v = nn.LayerNorm(D), nn.LayerNorm(D)
        if core == "bn-elu":
            # the bias b follows the gate BN, which has no shift of its own (as in bn-lstm)
            self.bn_z = TimeBatchNorm(4 * H, max_length, gamma=gamma, shift=False)
            self.bn_c = TimeBatchNorm(H, max_length, gamma=gamma)
            self.bn_h = TimeBatchNorm(H, max_length, gamma=gamma)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        norms = ("norm_k", "norm_v", "bn_z", "bn_c", "bn_h")
        for module in (getattr(self, n) for n in norms if hasattr(self, n)):
            module.reset_parameters()

    @property
    def has_fast_path(self) -> bool:
        """Whether ``nnzoo.layers.larnn_scan`` computes this cell's options."""
        if self.positional_encoding == "concat" and self.kv_norm == "layer":
            return False
        return self.attention_gates == "g"

    def init_state(self, batch, device=None, dtype=None) -> LARNNState:
        H, K, D = self.hidden_size, self.window, self.attention_size
        zeros = self.zeros(batch, H, device, dtype)
        count = torch.zeros(batch, dtype=torch.long, device=zeros.device)
        return LARNNState(
            h=zeros,
            c=zeros,
            window=zeros.new_zeros(batch, K, H),
            keys=zeros.new_zeros(batch, K, D),
            values=zeros.new_zeros(batch, K, D),
            count=count,
            step=count,
        )

    def _input_bias(self) -> Tensor | None:
        """[b (4H), b_q (D)] of the input projection; the "bn-elu" core adds b after its BN."""
        if self.bias_ih is None:
            return None
        b = self.bias_ih if self.core == "lstm" else torch.zeros_like(self.bias_ih)
        return torch.cat([b, self.bias_q])

    def input_projection(self, x: Tensor) -> Tensor:
        # [M x + b (4H), W_qx x + b_q (D)] in one matmul: (..., 4H + D)
        weight = torch.cat([self.weight_ih, self.weight_qi])
        bias = self._input_bias()
        if x.dim() != 3:
            return F.linear(x, weight, bias)
        # a sequence (B, T, I): the same numbers, stored (T, 4H + D, B) as the fast path reads
        # them (one matmul per step, in one call); handed over as a (B, T, 4H + D) view
        T = x.shape[1]
        weight = weight.expand(T, *weight.shape)
        x = time_major(x)  # (T, I, B)
        if bias is None:
            return torch.bmm(weight, x).permute(2, 0, 1)
        bias = bias[:, None].expand(T, -1, x.shape[2])
        return torch.baddbmm(bias, weight, x).permute(2, 0, 1)

    def recur(self, xp_t: Tensor, state: LARNNState, mask: Tensor | None = None):
        H, D = self.hidden_size, self.attention_size
        if self.initial_window == "c0":
            state = self._with_c0(state, mask)
        h_prev, c_prev, _window, keys, values, count, t = state
        x_gates, x_query = xp_t.split([4 * H, D], 1)
        q = x_query + F.linear(h_prev, self.weight_qh)  # (B, D)
        if self.query_activation == "elu":
            q = F.elu(q)
        keys, values = self._window_kv(keys, values, count, mask)
        a = window_attention(q, keys, values, count, self.num_heads)  # (B, D)

        z = x_gates + F.linear(h_prev, self.weight_hh)  # (B, 4H)
        u = F.linear(a, self.weight_ag)  # (B, H) for the g rows, or (B, 4H)
        if self.attention_gates == "all":
            z = z + u
        elif self.core == "bn-elu":
            z = z + F.pad(u, (2 * H, H))  # into the g rows, before the gate BN
        if self.core == "bn-elu":
            h, c = self._bn_elu_core(z, c_prev, t, mask)
        else:
            i, f, g, o = z.chunk(4, 1)
            if self.attention_gates == "g":
                g = g + u
            if self.mode == "residual":
                g = torch.tanh(g)
            c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * g  # (B, H)
            h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
        return h, self._enter_window(h, c, state, mask)._replace(step=t + 1)

    def _bn_elu_core(self, z: Tensor, c_prev: Tensor, t: Tensor, mask: Tensor | None):
        """The "bn-elu" core from the gate pre-activations z (B, 4H), attention in, at steps
        t (B,): BN_t(z) + b, then c_t = BN_t(f c_{t-1} + i g), h_t = BN_t(o elu(c_t))."""
        z = self.bn_z(z, t, mask)
        if self.bias_ih is not None:
            z = z + self.bias_ih
        i, f, g, o = z.chunk(4, 1)
        if self.mode == "residual":
            g = torch.tanh(g)
        c = self.bn_c(torch.sigmoid(f) * c_prev + torch.sigmoid(i) * g, t, mask)  # (B, H)
        h = self.bn_h(torch.sigmoid(o) * F.elu(c), t, mask)  # (B, H)
        return h, c

    def _with_c0(self, state: LARNNState, mask: Tensor | None) -> LARNNState:
        """Put c_{t-1} into the window of the rows at their first step (``initial_window``)."""
        first = (state.step == 0) & (state.count == 0)  # (B,)
        if not bool(first.any()):
            return state
        entering = first[:, None] if mask is None else first[:, None] & mask
        pushed = self._enter_window(state.h, state.c, state, entering)
        return LARNNState(*(torch.where(first.view(-1, *(1,) * (new.dim() - 1)), new, old)
                            for new, old in zip(pushed, state)))  # fmt: skip

    def _table(self, like: Tensor) -> Tensor:
        key = (like.device, like.dtype)
        if key not in self._pe:
            make = TABLES[self.positional_encoding][1]
            self._pe[key] = make(self.window, like.device, like.dtype)
        return self._pe[key]

    def _window_kv(self, keys: Tensor, values: Tensor, count: Tensor, mask: Tensor | None):
        """The keys and values a step attends to, from the cached ones (B, K, D)."""
        if self.positional_encoding is None:
            return keys, values
        pos_k, pos_v = F.linear(self._table(keys), self.weight_kvp).chunk(2, 1)  # (K, D)
        keys, values = keys + pos_k, values + pos_v
        if self.positional_encoding == "add" or self.kv_norm is None:
            return keys, values
        # "concat": nu over the window, BN statistics over running rows and valid entries
        B, K, D = keys.shape
        valid = torch.arange(K, device=keys.device)[None] < count[:, None]  # (B, K)
        if mask is not None:
            valid = valid & mask
        k, v = self._normalise(keys.reshape(B * K, D), values.reshape(B * K, D),
                               valid.reshape(B * K, 1))  # fmt: skip
        return k.view(B, K, D), v.view(B, K, D)

    def _enter_window(self, h: Tensor, c: Tensor, state: LARNNState, mask) -> LARNNState:
        """Push c_t at position 1, projecting it into its key and value once."""
        k_new, v_new = F.linear(c, self.weight_kv).chunk(2, 1)  # (B, D) each
        if self.bias_k is not None:
            k_new = k_new + self.bias_k
        if self.bias_v is not None:
            v_new = v_new + self.bias_v
        if self.kv_norm is not None and self.positional_encoding != "concat":
            k_new, v_new = self._normalise(k_new, v_new, mask)

        def push(old: Tensor, new: Tensor) -> Tensor:
            return torch.cat([new[:, None], old[:, :-1]], 1)  # (B, K, *)

        return LARNNState(
            h=h,
            c=c,
            window=push(state.window, c),
            keys=push(state.keys, k_new),
            values=push(state.values, v_new),
            count=(state.count + 1).clamp(max=self.window),
            step=state.step,
        )

    def _normalise(self, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """nu on keys and values (M, D): ELU(BN), BN(ELU), or ELU(LayerNorm)."""
        if self.kv_norm == "batch":
            return F.elu(self.norm_k(k, mask=mask)), F.elu(self.norm_v(v, mask=mask))
        if self.kv_norm == "elu-batch":
            return self.norm_k(F.elu(k), mask=mask), self.norm_v(F.elu(v), mask=mask)
        return F.elu(self.norm_k(k)), F.elu(self.norm_v(v))

    def _normalise_kv(self, kv: Tensor, mask: Tensor | None) -> Tensor:
        """nu on [k, v] (B, 2D), as the fast path holds them."""
        return torch.cat(self._normalise(*kv.chunk(2, 1), mask), 1)

    def sequence_recur(self, xp: Tensor, state: LARNNState, lengths: Tensor | None = None):
        """The fast path (``scan_sequence``), for full and variable lengths; None (the loop of
        ``recur``) for the options it does not cover (`has_fast_path`) and the cases
        ``scan_sequence`` declines."""
        if not self.has_fast_path:
            return None
        return self.scan_sequence(xp, state, lengths)

    def scan_sequence(self, xp: Tensor, state: LARNNState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 4H + D) by ``nnzoo.layers.larnn_scan``,
        for the options of `has_fast_path`, variable lengths (as the scan's masked loop),
        training and evaluation, with or without a graph. Returns (outputs (B, T, H), final
        state), or None for the options it does not cover and where "concat" with batch
        statistics meets windows of different counts or sequences of different lengths (the
        loop masks those statistics per entry)."""
        T = xp.shape[1]
        if T == 0 or not self.has_fast_path:
            return None
        if self.initial_window == "c0":  # c_0 enters the windows at their first step, here
            state = self._with_c0(state, None if lengths is None else (lengths > 0)[:, None])
        H, D, K = self.hidden_size, self.attention_size, self.window
        h, c, window, keys, values, count, step = state
        # batch norms written out in the scan where every sequence runs all T steps and, in
        # training, there is more than one (the batch statistics of one row are the loop's
        # special case); otherwise each step runs their modules as a small graph
        by_hand = (not self.training or xp.shape[0] > 1) and (
            lengths is None or not bool((lengths != T).any())
        )
        core = bn_core = kv_bn = None
        if self.core == "bn-elu":

            def core(u: Tensor, c_prev: Tensor, t: int, mask: Tensor | None):
                return self._bn_elu_core(u, c_prev, step + t, mask)

            if by_hand and not bool((step != step[0]).any()):  # one statistics row per step
                bns = (self.bn_z, self.bn_c, self.bn_h)
                running = tuple((bn.running_mean, bn.running_var) for bn in bns)
                bn_core = self._norms(running, int(step[0]))
        per_step = self.positional_encoding == "concat" and self.kv_norm is not None
        if per_step and not (by_hand and not bool((count != count[0]).any())):
            return None  # nu over windows of different counts: the loop masks its statistics
        if by_hand and self.kv_norm in ("batch", "elu-batch"):
            k, v = self.norm_k, self.norm_v
            running = ((torch.cat([k.running_mean[0], v.running_mean[0]]),
                        torch.cat([k.running_var[0], v.running_var[0]])),)  # fmt: skip
            kv_bn = self._norms(running, 0)
        spec = LARNNSpec(
            hidden_size=H, attention_size=D, num_heads=self.num_heads, window=K,
            tanh_g=self.mode == "residual", query_elu=self.query_activation == "elu",
            normalise=None if self.kv_norm is None else self._normalise_kv, core=core,
            bn_core=bn_core, core_bias=self.bias_ih is not None, kv_bn=kv_bn,
            kv_elu_first=self.kv_norm == "elu-batch", kv_per_step=per_step,
        )  # fmt: skip
        weight_hq = torch.cat([self.weight_hh, self.weight_qh])  # (4H + D, H)
        bias_kv = None
        if self.bias_v is not None:  # [b_k; b_v] (2D,), b_k = 0 where there is none
            bias_k = torch.zeros_like(self.bias_v) if self.bias_k is None else self.bias_k
            bias_kv = torch.cat([bias_k, self.bias_v])
        pos_kv = None
        if self.positional_encoding:
            pos_kv = F.linear(self._table(xp), self.weight_kvp).flip(0)  # (K, 2D), oldest first
        norm_params: tuple[Tensor, ...] = ()
        if kv_bn is not None:  # [keys; values] in one BN: gamma, beta (2D,)
            norm_params = (torch.cat([self.norm_k.weight, self.norm_v.weight]),
                           torch.cat([self.norm_k.bias, self.norm_v.bias]))  # fmt: skip
        elif self.kv_norm is not None:
            norm_params = (*self.norm_k.parameters(), *self.norm_v.parameters())
        if self.core == "bn-elu":  # the gate bias follows the gate BN
            norm_params += (*self.bn_z.parameters(), *self.bn_c.parameters(),
                            *self.bn_h.parameters())  # fmt: skip
            if self.bias_ih is not None:
                norm_params += (self.bias_ih,)
        out, h, c, window, keys, values = larnn_scan(
            spec, xp, h, c, window, keys, values, count, lengths,
            weight_hq, self.weight_ag, self.weight_kv, bias_kv, pos_kv, norm_params,
        )  # fmt: skip
        if kv_bn is not None and self.training:  # the statistics the scan moved, back
            (mean, var), D_ = kv_bn.running[0], self.attention_size
            for bn, part in ((self.norm_k, slice(None, D_)), (self.norm_v, slice(D_, None))):
                bn.running_mean.data[0] = mean[part]
                bn.running_var.data[0] = var[part]
        steps = T if lengths is None else lengths
        count = (count + steps).clamp(max=K)
        return out, LARNNState(h, c, window, keys, values, count, step + steps)

    def _norms(self, running: tuple[tuple[Tensor, Tensor], ...], first: int) -> Norms:
        """What the scan needs of batch norms it writes out: their running statistics, and the
        time index of the chunk's first step (every `TimeBatchNorm` here has the default
        momentum and eps)."""
        bn = self.bn_z if self.core == "bn-elu" else self.norm_k
        return Norms(running=running, training=self.training, momentum=bn.momentum,
                     eps=bn.eps, first=first, elu=True)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, window={self.window}, num_heads={self.num_heads}, "
            f"attention_size={self.attention_size}, mode={self.mode!r}, "
            f"positional_encoding={self.positional_encoding!r}, kv_norm={self.kv_norm!r}, "
            f"query_activation={self.query_activation!r}, core={self.core!r}, "
            f"initial_window={self.initial_window!r}, attention_gates={self.attention_gates!r}"
        )


@CELLS.register("larnn-paper")
class LARNNPaperCell(LARNNCell):
    """``larnn`` with the paper's best trial as its defaults (the module docstring lists them
    and every difference from the paper and from the published code). The attention width is
    the paper's D = 81 (27 heads of 3) whatever H is; the paper's H is 81 too."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        window: int = 38,
        num_heads: int = 27,
        attention_size: int | None = 81,
        mode: str = "residual",
        positional_encoding: bool | str = False,
        kv_norm: str | None = "elu-batch",
        query_activation: str | None = "elu",
        core: str = "bn-elu",
        initial_window: str = "c0",
        attention_gates: str = "g",
        max_length: int = 256,
        gamma: float = 0.1,
        bias: bool = True,
    ) -> None:
        super().__init__(
            input_size, hidden_size, window=window, num_heads=num_heads,
            attention_size=attention_size, mode=mode, positional_encoding=positional_encoding,
            kv_norm=kv_norm, query_activation=query_activation, core=core,
            initial_window=initial_window, attention_gates=attention_gates,
            max_length=max_length, gamma=gamma, bias=bias,
        )  # fmt: skip
