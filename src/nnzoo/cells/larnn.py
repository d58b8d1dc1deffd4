r"""LARNN: an LSTM that attends over a window of its own past cell states (Chevalier 2018).

.. math::
    q_t &= \psi(W_q [x_t, h_{t-1}] + b_q) \\
    K_t &= \big[\nu(W_k c_j) + P_k\,\mathrm{pe}(p_j)\big]_{j = t-1, \dots, t-k}, \quad
    V_t = \big[\nu(W_v c_j + b_v) + P_v\,\mathrm{pe}(p_j)\big]_{j = t-1, \dots, t-k} \\
    a_t &= \mathrm{MultiHead}(q_t, K_t, V_t) \\
    \Gamma_u, \Gamma_f, \Gamma_o &= \sigma(M_{u,f,o} [x_t, h_{t-1}] + b_{u,f,o}) \\
    g_t &= \tanh(W_{xc} x_t + W_{hc} h_{t-1} + W_{ac} a_t + b_c)
        \quad (\texttt{mode="residual"}) \\
    g_t &= W_a [x_t, h_{t-1}, a_t] + b_c \quad (\texttt{mode="layer"}) \\
    c_t &= \Gamma_f \odot c_{t-1} + \Gamma_u \odot g_t \\
    h_t &= \Gamma_o \odot \tanh(c_t)

The window holds the last k cell states c_{t-1}, ..., c_{t-k} (most recent first, position
p = 1). psi is ELU or the identity (``query_activation``); nu is the identity, or BN-ELU /
LayerNorm-ELU on the key and value projections (``kv_norm="batch"`` / ``"layer"``); pe is the
paper's positional encoding (``positional_encoding=True``). Heads N divide the width D.

The LSTM core is stored as ``lstm`` stores it (``weight_ih`` (4H, I), ``weight_hh`` (4H, H),
``bias_ih`` (4H), gates i, f, g, o); the attention enters the g row block through
``weight_ag`` (H, D). In ``layer`` mode W_a = [W_xc, W_hc, W_ac] (no tanh, as the paper writes
it). With ``weight_ag`` zeroed the cell in residual mode is exactly its LSTM core.

Cost. Each cell state is projected into its key and value ONCE, when it enters the window;
the state carries that projected window, so a step costs O(k D) for the attention instead of
O(k H D) for re-projecting the window. The positional term P pe(p) does not depend on the
batch and is added to the cached projections at each step (a (K, D) table). With
``kv_norm="batch"`` the batch statistics of an entry are the ones of the step at which it
entered the window (not re-normalised over the whole window at each step as the published
code did): that keeps the cache exact in evaluation mode and the cost linear, and it is the
choice made here on purpose. LayerNorm needs no batch statistics, so it is exact either way.

Fast path. ``recur`` is the reference, step by step. Over a whole batch of full-length
sequences ``unroll`` takes ``sequence_recur``, which computes the same numbers by
``nnzoo.layers.larnn_scan``: each key and value written once into a preallocated buffer of
T + K slots (step t attends to a view of it; no window is concatenated, and the window of raw
cell states, which no step reads, is not carried but gathered once for the final state), the
batch innermost, and a hand-written backward that saves O(T (H + D + K N)) numbers per
sequence instead of the graph's O(T K D). The tests check it against the loop of ``recur``.

Shape:
    x_t (B, I), state ``LARNNState(h, c, window, keys, values, count)`` with h, c (B, H),
    window (B, K, H), keys/values (B, K, D), count (B,) long -> h_t (B, H).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.cells.base import CellBase, check_choice, check_positive_int
from nnzoo.cells.registry import CELLS
from nnzoo.errors import ConfigError
from nnzoo.layers.attention import window_attention
from nnzoo.layers.larnn_scan import LARNNSpec, larnn_scan, time_major
from nnzoo.layers.norm import TimeBatchNorm
from nnzoo.layers.positional import num_positional_features, window_positional_encoding


class LARNNState(NamedTuple):
    h: Tensor  # (B, H)
    c: Tensor  # (B, H)
    window: Tensor  # (B, K, H): c_{t-1}, ..., c_{t-K}, most recent first
    keys: Tensor  # (B, K, D): their key projections (cached)
    values: Tensor  # (B, K, D): their value projections (cached)
    count: Tensor  # (B,) long: number of valid window entries


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
        positional_encoding: add the paper's positional encoding to keys and values.
        kv_norm: None, "batch" (BN-ELU) or "layer" (LayerNorm-ELU) on key/value projections.
        query_activation: None or "elu".
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
        positional_encoding: bool = False,
        kv_norm: str | None = None,
        query_activation: str | None = None,
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
        self.positional_encoding = bool(positional_encoding)
        self.kv_norm = check_choice("kv_norm", kv_norm, (None, "batch", "layer"))
        self.query_activation = check_choice("query_activation", query_activation, (None, "elu"))
        self.uses_batch_statistics = kv_norm == "batch"

        H = hidden_size
        self.weight_qi = nn.Parameter(torch.empty(D, input_size))  # W_q, x part
        self.weight_qh = nn.Parameter(torch.empty(D, H))  # W_q, h part
        self.bias_q = nn.Parameter(torch.empty(D)) if bias else None
        self.weight_kv = nn.Parameter(torch.empty(2 * D, H))  # [W_k; W_v]
        # b_k would shift every score of a query by the same q . b_k: softmax ignores it.
        self.bias_v = nn.Parameter(torch.empty(D)) if bias else None
        self.weight_ag = nn.Parameter(torch.empty(H, D))  # W_ac
        if self.positional_encoding:
            P = num_positional_features(self.window)
            self.weight_kvp = nn.Parameter(torch.empty(2 * D, P))  # [P_k; P_v]
        self._pe: dict[tuple, Tensor] = {}  # (K, P) tables, made exactly per device and dtype
        if kv_norm == "batch":
            self.norm_k = TimeBatchNorm(D, 1, gamma=1.0)
            self.norm_v = TimeBatchNorm(D, 1, gamma=1.0)
        elif kv_norm == "layer":
            self.norm_k, self.norm_v = nn.LayerNorm(D), nn.LayerNorm(D)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.kv_norm is not None:
            self.norm_k.reset_parameters()
            self.norm_v.reset_parameters()

    def init_state(self, batch, device=None, dtype=None) -> LARNNState:
        H, K, D = self.hidden_size, self.window, self.attention_size
        zeros = self.zeros(batch, H, device, dtype)
        return LARNNState(
            h=zeros,
            c=zeros,
            window=zeros.new_zeros(batch, K, H),
            keys=zeros.new_zeros(batch, K, D),
            values=zeros.new_zeros(batch, K, D),
            count=torch.zeros(batch, dtype=torch.long, device=zeros.device),
        )

    def input_projection(self, x: Tensor) -> Tensor:
        # [M x + b (4H), W_qx x + b_q (D)] in one matmul: (..., 4H + D)
        weight = torch.cat([self.weight_ih, self.weight_qi])
        bias = None if self.bias_ih is None else torch.cat([self.bias_ih, self.bias_q])
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
        h_prev, c_prev, _window, keys, values, count = state
        x_gates, x_query = xp_t.split([4 * H, D], 1)
        q = x_query + F.linear(h_prev, self.weight_qh)  # (B, D)
        if self.query_activation == "elu":
            q = F.elu(q)
        if self.positional_encoding:
            pos_k, pos_v = F.linear(self._table(keys), self.weight_kvp).chunk(2, 1)  # (K, D)
            keys, values = keys + pos_k, values + pos_v
        a = window_attention(q, keys, values, count, self.num_heads)  # (B, D)

        gates = x_gates + F.linear(h_prev, self.weight_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, 1)
        g = g + F.linear(a, self.weight_ag)
        if self.mode == "residual":
            g = torch.tanh(g)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * g  # (B, H)
        h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
        return h, self._enter_window(h, c, state, mask)

    def _table(self, like: Tensor) -> Tensor:
        key = (like.device, like.dtype)
        if key not in self._pe:
            self._pe[key] = window_positional_encoding(self.window, like.device, like.dtype)
        return self._pe[key]

    def _enter_window(self, h: Tensor, c: Tensor, state: LARNNState, mask) -> LARNNState:
        """Push c_t at position 1, projecting it into its key and value once."""
        k_new, v_new = F.linear(c, self.weight_kv).chunk(2, 1)  # (B, D) each
        if self.bias_v is not None:
            v_new = v_new + self.bias_v
        if self.kv_norm is not None:
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
        )

    def _normalise(self, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """nu on a new key and value (B, D): BN-ELU or LayerNorm-ELU."""
        if self.kv_norm == "batch":
            return F.elu(self.norm_k(k, mask=mask)), F.elu(self.norm_v(v, mask=mask))
        return F.elu(self.norm_k(k)), F.elu(self.norm_v(v))

    def _normalise_kv(self, kv: Tensor, mask: Tensor | None) -> Tensor:
        """nu on [k, v] (B, 2D), as the fast path holds them."""
        return torch.cat(self._normalise(*kv.chunk(2, 1), mask), 1)

    def sequence_recur(self, xp: Tensor, state: LARNNState, lengths: Tensor | None = None):
        """The fast path (``scan_sequence``), for full and variable lengths."""
        return self.scan_sequence(xp, state, lengths)

    def scan_sequence(self, xp: Tensor, state: LARNNState, lengths: Tensor | None = None):
        """``recur`` over a whole sequence xp (B, T, 4H + D) by ``nnzoo.layers.larnn_scan``,
        for every option, variable lengths (as the scan's masked loop), training and
        evaluation, with or without a graph. Returns (outputs (B, T, H), final state)."""
        T = xp.shape[1]
        if T == 0:
            return None
        H, D, K = self.hidden_size, self.attention_size, self.window
        spec = LARNNSpec(
            hidden_size=H, attention_size=D, num_heads=self.num_heads, window=K,
            tanh_g=self.mode == "residual", query_elu=self.query_activation == "elu",
            normalise=None if self.kv_norm is None else self._normalise_kv,
        )  # fmt: skip
        weight_hq = torch.cat([self.weight_hh, self.weight_qh])  # (4H + D, H)
        bias_kv = None
        if self.bias_v is not None:
            bias_kv = torch.cat([torch.zeros_like(self.bias_v), self.bias_v])  # [0; b_v] (2D,)
        pos_kv = None
        if self.positional_encoding:
            pos_kv = F.linear(self._table(xp), self.weight_kvp).flip(0)  # (K, 2D), oldest first
        norm_params = ()
        if self.kv_norm is not None:
            norm_params = (*self.norm_k.parameters(), *self.norm_v.parameters())
        h, c, window, keys, values, count = state
        out, h, c, window, keys, values = larnn_scan(
            spec, xp, h, c, window, keys, values, count, lengths,
            weight_hq, self.weight_ag, self.weight_kv, bias_kv, pos_kv, norm_params,
        )  # fmt: skip
        steps = T if lengths is None else lengths
        count = (count + steps).clamp(max=K)
        return out, LARNNState(h, c, window, keys, values, count)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, window={self.window}, num_heads={self.num_heads}, "
            f"attention_size={self.attention_size}, mode={self.mode!r}, "
            f"positional_encoding={self.positional_encoding}, kv_norm={self.kv_norm!r}, "
            f"query_activation={self.query_activation!r}"
        )
