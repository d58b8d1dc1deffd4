r"""Hand-written backpropagation through time for ``bn-lstm`` (recurrent batch normalisation).

Per step t, with xp_t = W_x x_t hoisted by the caller, each BN_t the per-step batch norm of
``nnzoo.layers.norm.TimeBatchNorm`` (statistics of the sequences running at t in training,
step t's population statistics in evaluation):

.. math::
    z &= \mathrm{BN}_t(xp_t; \gamma_x) + \mathrm{BN}_t(U h_{t-1}; \gamma_h) + b, \quad
    i, f, o = \sigma(z_i, z_f, z_o), \quad g = \tanh(z_g) \\
    c_t &= f \odot c_{t-1} + i \odot g, \quad
    h_t = o \odot \phi(\mathrm{BN}_t(c_t; \gamma_c, \beta_c))

Each batch norm is one ``torch.native_batch_norm`` call, which also moves that step's population
statistics in place exactly as the loop's ``F.batch_norm`` does, and its backward one
``native_batch_norm_backward`` call: the op count per step stays that of a plain LSTM plus three.
A step with a single running sequence takes the loop's own formula (variance 0; the fused
kernel would divide by n - 1 = 0 for the population variance).

The layout, the products and ``tanh(x) = 2 sigmoid(2x) - 1`` are those of ``nnzoo.layers.bptt``;
here the doubling rides on the batch norms' scales and shifts.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from nnzoo.layers.gemm import gram, linear_add
from nnzoo.layers.schedule import Schedule, needs_graph, running_rows

_NORM_BACKWARD = torch.ops.aten.native_batch_norm_backward


class Norms(NamedTuple):
    """What the scan needs of the cell's three TimeBatchNorm modules, besides their weights."""

    running: tuple[tuple[Tensor, Tensor], ...]  # (mean, var) buffers (L, F) of bn_x, bn_h, bn_c
    training: bool
    momentum: float
    eps: float
    first: int  # the time index of the first step (the state's step counter)
    elu: bool  # phi is ELU (else tanh)


def batch_norm_step(x, weight, bias, mean, var, norms: Norms, out, save_mean, save_invstd):
    """``torch.native_batch_norm`` of x (n, F), or (1, F, n) for features-major data, into
    ``out`` (and, in training, the batch statistics into ``save_mean``, ``save_invstd`` (F,));
    a single training row (n, F) = (1, F) gets the loop's answer (``TimeBatchNorm``: variance
    0, the population variance moved towards 0)."""
    training, momentum, eps = norms.training, norms.momentum, norms.eps
    if not training:
        empty = x.new_empty(0)
        return torch.native_batch_norm(
            x, weight, bias, mean, var, False, momentum, eps, out=(out, empty, empty)
        )[0]
    if x.numel() > x.shape[1]:  # more than one row per feature
        return torch.native_batch_norm(
            x, weight, bias, mean, var, True, momentum, eps, out=(out, save_mean, save_invstd)
        )[0]
    save_mean.copy_(x[0])
    save_invstd.fill_(eps).rsqrt_()
    torch.mul(x - save_mean, save_invstd * weight, out=out)
    if bias is not None:
        out.add_(bias)
    mean.mul_(1 - momentum).add_(save_mean, alpha=momentum)
    var.mul_(1 - momentum)
    return out


def batch_norm_step_backward(dy, x, weight, mean, var, save_mean, save_invstd, norms, sums):
    """dx of ``native_batch_norm_backward``; dweight and dbias into ``sums`` (F,) each."""
    if norms.training:
        grads = _NORM_BACKWARD(dy, x, weight, mean, var, save_mean, save_invstd, True,
                               norms.eps, [True, True, sums[1] is not None])  # fmt: skip
    else:
        grads = _NORM_BACKWARD(dy, x, weight, mean, var, None, None, False, norms.eps,
                               [True, True, sums[1] is not None])  # fmt: skip
    for s, g in zip(sums, grads[1:]):
        if s is not None:
            s.copy_(g)
    return grads[0]


def doubled_block(v: Tensor | None, H: int, block: int) -> Tensor | None:
    """v (kH,) with block ``block`` doubled: the gate fed to tanh(z) = 2 sigmoid(2z) - 1."""
    if v is None:
        return None
    v = v.clone()
    v[block * H : (block + 1) * H] *= 2
    return v


def _bn_lstm_forward(xp, h0, c0, U, weights, norms: Norms, schedule: Schedule, save: bool):
    """The forward loop. xp (B, T, 4H); h0, c0 (B, H) sorted. Packed results: outputs and cells
    (N, H), and if ``save`` what the backward reads: the packed xp, the gates [i, f, g, o]
    (N, 4H), phi (N, H), U h_{t-1} (N, 4H) and each step's batch statistics (T, 4H or H)."""
    gamma_x, gamma_h, b, gamma_c, beta_c = weights
    (mean_x, var_x), (mean_h, var_h), (mean_c, var_c) = norms.running
    H = h0.shape[1]
    N, T, split, last = schedule.rows, schedule.steps, schedule.split, mean_x.shape[0] - 1
    gamma_x2, gamma_h2, b2 = (doubled_block(v, H, 2) for v in (gamma_x, gamma_h, b))
    if norms.elu:
        gamma_c2, beta_c2 = gamma_c, beta_c
    else:  # the normalised cell state doubled, for tanh
        gamma_c2, beta_c2 = gamma_c * 2, None if beta_c is None else beta_c * 2
    U = U.contiguous()
    xp_rows = schedule.pack(xp)  # (N, 4H)
    X = split(xp_rows)
    G = xp.new_empty(N, 4 * H)
    hidden = []  # U h_{t-1} (n_t, 4H) per step
    out, cells, phis = xp.new_empty(N, H), xp.new_empty(N, H), xp.new_empty(N, H)
    G4, G_i, G_f, G_g, G_o = schedule.blocks(G, H, (0, 4), (0, 1), (1, 2), (2, 3), (3, 4))
    O, C, PHI = split(out), split(cells), split(phis)
    stats_4h, stats_h = xp.new_empty(4, T, 4 * H), xp.new_empty(2, T, H)  # means, 1/std
    MX, IX, MY, IY = (list(s) for s in stats_4h)
    MC, IC = (list(s) for s in stats_h)
    a_x, c_hat = xp.new_empty(schedule.batch, 4 * H), xp.new_empty(schedule.batch, H)
    scratch = {n: (a_x[:n], c_hat[:n]) for n in set(schedule.running)}
    constants = schedule.constants(xp, H, -1.0, 2.0)
    h, c = h0, c0
    for t, n in schedule.walk():
        h, c = running_rows(n, h, c)
        minus_one, two = constants[n]
        a_x_n, c_hat_n = scratch[n]
        row = min(norms.first + t, last)
        batch_norm_step(X[t], gamma_x2, None, mean_x[row], var_x[row], norms, a_x_n, MX[t], IX[t])
        y = linear_add(h, U)  # U h_{t-1} (n, 4H)
        if save:
            hidden.append(y)
        batch_norm_step(y, gamma_h2, b2, mean_h[row], var_h[row], norms, G4[t], MY[t], IY[t])
        G4[t].add_(a_x_n).sigmoid_()  # i, f, sigmoid(2 z_g), o
        g = torch.addcmul(minus_one, G_g[t], two, out=G_g[t])  # tanh(z_g)
        c = torch.mul(G_f[t], c, out=C[t]).addcmul_(G_i[t], g)  # c_t
        batch_norm_step(c, gamma_c2, beta_c2, mean_c[row], var_c[row], norms, c_hat_n, MC[t], IC[t])
        if norms.elu:
            phi = PHI[t].copy_(F.elu(c_hat_n))
        else:
            phi = torch.addcmul(minus_one, torch.sigmoid(c_hat_n, out=PHI[t]), two, out=PHI[t])
        h = torch.mul(G_o[t], phi, out=O[t])
    saved = (X, G, phis, hidden, stats_4h, stats_h) if save else None
    return out, cells, saved


class BNLSTMScan(torch.autograd.Function):
    """xp (B, T, 4H), h0, c0 (B, H), U (4H, H), gamma_x, gamma_h, b (4H), gamma_c, beta_c (H)
    -> outputs (B, T, H), h_T, c_T."""

    @staticmethod
    def forward(ctx, xp, h0, c0, U, gamma_x, gamma_h, b, gamma_c, beta_c, norms, schedule):
        weights = (gamma_x, gamma_h, b, gamma_c, beta_c)
        h0s, c0s = schedule.sort(h0), schedule.sort(c0)
        out, cells, saved = _bn_lstm_forward(xp, h0s, c0s, U, weights, norms, schedule, True)
        ctx.save_for_backward(U, gamma_x, gamma_h, gamma_c)
        ctx.h0s, ctx.c0s, ctx.out, ctx.cells, ctx.saved = h0s, c0s, out, cells, saved
        ctx.norms, ctx.schedule = norms, schedule
        ctx.has_b, ctx.has_beta = b is not None, beta_c is not None
        return schedule.unpack(out), schedule.last(out), schedule.last(cells)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT, d_cT):
        U, gamma_x, gamma_h, gamma_c = ctx.saved_tensors
        schedule, norms, split = ctx.schedule, ctx.norms, ctx.schedule.split
        X, G, phis, hidden, stats_4h, stats_h = ctx.saved
        (mean_x, var_x), (mean_h, var_h), (mean_c, var_c) = norms.running
        last = mean_x.shape[0] - 1
        h0s, c0s, cells = ctx.h0s, ctx.c0s, ctx.cells
        B, H = h0s.shape
        T, running = schedule.steps, schedule.running
        A4, A_i, A_f, A_g, A_o = schedule.blocks(G, H, (0, 4), (0, 1), (1, 2), (2, 3), (3, 4))
        C, PHI, Y = split(cells), split(phis), hidden
        MX, IX, MY, IY = (list(s) for s in stats_4h)
        MC, IC = (list(s) for s in stats_h)
        dO = None if d_out is None else split(schedule.pack(d_out))
        dh = h0s.new_zeros(B, H) if d_hT is None else schedule.sort(d_hT).clone()
        dc = h0s.new_zeros(B, H) if d_cT is None else schedule.sort(d_cT).clone()
        dXP, dY = [None] * T, [None] * T  # per step: dL/dxp_t, dL/d(U h_{t-1})
        d_4h = G.new_zeros(3, T, 4 * H)  # per step: dgamma_x, dgamma_h, db
        d_h = G.new_zeros(2, T, H)  # per step: dgamma_c, dbeta_c
        DGX, DGH, DB = (list(s) for s in d_4h)
        DGC, DBC = (list(s) for s in d_h)
        slope, dz = G.new_empty(B, 4 * H), G.new_empty(B, 4 * H)  # one step's
        d_chat, one = G.new_empty(B, H), G.new_ones(B, H)
        views = {n: (dh[:n], dc[:n], slope[:n], slope[:n, 2 * H : 3 * H], slope[:n, : 3 * H],
                     slope[:n, 3 * H :], dz[:n], dz[:n, :H], dz[:n, H : 2 * H],
                     dz[:n, 2 * H : 3 * H], dz[:n, : 3 * H], dz[:n, 3 * H :], d_chat[:n],
                     one[:n])
                 for n in set(running)}  # fmt: skip
        U_t = U.t().contiguous()  # (H, 4H): dy U = linear(dy, U^T)
        T = schedule.seed_backward(dh, dO)
        for t in range(T - 1, -1, -1):
            n = running[t]
            (dh_n, dc_n, D4, D_g, D_ifg, D_o, dz4, dz_i, dz_f, dz_g, dz_ifg, dz_o, d_chat_n,
             one_n) = views[n]  # fmt: skip
            row = min(norms.first + t, last)
            a, g, o, phi = A4[t], A_g[t], A_o[t], PHI[t]
            c_prev = schedule.before(C, t, c0s)
            torch.addcmul(a, a, a, value=-1, out=D4)  # sigmoid' = s (1 - s)
            torch.addcmul(one_n, g, g, value=-1, out=D_g)  # tanh' = 1 - g^2
            torch.mul(dh_n, phi, out=dz_o).mul_(D_o)  # dz_o
            torch.mul(dh_n, o, out=d_chat_n)  # dL/dBN(c_t)
            if norms.elu:
                d_chat_n.mul_(torch.where(phi > 0, one_n, phi + 1))  # elu' = 1, or elu + 1
            else:
                d_chat_n.mul_(torch.addcmul(one_n, phi, phi, value=-1))  # tanh' = 1 - phi^2
            d_c = batch_norm_step_backward(d_chat_n, C[t], gamma_c, mean_c[row], var_c[row], MC[t],
                                       IC[t], norms, (DGC[t], DBC[t]))  # fmt: skip
            dc_n.add_(d_c)  # dL/dc_t
            torch.mul(dc_n, g, out=dz_i)
            torch.mul(dc_n, c_prev, out=dz_f)
            torch.mul(dc_n, A_i[t], out=dz_g)
            dz_ifg.mul_(D_ifg)
            dc_n.mul_(A_f[t])  # dL/dc_{t-1}
            dY[t] = batch_norm_step_backward(dz4, Y[t], gamma_h, mean_h[row], var_h[row], MY[t],
                                         IY[t], norms, (DGH[t], DB[t]))  # fmt: skip
            dXP[t] = batch_norm_step_backward(dz4, X[t], gamma_x, mean_x[row], var_x[row], MX[t],
                                          IX[t], norms, (DGX[t], None))  # fmt: skip
            d_next = schedule.output_gradient(dh, dO, t)
            linear_add(dY[t], U_t, d_next, out=dh_n)  # dL/dh_{t-1}
        dU = gram(torch.cat(dY[:T]), schedule.previous(ctx.out, h0s))
        g_x, g_h, g_b = d_4h.sum(1)
        g_c, b_c = d_h.sum(1)
        g_b, b_c = g_b if ctx.has_b else None, b_c if ctx.has_beta else None
        dxp = schedule.unpack(torch.cat(dXP[:T]))
        return (
            dxp,
            schedule.unsort(dh),
            schedule.unsort(dc),
            dU,
            g_x,
            g_h,
            g_b,
            g_c,
            b_c,
            None,
            None,
        )


def bn_lstm_scan(xp, h0, c0, U, weights, norms: Norms, lengths: Tensor | None):
    """The whole sequence: outputs (B, T, H), h_T, c_T (each sequence's own last step)."""
    schedule = Schedule(lengths, xp.shape[0], xp.shape[1])
    if needs_graph(xp, h0, c0, U, *weights):
        return BNLSTMScan.apply(xp, h0, c0, U, *weights, norms, schedule)
    out, cells, _ = _bn_lstm_forward(
        xp, schedule.sort(h0), schedule.sort(c0), U, weights, norms, schedule, save=False
    )
    return schedule.unpack(out), schedule.last(out), schedule.last(cells)
