r"""The LARNN cell over a whole sequence, with a hand-written backward: the cell's fast path.

``LARNNCell.recur`` is the reference, the paper's equations one step at a time. Per step
(xp_t = [M x_t + b, W_qx x_t + b_q] is hoisted by the caller; heads of width d = D / N):

.. math::
    z &= xp_t + [W_{hh}; W_{qh}]\, h_{t-1}, \quad q = \psi(z_q) / \sqrt{d} \\
    s_{n,k} &= q_n \cdot K_{t,n,k}, \quad w_{n,\cdot} = \mathrm{softmax}_k(s_{n,\cdot})
        \ \text{over the valid entries}, \quad a_n = \textstyle\sum_k w_{n,k} V_{t,n,k} \\
    i, f, o &= \sigma(z_i, z_f, z_o), \quad g = \tanh(z_g + W_{ac} a) \ (\text{or linear}), \quad
    c_t = f \odot c_{t-1} + i \odot g, \quad h_t = o \odot \tanh(c_t) \\
    [k_t; v_t] &= \nu(W_{kv} c_t + [0; b_v])

This module computes the same numbers with other bookkeeping:

* Keys and values live in preallocated buffers of T + K slots: slot K + t holds k_t (v_t),
  written once when c_t is made; slots 0..K-1 hold the initial window, oldest first. Step t
  attends to slots t..t+K-1, a view (plus the positional table, when there is one): no window is
  concatenated and no raw window of cell states is carried from step to step. The final
  state's window, keys and values are gathered once, at each sequence's own length.
* Batch innermost: every tensor is laid out (time or slot, features, B): hidden states
  (T, H, B), inputs (T, 4H + D, B), keys (T + K, D, B), so that a step's slice is contiguous.
  The reductions over the d features of a head and over the K window entries, and the softmax
  over K, run along contiguous rows of B numbers whatever d and N are (in a (B, K, N, d)
  layout, the paper's 27 heads of width 3 reduce rows of 3). The attention's D features are in
  width-major order (feature i of head n at i N + n): a head's weight then broadcasts over an
  outer dimension. ``LARNNCell.input_projection`` hands its (B, T, 4H + D) result over stored
  as (T, 4H + D, B), and the outputs (B, T, H) are stored as (T, H, B) (torch.nn.LSTM's
  batch-first outputs are likewise a transpose of time-major ones).
* No graph: the forward saves the gates, cell states, queries, attended values and attention
  weights, O(T (H + D + K N)) numbers per sequence (the graph of ``recur`` saves O(T K D)), and
  the backward runs the loop back by hand. The gradients of the keys and values accumulate in
  buffers of the same slots; slot K + t is complete when the backward reaches step t (only
  steps t + 1..t + K read it), and feeds dc_t through W_kv.

Measured on one CPU thread at B = 256 and left out: reducing over a head's features by a
matmul against a (D, N) head-indicator matrix (slower at H = 32 and at the paper's H = 81 with
27 heads); recomputing the attention weights in the backward instead of saving them, which
would make the saved memory O(T (H + D)) (14% slower at the paper's shape); torch.compile of
the attention or of the whole step (no gain at H = 32, 1.1-1.2x at the paper's shape).

Variable lengths: every sequence runs all T steps; a sequence's steps past its length feed
nothing that is returned (its outputs are zeroed, its final state is gathered at its own last
step), so its results are those of the scan's masked loop. Only a normalisation with batch
statistics couples sequences; it gets the same mask of running sequences as in the loop.
The key/value normalisation ``nu`` (``kv_norm``) is the cell's own module: its backward comes
from a small graph per step, built in the forward and differentiated in the backward. The
"bn-elu" core (``spec.core``: per-step BN on the gates, c_t and h_t) is run the same way: from
the gate pre-activations (attention added) and c_{t-1} to h_t and c_t, while the attention, the
projections and the window stay hand-written.

Batch norms written out (``spec.bn_core``, ``spec.kv_bn``): where every sequence runs all T
steps from the same step (and, in training, there are at least two), the "bn-elu" core and
nu's batch norms are instead ``nnzoo.layers.bptt_bn.batch_norm_step`` calls on the (1, F, B)
view of a step's (F, B) slice (BN's length axis is the batch: the same statistics), which move
the population statistics in place as ``TimeBatchNorm`` does, and their backward one
``native_batch_norm_backward`` each. Keys and values share one call over their 2D features
(BN is per feature). The tanh of g rides on doubled g rows of the gate BN's scale and shift,
as in ``bptt_bn``. No graph is built per step: about 1.3 times faster at the paper's size.

The "concat" encoding (``spec.kv_per_step``): a key depends on its position in the window, so
the slots hold the linear projections W_kv c + b and nu runs over each step's window view plus
the positional term, one batch norm over its K' entries and the batch per step (the published
statistics), for keys and for values. The backward recomputes nu from the step's saved means
and 1/std instead of saving the normalised windows: O(T D) saved, not O(T K D).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from nnzoo.layers.bptt_bn import Norms, batch_norm_step, batch_norm_step_backward, doubled_block


class LARNNSpec(NamedTuple):
    """What the scan needs to know of the cell, besides its weights."""

    hidden_size: int  # H
    attention_size: int  # D
    num_heads: int  # N
    window: int  # K
    tanh_g: bool  # g = tanh(...) (mode="residual") or linear (mode="layer")
    query_elu: bool  # psi = ELU
    # nu on new [keys, values] (B, 2D), given the (B, 1) mask of running sequences (or None)
    normalise: Callable[[Tensor, Tensor | None], Tensor] | None
    # the "bn-elu" core: (u (B, 4H) gate pre-activations with the attention in, c_{t-1} (B, H),
    # step t, mask) -> (h_t, c_t); None: the LSTM core written out below
    core: Callable[[Tensor, Tensor, int, Tensor | None], tuple[Tensor, Tensor]] | None = None
    # the "bn-elu" core written out instead of ``core`` (full lengths, every sequence at the
    # same step, more than one in training): the running statistics of its BNs on z, c_t and
    # h_t, in that order; their weights are the last entries of ``norm_params``:
    # gamma_z, gamma_c, beta_c, gamma_h, beta_h and, with ``core_bias``, the gate bias b
    bn_core: Norms | None = None
    core_bias: bool = False
    # nu with batch statistics written out instead of ``normalise`` (full lengths, more than
    # one sequence in training): the running statistics of [keys; values] (2D,) (one BN over
    # both: it is per feature), their weights the first two entries of ``norm_params``:
    # gamma, beta (2D,); ELU before the BN ("elu-batch") or after it ("batch")
    kv_bn: Norms | None = None
    kv_elu_first: bool = True
    # with ``kv_bn``: nu runs over each step's window (the "concat" encoding: a key depends on
    # its position), statistics over its entries and the batch, and the slots hold the linear
    # projections; every sequence's window must hold the same count (no entry is masked)
    kv_per_step: bool = False


def time_major(x: Tensor) -> Tensor:
    """(B, T, F) -> (T, F, B) contiguous: a view when x is stored that way, else a copy."""
    y = x.permute(1, 2, 0)
    if y.is_contiguous():
        return y
    if x.is_contiguous():  # one 2D transpose, which torch copies blockwise
        B, T, F_ = x.shape
        return x.view(B, T * F_).t().contiguous().view(T, F_, B)
    return y.contiguous()


def larnn_scan(
    spec: LARNNSpec,
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    window0: Tensor,
    keys0: Tensor,
    values0: Tensor,
    count0: Tensor,
    lengths: Tensor | None,
    weight_hq: Tensor,
    weight_ag: Tensor,
    weight_kv: Tensor,
    bias_kv: Tensor | None,
    pos_kv: Tensor | None,
    norm_params: tuple[Tensor, ...] = (),
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Run the cell over xp (B, T, 4H + D); with a graph when grad mode is on.

    Args:
        spec: sizes and options.
        xp: the hoisted input projection.
        h0, c0: (B, H); window0 (B, K, H), keys0 / values0 (B, K, D), most recent first;
            count0 (B,) long: the initial state.
        lengths: (B,) long, or None when every sequence has length T.
        weight_hq: [W_hh; W_qh] (4H + D, H).
        weight_ag: W_ac (H, D).
        weight_kv: [W_k; W_v] (2D, H).
        bias_kv: [0; b_v] (2D,) or None.
        pos_kv: [P_k pe; P_v pe] (K, 2D) by window position, OLDEST first, or None.
        norm_params: the parameters ``spec.normalise`` and ``spec.core`` use (their gradients
            are returned).

    Returns:
        outputs (B, T, H) (zeros past each length), and at each sequence's last step h, c (B, H),
        window (B, K, H), keys, values (B, K, D), most recent first.
    """
    D, N = spec.attention_size, spec.num_heads
    d = D // N
    permute = N > 1 and d > 1
    if permute:  # the attention's features in width-major order
        to_wm = torch.arange(D, device=xp.device).view(N, d).t().reshape(-1)  # wm -> hm
        to_hm = torch.arange(D, device=xp.device).view(d, N).t().reshape(-1)  # hm -> wm
        kv_wm, kv_hm = torch.cat([to_wm, to_wm + D]), torch.cat([to_hm, to_hm + D])
        weight_ag, weight_kv = weight_ag[:, to_wm], weight_kv[kv_wm]
        bias_kv = None if bias_kv is None else bias_kv[kv_wm]
        pos_kv = None if pos_kv is None else pos_kv[:, kv_wm]
        keys0, values0 = keys0[..., to_wm], values0[..., to_wm]
        if spec.normalise is not None:
            normalise = spec.normalise
            spec = spec._replace(normalise=lambda kv, mask: normalise(kv[:, kv_hm], mask)[:, kv_wm])
        if spec.kv_bn is not None:  # its weights and statistics in the same order
            norm_params = (norm_params[0][kv_wm], norm_params[1][kv_wm], *norm_params[2:])
            mean, var = spec.kv_bn.running[0]
            running = (mean[kv_wm], var[kv_wm])
            spec = spec._replace(kv_bn=spec.kv_bn._replace(running=(running,)))
    args = (xp, h0, c0, window0, keys0, values0, count0, lengths)
    args += (weight_hq, weight_ag, weight_kv, bias_kv, pos_kv)
    if torch.is_grad_enabled():
        out, h, c, window, keys, values = LARNNScan.apply(spec, *args, *norm_params)
    else:
        out, h, c, window, keys, values = _forward(spec, *args, norm_params, save=None)
    if permute:
        keys, values = keys[..., to_hm], values[..., to_hm]
        if spec.kv_bn is not None and spec.kv_bn.training:  # the statistics moved
            mean.copy_(running[0][kv_hm])
            var.copy_(running[1][kv_hm])
    return out, h, c, window, keys, values


def _head_dot(x: Tensor, y: Tensor) -> Tensor:
    """x (K, d, N, B) . y (d, N, B) over d -> (K, 1, N, B)."""
    d = y.shape[0]
    if d > 4:
        return (x * y).sum(1, keepdim=True)
    # narrow heads: d fused multiply-adds of (K, N, B) beat materialising x * y and reducing it
    x, y = x.unbind(1), y.unbind(0)
    s = (x[0] * y[0])[:, None]
    for i in range(1, d):
        s[:, 0].addcmul_(x[i], y[i])
    return s


def _weighted_sum(x: Tensor, w: Tensor, out: Tensor | None = None) -> Tensor:
    """x (K, d, N, B) weighted by w (K, 1, N, B), summed over K -> (d, N, B)."""
    if x.shape[1] > 4:
        return torch.sum(x * w, 0, out=out)
    # narrow heads: one product of (K, N, B) per feature of a head, small enough to stay cached
    out = x.new_empty(x.shape[1:]) if out is None else out
    w = w[:, 0]
    for i, x_i in enumerate(x.unbind(1)):
        torch.sum(x_i * w, 0, out=out[i])
    return out


def _softmax_(s: Tensor) -> Tensor:
    """Softmax over the window axis 0 in place on s: torch's CPU softmax over a leading axis
    takes several times as long as these four passes."""
    s.sub_(s.amax(0, keepdim=True)).exp_()
    return s.div_(s.sum(0, keepdim=True))


def _tanh_(x: Tensor) -> Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1 in place on x, which holds 2x: torch's CPU tanh is several
    times slower than its sigmoid."""
    return torch.sigmoid(x, out=x).mul_(2).sub_(1)


def _windows(slots: Tensor, T: int, K: int) -> tuple[Tensor, ...]:
    """Step t's view of slots t..t+K-1, for every t: (T + K, ...) -> T views (K, ...)."""
    stride = slots.stride()
    return slots.as_strided((T, K, *slots.shape[1:]), (stride[0], *stride)).unbind(0)


def _kv_paths(spec: LARNNSpec) -> tuple[bool, bool]:
    """(nu runs over each step's window, the slots hold the linear projections W_kv c + b)."""
    per_step = spec.kv_bn is not None and spec.kv_per_step
    return per_step, spec.normalise is None or per_step


def _window_nu(x: Tensor, weights: tuple[Tensor, ...], stats: Tensor, norms: Norms,
               elu_first: bool) -> Tensor:  # fmt: skip
    """nu over a step's window x (K', d, N, B): BN(ELU(x)) or ELU(BN(x)), with the statistics
    of its K' entries and the batch (a (K', D, B) batch norm). ``weights``: gamma, beta and the
    running mean and variance (D,); ``stats`` (2, D): the step's batch means and 1/std, written
    in training."""
    x = x.reshape(x.shape[0], -1, x.shape[-1])  # (K', D, B)
    x_in = F.elu(x) if elu_first else x
    y = batch_norm_step(x_in, *weights, norms, torch.empty_like(x_in), stats[0], stats[1])
    return y if elu_first else F.elu(y)


def _window_nu_again(x: Tensor, weights: tuple[Tensor, ...], stats: Tensor, norms: Norms,
                     elu_first: bool) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """`_window_nu` recomputed in the backward from the step's statistics: BN's input and
    output and nu(x), each (K', D, B)."""
    gamma, beta, mean, var = weights
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    x_in = F.elu(x) if elu_first else x
    if norms.training:
        mean, inv = stats[0], stats[1]
    else:
        inv = (var + norms.eps).rsqrt()
    y = (x_in - mean[:, None]) * (inv * gamma)[:, None] + beta[:, None]
    return x_in, y, y if elu_first else F.elu(y)


def _window_nu_backward(d_out: Tensor, again: tuple[Tensor, Tensor, Tensor],
                        weights: tuple[Tensor, ...], stats: Tensor, norms: Norms,
                        elu_first: bool, sums: tuple[Tensor, Tensor]) -> Tensor:  # fmt: skip
    """d x from d nu(x) (K', D, B); d gamma and d beta into ``sums``."""
    x_in, y, out = again
    gamma, _, mean, var = weights
    if not elu_first:  # out = elu(y): elu' = 1, or elu + 1
        d_out = d_out * torch.where(y > 0, 1.0, out + 1)
    d_in = batch_norm_step_backward(d_out, x_in, gamma, mean, var, stats[0], stats[1], norms,
                                    sums)  # fmt: skip
    if elu_first:  # x_in = elu(x)
        d_in = d_in * torch.where(x_in > 0, 1.0, x_in + 1)
    return d_in


def _forward(
    spec: LARNNSpec,
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    window0: Tensor,
    keys0: Tensor,
    values0: Tensor,
    count0: Tensor,
    lengths: Tensor | None,
    weight_hq: Tensor,
    weight_ag: Tensor,
    weight_kv: Tensor,
    bias_kv: Tensor | None,
    pos_kv: Tensor | None,
    norm_params: tuple[Tensor, ...],
    save: dict | None,
):
    """The forward loop; with ``save`` a dict, it also keeps what the backward reads."""
    H, D, N, K = spec.hidden_size, spec.attention_size, spec.num_heads, spec.window
    G, d = 4 * H, D // N
    B, T, _ = xp.shape
    scale = 1.0 / math.sqrt(d)
    new, saving = xp.new_empty, save is not None
    device = xp.device
    xp = time_major(xp)  # (T, 4H + D, B)
    # slot K + t: the key and value of c_t; slots < K: the initial window, oldest first
    keys, values = new(T + K, D, B), new(T + K, D, B)
    keys[:K] = keys0.flip(1).permute(1, 2, 0)
    values[:K] = values0.flip(1).permute(1, 2, 0)
    cs = new(T + K, H, B)  # the cell states in the same slots
    cs[:K] = window0.flip(1).permute(1, 2, 0)
    # the outputs (B, T, H), stored (T, H, B): h_t is hs[t]
    out = xp.new_empty_strided((B, T, H), (1, H * B, B))
    hs = out.permute(1, 2, 0)
    steps = T if saving else 1  # what the backward reads, or one step's scratch
    gates = new(steps, G, B)  # i, f, g, o after their nonlinearity
    tanh_c = new(steps, H, B)
    queries = new(steps, D, B)  # psi(z_q) / sqrt(d), width-major
    attended = new(steps, D, B)
    weights, graphs, core_graphs = [], [], []
    # Slots below K - count0 hold no cell state, so steps before empty_until see empty slots.
    # When every sequence has the same count (a fresh state, or the state a full-length batch
    # ends in), step t attends to its last K - skip slots alone; otherwise empty slots are masked.
    first_valid = K - count0  # (B,)
    empty_until = int(first_valid.max())
    uniform = empty_until == int(first_valid.min())
    slot = torch.arange(K, device=device)[:, None, None, None]  # (K, 1, 1, 1)
    running = None
    if lengths is not None:
        running = torch.arange(T, device=device)[:, None] < lengths  # (T, B)
    window_k_steps = _windows(keys.view(T + K, d, N, B), T, K)  # (K, d, N, B) each
    window_v_steps = _windows(values.view(T + K, d, N, B), T, K)
    pos_k = pos_v = None
    if pos_kv is not None:
        pos_k, pos_v = (p.reshape(K, d, N, 1) for p in pos_kv.split(D, 1))
    weight_k, weight_v = weight_kv[:D], weight_kv[D:]
    bias_v = None if bias_kv is None else bias_kv[D:, None]  # (D, 1)
    # each step's slices, made at once
    xp_steps, h_steps, c_steps = xp.unbind(0), hs.unbind(0), cs[K:].unbind(0)
    k_steps, v_steps = keys[K:].unbind(0), values[K:].unbind(0)
    q_steps, a_steps = (
        queries.view(steps, d, N, B).unbind(0),
        attended.view(steps, d, N, B).unbind(0),
    )
    act_steps, tc_steps = gates.unbind(0), tanh_c.unbind(0)
    g_steps = gates[:, 2 * H : 3 * H].unbind(0)
    kv_bn = spec.kv_bn
    (per_step, linear_slots), elu_first = _kv_paths(spec), spec.kv_elu_first
    if kv_bn is not None:  # nu's BN input and output (once per entry), its batch means, 1/std
        kv_in, kv_out = (None, None) if per_step else (new(steps, 2 * D, B), new(1, 2 * D, B))
        kv_stats = new(2, T if saving else 1, 2 * D)
        gamma_kv, beta_kv = norm_params[:2]
        mean_kv, var_kv = kv_bn.running[0]
        kv_k, kv_v = (tuple(w[part] for w in (gamma_kv, beta_kv, mean_kv, var_kv))
                      for part in (slice(None, D), slice(D, None)))  # fmt: skip
    # a key bias in the slots only where nu runs over the window (elsewhere there is none)
    bias_k = bias_kv[:D, None] if per_step and bias_kv is not None else None
    bn = spec.bn_core
    if bn is not None:  # the "bn-elu" core written out; tanh_c holds elu(c_t)
        core_in = new(steps, G, B)  # BN_z's input: z with the attention in
        c_in, h_in = new(steps, H, B), new(steps, H, B)  # BN_c's and BN_h's
        stats = new(2, T if saving else 1, G + 2 * H)  # each step's batch means and 1/std
        MZ, MC, MH = (list(m) for m in stats[0].split([G, H, H], 1))
        IZ, IC, IH = (list(m) for m in stats[1].split([G, H, H], 1))
        gamma_z, gamma_c, beta_c, gamma_h, beta_h, *bias = norm_params[-5 - spec.core_bias :]
        if spec.tanh_g:  # tanh(z_g) = 2 sigmoid(2 z_g) - 1: the g rows of BN_z doubled
            gamma_z = doubled_block(gamma_z, H, 2)
            bias = [doubled_block(bias[0], H, 2)] if bias else bias
        (mean_z, var_z), (mean_c, var_c), (mean_h, var_h) = bn.running
        last_row = mean_z.shape[0] - 1
    h, c = h0.t(), c0.t()  # (H, B)
    for t in range(T):
        r = t if saving else 0
        z = torch.addmm(xp_steps[t], weight_hq, h)  # (4H + D, B)
        z_q = F.elu(z[G:]) if spec.query_elu else z[G:]  # head-major, as the cell's weights
        q = torch.mul(z_q.view(N, d, B).transpose(0, 1), scale, out=q_steps[r])  # (d, N, B)
        skip = max(empty_until - t, 0) if uniform else 0
        if skip == K:  # an empty window attends to nothing
            w, a = None, a_steps[r].zero_().view(D, B)
        else:
            window_k, window_v = window_k_steps[t], window_v_steps[t]
            if skip:
                window_k, window_v = window_k[skip:], window_v[skip:]
            if pos_k is not None:
                window_k, window_v = window_k + pos_k[skip:], window_v + pos_v[skip:]
            if per_step:  # nu over the window, as the "concat" encoding needs
                shape, kv_step = window_k.shape, kv_stats[:, r]
                window_k = _window_nu(window_k, kv_k, kv_step[:, :D], kv_bn, elu_first).view(shape)
                window_v = _window_nu(window_v, kv_v, kv_step[:, D:], kv_bn, elu_first).view(shape)
            s = _head_dot(window_k, q)  # (K - skip, 1, N, B)
            if not uniform and t < empty_until:
                valid = t + slot >= first_valid  # (K, 1, 1, B)
                s = s.masked_fill(~valid, torch.finfo(s.dtype).min)
                w = _softmax_(s).mul_(valid)  # a row with an empty window gets zeros
            else:
                w = _softmax_(s)
            a = _weighted_sum(window_v, w, out=a_steps[r]).view(D, B)

        z_g, act = z[2 * H : 3 * H], act_steps[r]
        if bn is not None:
            z_g.addmm_(weight_ag, a)
            row = min(bn.first + t, last_row)
            u = core_in[r].copy_(z[:G])[None]  # (1, 4H, B): the batch is BN's length axis
            batch_norm_step(u, gamma_z, bias[0] if bias else None, mean_z[row], var_z[row],
                            bn, act[None], MZ[r], IZ[r])  # fmt: skip
            if spec.tanh_g:
                act.sigmoid_()
                g_steps[r].mul_(2).sub_(1)  # tanh
            else:
                act[: 2 * H].sigmoid_()
                act[3 * H :].sigmoid_()
            i, f, g, o = act.chunk(4)
            c_pre = torch.addcmul(f * c, i, g, out=c_in[r])[None]
            c = batch_norm_step(c_pre, gamma_c, beta_c, mean_c[row], var_c[row], bn,
                                c_steps[t][None], MC[r], IC[r])[0]  # fmt: skip
            h_pre = torch.mul(o, tc_steps[r].copy_(F.elu(c)), out=h_in[r])[None]
            h = batch_norm_step(h_pre, gamma_h, beta_h, mean_h[row], var_h[row], bn,
                                h_steps[t][None], MH[r], IH[r])[0]  # fmt: skip
        elif spec.core is not None:  # the cell's own core, as a small graph per step
            z_g.addmm_(weight_ag, a)
            mask = None if running is None else running[t, :, None]  # (B, 1)
            u, c_prev = z[:G].t(), c.t()  # (B, 4H), (B, H)
            if saving:
                with torch.enable_grad():  # copies: the slot buffers are written later on
                    leaf_u = u.detach().clone().requires_grad_()
                    leaf_c = c_prev.detach().clone().requires_grad_()
                    h_new, c_new = spec.core(leaf_u, leaf_c, t, mask)
                core_graphs.append((leaf_u, leaf_c, h_new, c_new))
                h_new, c_new = h_new.detach(), c_new.detach()
            else:
                h_new, c_new = spec.core(u, c_prev, t, mask)
            c = c_steps[t].copy_(c_new.t())  # (H, B)
            h = h_steps[t].copy_(h_new.t())
        else:
            if spec.tanh_g:
                z_g.addmm_(weight_ag, a, beta=2, alpha=2)  # 2 (z_g + W_ac a)
                torch.sigmoid(z[:G], out=act)
                g_steps[r].mul_(2).sub_(1)  # tanh
            else:
                z_g.addmm_(weight_ag, a)
                torch.sigmoid(z[:G], out=act)
                g_steps[r].copy_(z_g)
            i, f, g, o = act.chunk(4)
            c = torch.addcmul(f * c, i, g, out=c_steps[t])
            tc = _tanh_(torch.mul(c, 2, out=tc_steps[r]))
            h = torch.mul(o, tc, out=h_steps[t])

        if kv_bn is not None and not per_step:
            pre = torch.mm(weight_kv, c)  # (2D, B)
            if bias_kv is not None:
                pre += bias_kv[:, None]
            x_in = kv_in[r].copy_(F.elu(pre) if spec.kv_elu_first else pre)[None]
            y = batch_norm_step(x_in, gamma_kv, beta_kv, mean_kv, var_kv, kv_bn, kv_out,
                                kv_stats[0, r], kv_stats[1, r])[0]  # fmt: skip
            y = y if spec.kv_elu_first else F.elu(y)
            k_steps[t].copy_(y[:D])
            v_steps[t].copy_(y[D:])
        elif linear_slots:
            if bias_k is None:
                torch.mm(weight_k, c, out=k_steps[t])
            else:
                torch.addmm(bias_k, weight_k, c, out=k_steps[t])
            if bias_v is None:
                torch.mm(weight_v, c, out=v_steps[t])
            else:
                torch.addmm(bias_v, weight_v, c, out=v_steps[t])
        else:
            pre = F.linear(c.t(), weight_kv, bias_kv)  # (B, 2D)
            mask = None if running is None else running[t, :, None]  # (B, 1)
            if not saving:
                normed = spec.normalise(pre, mask)
            else:
                with torch.enable_grad():
                    leaf = pre.requires_grad_()
                    normed = spec.normalise(leaf, mask)
                graphs.append((leaf, normed))
                normed = normed.detach()
            k_steps[t].copy_(normed[:, :D].t())
            v_steps[t].copy_(normed[:, D:].t())
        if saving:
            weights.append(w)

    last = torch.full((B,), T, device=device) if lengths is None else lengths  # (B,)
    rows = torch.arange(B, device=device)
    slots = (K - 1 + last)[:, None] - torch.arange(K, device=device)  # (B, K), newest first
    final = (
        hs[last - 1, :, rows],  # (B, H)
        cs[K + last - 1, :, rows],
        cs[slots, :, rows[:, None]],  # (B, K, H)
        keys[slots, :, rows[:, None]],  # (B, K, D)
        values[slots, :, rows[:, None]],
    )
    if running is not None:
        hs.masked_fill_(~running[:, None], 0.0)
    if saving:
        save.update(
            gates=gates, tanh_c=tanh_c, queries=queries, attended=attended, weights=weights,
            graphs=graphs, core_graphs=core_graphs, keys=keys, values=values, cs=cs,
            running=running, last=last, slots=slots, empty_until=empty_until, uniform=uniform,
        )  # fmt: skip
        if bn is not None:
            save.update(core_in=core_in, c_in=c_in, h_in=h_in, stats=stats)
        if kv_bn is not None:
            save.update(kv_in=kv_in, kv_stats=kv_stats)
    return (out, *final)


class LARNNScan(torch.autograd.Function):
    """``larnn_scan`` with a graph of one node: forward ``_forward``, backward by hand."""

    @staticmethod
    def forward(ctx, spec, xp, h0, c0, window0, keys0, values0, count0, lengths, *rest):
        weight_hq, weight_ag, weight_kv, bias_kv, pos_kv, *norm_params = rest
        save: dict = {}
        outputs = _forward(
            spec, xp, h0, c0, window0, keys0, values0, count0, lengths,
            weight_hq, weight_ag, weight_kv, bias_kv, pos_kv, tuple(norm_params), save=save,
        )  # fmt: skip
        ctx.spec, ctx.saved, ctx.norm_params = spec, save, norm_params
        ctx.has_bias = bias_kv is not None
        # the outputs are the h_t the backward reads (zeroed past each length, where only
        # gradients of zero meet them); saved so that a change in place is caught
        ctx.save_for_backward(h0, c0, weight_hq, weight_ag, weight_kv, pos_kv, outputs[0])
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_h, d_c, d_window, d_keys, d_values):
        spec, saved = ctx.spec, ctx.saved
        h0, c0, weight_hq, weight_ag, weight_kv, pos_kv, out = ctx.saved_tensors
        H, D, N, K = spec.hidden_size, spec.attention_size, spec.num_heads, spec.window
        G, d = 4 * H, D // N
        scale = 1.0 / math.sqrt(d)
        gates, tanh_c, queries, attended, weights, graphs = (
            saved[k] for k in ("gates", "tanh_c", "queries", "attended", "weights", "graphs")
        )
        keys, values, cs = saved["keys"], saved["values"], saved["cs"]
        running, last, slots = saved["running"], saved["last"], saved["slots"]
        empty_until, uniform = saved["empty_until"], saved["uniform"]
        hs = out.permute(1, 2, 0)  # (T, H, B)
        T, _, B = hs.shape
        rows = torch.arange(B, device=hs.device)

        # what arrives at each step's h and c, and at each slot's key and value, from the
        # outputs and from the final state (gathered at each sequence's last step)
        d_hs = time_major(d_out)  # (T, H, B)
        if running is not None:
            d_hs = d_hs.masked_fill(~running[:, None], 0.0)
        elif d_hs.data_ptr() == d_out.data_ptr():
            d_hs = d_hs.clone()
        d_hs[last - 1, :, rows] += d_h
        d_cs = torch.zeros_like(cs)  # (T + K, H, B)
        d_cs[K + last - 1, :, rows] += d_c
        d_cs[slots, :, rows[:, None]] += d_window
        first_d_cs = int(last.min()) - K  # the steps before it get nothing from the final state
        d_keys_all, d_values_all = torch.zeros_like(keys), torch.zeros_like(values)
        d_keys_all[slots, :, rows[:, None]] += d_keys
        d_values_all[slots, :, rows[:, None]] += d_values
        window_k_steps = _windows(keys.view(T + K, d, N, B), T, K)  # (K, d, N, B) each
        window_v_steps = _windows(values.view(T + K, d, N, B), T, K)
        d_window_k_steps = _windows(d_keys_all.view(T + K, d, N, B), T, K)
        d_window_v_steps = _windows(d_values_all.view(T + K, d, N, B), T, K)

        # local derivatives of every step at once (the "bn-elu" core has its graphs instead)
        core_graphs, bn = saved["core_graphs"], spec.bn_core
        d_act, d_tanh_c = gates, tanh_c
        if spec.core is None or bn is not None:
            d_act = torch.addcmul(gates, gates, gates, value=-1)  # sigmoid' = s (1 - s)
            g_all = gates[:, 2 * H : 3 * H]
            if spec.tanh_g:
                torch.mul(g_all, g_all, out=d_act[:, 2 * H : 3 * H]).neg_().add_(1)  # 1 - g^2
            else:
                d_act[:, 2 * H : 3 * H] = 1.0
        if bn is not None:  # tanh_c holds elu(c_t): elu' = 1, or elu + 1
            d_tanh_c = torch.where(tanh_c > 0, 1.0, tanh_c + 1)
            core_in, c_in, h_in = saved["core_in"], saved["c_in"], saved["h_in"]
            MZ, MC, MH = (list(m) for m in saved["stats"][0].split([G, H, H], 1))
            IZ, IC, IH = (list(m) for m in saved["stats"][1].split([G, H, H], 1))
            n_core = 5 + spec.core_bias
            gamma_z, gamma_c, _, gamma_h, _, *_ = ctx.norm_params[-n_core:]
            (mean_z, var_z), (mean_c, var_c), (mean_h, var_h) = bn.running
            last_row = mean_z.shape[0] - 1
            # per step: d gamma_z, d b (4H); d gamma_c, d beta_c, d gamma_h, d beta_h (H)
            d_core_g, d_core_h = hs.new_zeros(2, T, G), hs.new_zeros(4, T, H)
            DGZ, DB = (list(x) for x in d_core_g)
            DGC, DBC, DGH, DBH = (list(x) for x in d_core_h)
        elif spec.core is None:
            d_tanh_c = tanh_c.square().neg_().add_(1)
        # d z_q from d q: psi'(z_q) / sqrt(d), from the saved q = psi(z_q) / sqrt(d)
        d_query = None
        if spec.query_elu:
            d_query = torch.where(queries > 0, scale, queries + scale)  # (T, D, B)
        kv_bn = spec.kv_bn
        (per_step, linear_slots), elu_first = _kv_paths(spec), spec.kv_elu_first
        d_pre = None if linear_slots else hs.new_empty(T, 2 * D, B)
        if kv_bn is not None:
            kv_in, kv_stats = saved["kv_in"], saved["kv_stats"]
            gamma_kv, beta_kv = ctx.norm_params[:2]
            mean_kv, var_kv = kv_bn.running[0]
            d_gamma_kv, d_beta_kv = hs.new_zeros(2, T, 2 * D)
            kv_k, kv_v = (tuple(w[part] for w in (gamma_kv, beta_kv, mean_kv, var_kv))
                          for part in (slice(None, D), slice(D, None)))  # fmt: skip
        d_norm_params = [None] * len(ctx.norm_params)
        pos_k = pos_v = d_pos = None
        if pos_kv is not None:
            pos_k, pos_v = (p.reshape(K, d, N, 1) for p in pos_kv.split(D, 1))
            d_pos = hs.new_zeros(2, K, D)
        weight_k_t, weight_v_t = weight_kv[:D].t(), weight_kv[D:].t()
        weight_ag_t, weight_hq_t = weight_ag.t(), weight_hq.t()

        d_xp_bt = hs.new_empty_strided((B, T, G + D), (1, (G + D) * B, B))  # stored (T, G + D, B)
        d_xp = d_xp_bt.permute(1, 2, 0)
        # each step's slices, made at once
        dz_steps, dh_steps, dc_steps = d_xp.unbind(0), d_hs.unbind(0), d_cs[K:].unbind(0)
        dk_steps, dv_steps = d_keys_all[K:].unbind(0), d_values_all[K:].unbind(0)
        act_steps, d_act_steps = gates.unbind(0), d_act.unbind(0)
        tc_steps, d_tc_steps = tanh_c.unbind(0), d_tanh_c.unbind(0)
        q_steps = queries.view(T, d, N, B).unbind(0)
        c_prev_steps = (c0.t(), *cs[K : K + T - 1].unbind(0))
        dh, dc = hs.new_zeros(H, B), hs.new_zeros(H, B)
        for t in range(T - 1, -1, -1):
            dh = dh + dh_steps[t]
            if t >= first_d_cs:
                dc = dc + dc_steps[t]
            # slot K + t is complete: its key and value -> c_t
            if kv_bn is not None and not per_step:
                d_y = torch.cat([dk_steps[t], dv_steps[t]])  # (2D, B)
                if not spec.kv_elu_first:  # the keys and values are elu(BN(pre))
                    y = torch.cat([keys[K + t], values[K + t]])
                    d_y.mul_(torch.where(y > 0, 1.0, y + 1))
                d_in = batch_norm_step_backward(
                    d_y[None], kv_in[t][None], gamma_kv, mean_kv, var_kv, kv_stats[0, t],
                    kv_stats[1, t], kv_bn, (d_gamma_kv[t], d_beta_kv[t]),
                )[0]  # fmt: skip
                if spec.kv_elu_first:  # kv_in holds elu(pre): elu' = 1, or elu + 1
                    x_in = kv_in[t]
                    d_in.mul_(torch.where(x_in > 0, 1.0, x_in + 1))
                d_pre[t] = d_in
                dc = torch.addmm(dc, weight_kv.t(), d_in)
            elif linear_slots:
                dc = torch.addmm(dc, weight_k_t, dk_steps[t])
                dc.addmm_(weight_v_t, dv_steps[t])
            else:
                leaf, normed = graphs[t]
                d_normed = torch.cat([dk_steps[t], dv_steps[t]]).t()
                grads = torch.autograd.grad(
                    normed,
                    (leaf, *ctx.norm_params),
                    d_normed,
                    retain_graph=True,
                    allow_unused=True,
                )
                d_pre[t] = grads[0].t()
                for index, grad in enumerate(grads[1:]):
                    if grad is not None:
                        prev = d_norm_params[index]
                        d_norm_params[index] = grad if prev is None else prev + grad
                dc = torch.addmm(dc, weight_kv.t(), d_pre[t])

            dz = dz_steps[t]  # (4H + D, B)
            if bn is not None:
                row = min(bn.first + t, last_row)
                i, f, g, o = act_steps[t].chunk(4)
                d_h_in = batch_norm_step_backward(
                    dh[None], h_in[t][None], gamma_h, mean_h[row], var_h[row], MH[t], IH[t],
                    bn, (DGH[t], DBH[t]),
                )[0]  # fmt: skip
                torch.mul(d_h_in, tc_steps[t], out=dz[3 * H : G])  # d o
                dc = torch.addcmul(dc, d_h_in, o * d_tc_steps[t])  # dL/dc_t
                d_c_in = batch_norm_step_backward(
                    dc[None], c_in[t][None], gamma_c, mean_c[row], var_c[row], MC[t], IC[t],
                    bn, (DGC[t], DBC[t]),
                )[0]  # fmt: skip
                torch.mul(d_c_in, g, out=dz[:H])
                torch.mul(d_c_in, c_prev_steps[t], out=dz[H : 2 * H])
                torch.mul(d_c_in, i, out=dz[2 * H : 3 * H])
                dz[:G] *= d_act_steps[t]
                dc = d_c_in * f  # d c_{t-1}
                dz[:G] = batch_norm_step_backward(
                    dz[None, :G], core_in[t][None], gamma_z, mean_z[row], var_z[row], MZ[t],
                    IZ[t], bn, (DGZ[t], DB[t] if spec.core_bias else None),
                )[0]  # fmt: skip
            elif spec.core is not None:
                leaf_u, leaf_c, h_new, c_new = core_graphs[t]
                grads = torch.autograd.grad(
                    (h_new, c_new), (leaf_u, leaf_c, *ctx.norm_params), (dh.t(), dc.t()),
                    retain_graph=True, allow_unused=True,
                )  # fmt: skip
                dz[:G] = grads[0].t()
                dc = grads[1].t().contiguous()  # d c_{t-1}
                for index, grad in enumerate(grads[2:]):
                    if grad is not None:
                        prev = d_norm_params[index]
                        d_norm_params[index] = grad if prev is None else prev + grad
            else:
                i, f, g, o = act_steps[t].chunk(4)
                dc = torch.addcmul(dc, dh, o * d_tc_steps[t])
                torch.mul(dc, g, out=dz[:H])
                torch.mul(dc, c_prev_steps[t], out=dz[H : 2 * H])
                torch.mul(dc, i, out=dz[2 * H : 3 * H])
                torch.mul(dh, tc_steps[t], out=dz[3 * H : G])
                dz[:G] *= d_act_steps[t]
                dc = dc * f

            # attention: da -> weights, values, scores -> query, keys
            da = torch.mm(weight_ag_t, dz[2 * H : 3 * H]).view(d, N, B)
            w, q = weights[t], q_steps[t]  # (K - skip, 1, N, B), (d, N, B)
            if w is None:  # the window was empty
                dz[G:] = 0.0
                dh = torch.mm(weight_hq_t, dz)  # (H, B)
                continue
            skip = max(empty_until - t, 0) if uniform else 0
            window_k, window_v = window_k_steps[t], window_v_steps[t]
            d_window_k, d_window_v = d_window_k_steps[t], d_window_v_steps[t]
            if skip:
                window_k, window_v = window_k[skip:], window_v[skip:]
                d_window_k, d_window_v = d_window_k[skip:], d_window_v[skip:]
            if pos_k is not None:
                window_k, window_v = window_k + pos_k[skip:], window_v + pos_v[skip:]
            if per_step:  # nu over the window again, from the step's statistics
                shape, kv_step = window_k.shape, kv_stats[:, t]
                k_again = _window_nu_again(window_k, kv_k, kv_step[:, :D], kv_bn, elu_first)
                v_again = _window_nu_again(window_v, kv_v, kv_step[:, D:], kv_bn, elu_first)
                window_k, window_v = k_again[2].view(shape), v_again[2].view(shape)
            dw = _head_dot(window_v, da)  # (K - skip, 1, N, B)
            ds = dw.mul_(w)  # softmax backward, in place: w dw - w sum_k(w dw)
            ds.addcmul_(w, ds.sum(0), value=-1)
            dq = _weighted_sum(window_k, ds)  # (d, N, B)
            if d_pos is None:
                d_window_k.addcmul_(ds, q)
                d_window_v.addcmul_(w, da)
            else:
                gk, gv = ds * q, w * da  # (K - skip, d, N, B)
                if per_step:  # through nu
                    sums_k = (d_gamma_kv[t, :D], d_beta_kv[t, :D])
                    sums_v = (d_gamma_kv[t, D:], d_beta_kv[t, D:])
                    gk = _window_nu_backward(gk.view(k_again[0].shape), k_again, kv_k,
                                             kv_step[:, :D], kv_bn, elu_first, sums_k)  # fmt: skip
                    gv = _window_nu_backward(gv.view(v_again[0].shape), v_again, kv_v,
                                             kv_step[:, D:], kv_bn, elu_first, sums_v)  # fmt: skip
                    gk, gv = gk.view(shape), gv.view(shape)
                d_window_k.add_(gk)
                d_window_v.add_(gv)
                d_pos[0, skip:] += gk.sum(-1).view(K - skip, D)
                d_pos[1, skip:] += gv.sum(-1).view(K - skip, D)
            d_zq = dz[G:].view(N, d, B).transpose(0, 1)  # head-major, as the cell's weights
            torch.mul(dq, scale if d_query is None else d_query[t].view(d, N, B), out=d_zq)
            dh = torch.mm(weight_hq_t, dz)  # (H, B)

        # weight gradients: a contraction over (t, b) each, one matmul per step in one call
        def contract(x: Tensor, y: Tensor) -> Tensor:  # (T, F, B), (T, F', B) -> (F, F')
            return torch.bmm(x, y.transpose(1, 2)).sum(0)

        d_weight_hq = contract(d_xp[1:], hs[:-1]) + d_xp[0] @ h0
        d_weight_ag = contract(d_xp[:, 2 * H : 3 * H], attended)
        c_all = cs[K:]  # (T, H, B)
        if linear_slots:
            d_k, d_v = d_keys_all[K:], d_values_all[K:]  # (T, D, B)
            d_weight_kv = torch.cat([contract(d_k, c_all), contract(d_v, c_all)])
            d_bias_kv = torch.cat([d_k.sum((0, 2)), d_v.sum((0, 2))])
        else:
            d_weight_kv = contract(d_pre, c_all)
            d_bias_kv = d_pre.sum((0, 2))
        if d_pos is not None:
            d_pos = d_pos.transpose(0, 1).reshape(K, 2 * D)
        if kv_bn is not None:
            d_norm_params[:2] = d_gamma_kv.sum(0), d_beta_kv.sum(0)
        if bn is not None:  # the core's weights: the last entries of norm_params
            d_gz, d_b = d_core_g.sum(1)
            d_core = [d_gz, *d_core_h.sum(1)] + ([d_b] if spec.core_bias else [])
            d_norm_params[-n_core:] = d_core
        d_window0 = d_cs[:K].flip(0).permute(2, 0, 1)  # (B, K, H), most recent first
        d_keys0 = d_keys_all[:K].flip(0).permute(2, 0, 1)
        d_values0 = d_values_all[:K].flip(0).permute(2, 0, 1)
        return (
            None, d_xp_bt, dh.t(), dc.t(), d_window0, d_keys0, d_values0, None,
            None, d_weight_hq, d_weight_ag, d_weight_kv, d_bias_kv if ctx.has_bias else None,
            d_pos, *d_norm_params,
        )  # fmt: skip
