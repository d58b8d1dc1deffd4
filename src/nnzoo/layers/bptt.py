r"""Hand-written backpropagation through time for ``peephole-lstm``, and what the scans share.

The scan builds an autograd graph of a dozen small ops per step; at small H their per-op cost,
not arithmetic, bounds the speed. A hand-written scan runs the forward loop without a graph,
keeps the gates it needs, and runs the backward loop by hand: a few elementwise ops and one
matmul per step, the weight gradients taken once over all steps as one matmul. Each one
computes exactly its cell's ``recur``; the cells' tests prove it against the step-by-step loop
and against finite differences.

They share the packed layout of ``nnzoo.layers.schedule`` (a step works on the sequences
still running at it, so variable lengths cost no masks), the matrix products of
``nnzoo.layers.gemm``, and one trick: ``tanh(x) = 2 sigmoid(2x) - 1``, as tanh costs three
times a sigmoid on CPU, with the doubling of x folded into the weights where it can be.

``PeepholeLSTMScan``, per step (xp_t = W x_t + b is hoisted by the caller):

.. math::
    z &= xp_t + U h_{t-1}, \quad
    i = \sigma(z_i + P_u c_{t-1}), \quad f = \sigma(z_f + P_f c_{t-1}), \quad
    g = \tanh(z_g) \\
    c_t &= f \odot c_{t-1} + i \odot g, \quad o = \sigma(z_o + P_o c_t), \quad
    h_t = o \odot \tanh(c_t)

with P_u, P_f, P_o diagonal (rows of ``weight_ch`` (3, H), products elementwise) or full
(``weight_ch`` (3H, H)), or absent (P = None): the plain LSTM, ``lstm``'s scan.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from nnzoo.layers.gemm import gram, linear, linear_add
from nnzoo.layers.schedule import Schedule, needs_graph, running_rows


def _peephole_forward(xp, h0, c0, U, P, schedule: Schedule, diagonal: bool, save: bool):
    """The forward loop. xp (B, T, 4H); h0, c0 (B, H) sorted. Packed results: outputs (N, H),
    and if ``save``, what the backward reads: [i, f, g, o, sigmoid(2 c)] (N, 5H), c (N, H),
    tanh c (N, H) and o (1 - tanh^2 c) (N, H)."""
    H = h0.shape[1]
    N, split = schedule.rows, schedule.split
    if P is None:
        pass  # a plain LSTM
    elif diagonal:
        p_u, p_f, p_o = P.unbind(0)  # (H,) each
    else:
        p_uf, p_o = P[: 2 * H].contiguous(), P[2 * H :].contiguous()  # (2H, H), (H, H)
    U2 = U.clone()
    U2[2 * H : 3 * H] *= 2  # z_g doubled for tanh(z_g) = 2 sigmoid(2 z_g) - 1
    xp_rows = schedule.pack(xp)  # (N, 4H)
    X, X_g = split(xp_rows), split(xp_rows[:, 2 * H : 3 * H])
    G = xp.new_empty(N, 5 * H)
    G4, G_i, G_f, G_g, G_ifg, G_o, G_s, G_os = schedule.blocks(
        G, H, (0, 4), (0, 1), (1, 2), (2, 3), (0, 3), (3, 4), (4, 5), (3, 5)
    )
    out, cells, tanhs = xp.new_empty(N, H), xp.new_empty(N, H), xp.new_empty(N, H)
    O, C, TC = split(out), split(cells), split(tanhs)
    if save:
        slopes = xp.new_empty(N, H)
        K = split(slopes)
    constants = schedule.constants(xp, H, -1.0, 2.0)
    h, c = h0, c0
    for t, n in schedule.walk():
        h, c = running_rows(n, h, c)
        minus_one, two = constants[n]
        linear_add(h, U2, X[t], out=G4[t])
        G_g[t].add_(X_g[t])  # 2 z_g
        if P is None:
            pass
        elif diagonal:
            G_i[t].addcmul_(c, p_u)
            G_f[t].addcmul_(c, p_f)
        else:
            G_ifg[t][:, : 2 * H].add_(linear(c, p_uf))
        G_ifg[t].sigmoid_()
        g = torch.addcmul(minus_one, G_g[t], two, out=G_g[t])  # tanh(z_g)
        c = torch.mul(G_f[t], c, out=C[t]).addcmul_(G_i[t], g)  # c_t
        if P is None:
            pass
        elif diagonal:
            G_o[t].addcmul_(c, p_o)
        else:
            G_o[t].add_(linear(c, p_o))
        torch.add(c, c, out=G_s[t])
        G_os[t].sigmoid_()  # o and sigmoid(2 c_t)
        tc = torch.addcmul(minus_one, G_s[t], two, out=TC[t])  # tanh(c_t)
        h = torch.mul(G_o[t], tc, out=O[t])
        if save:
            torch.addcmul(G_o[t], h, tc, value=-1, out=K[t])  # dh_t / dc_t = o (1 - tanh^2)
    saved = (G, cells, tanhs, slopes) if save else None
    return out, cells, saved


class PeepholeLSTMScan(torch.autograd.Function):
    """xp (B, T, 4H), h0, c0 (B, H), U (4H, H), P -> outputs (B, T, H), h_T, c_T."""

    @staticmethod
    def forward(ctx, xp, h0, c0, U, P, schedule: Schedule, diagonal: bool):
        h0s, c0s = schedule.sort(h0), schedule.sort(c0)
        out, cells, saved = _peephole_forward(xp, h0s, c0s, U, P, schedule, diagonal, True)
        ctx.save_for_backward(U, P)
        ctx.peephole = P is not None
        ctx.h0s, ctx.c0s, ctx.out, ctx.saved = h0s, c0s, out, saved
        ctx.schedule, ctx.diagonal = schedule, diagonal
        return schedule.unpack(out), schedule.last(out), schedule.last(cells)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT, d_cT):
        U, P = ctx.saved_tensors
        schedule, split = ctx.schedule, ctx.schedule.split
        peephole, diagonal = ctx.peephole, ctx.diagonal and ctx.peephole
        G, cells, tanhs, slopes = ctx.saved
        h0s, c0s = ctx.h0s, ctx.c0s
        B, H = h0s.shape
        running = schedule.running
        A4, A_i, A_f, A_g = schedule.blocks(G, H, (0, 4), (0, 1), (1, 2), (2, 3))
        C, TC, K = split(cells), split(tanhs), split(slopes)
        dZ = G.new_empty(schedule.rows, 4 * H)
        dZ4, dZ_i, dZ_f, dZ_g, dZ_ifg, dZ_o = schedule.blocks(
            dZ, H, (0, 4), (0, 1), (1, 2), (2, 3), (0, 3), (3, 4)
        )
        dO = None if d_out is None else split(schedule.pack(d_out))
        # dL/dh and dL/dc of each sorted row, carried back through time
        dh = h0s.new_zeros(B, H) if d_hT is None else schedule.sort(d_hT).clone()
        dc = h0s.new_zeros(B, H) if d_cT is None else schedule.sort(d_cT).clone()
        slope = G.new_empty(B, 4 * H)  # the activations' derivatives at one step
        one = G.new_ones(B, H)
        views = {n: (dh[:n], dc[:n], slope[:n], slope[:n, 2 * H : 3 * H], slope[:n, : 3 * H],
                     slope[:n, 3 * H :], one[:n]) for n in set(running)}  # fmt: skip
        if not peephole:
            pass
        elif diagonal:
            p_u, p_f, p_o = P.unbind(0)
            sums = G.new_zeros(B, 3 * H)  # per row: sums of dz_u c_{t-1}, dz_f c_{t-1}, dz_o c_t
            peeks = {n: (sums[:n, :H], sums[:n, H : 2 * H], sums[:n, 2 * H :]) for n in views}
        else:
            p_uf_t = P[: 2 * H].t().contiguous()  # (H, 2H)
            p_o_t = P[2 * H :].t().contiguous()
        U_t = U.t().contiguous()  # (H, 4H): dz U = linear(dz, U^T)
        T = schedule.seed_backward(dh, dO)
        for t in range(T - 1, -1, -1):
            n = running[t]
            dh_n, dc_n, D4, D_g, D_ifg, D_o, one_n = views[n]
            a, g = A4[t], A_g[t]
            c_prev = schedule.before(C, t, c0s)
            torch.addcmul(a, a, a, value=-1, out=D4)  # sigmoid' = s (1 - s)
            torch.addcmul(one_n, g, g, value=-1, out=D_g)  # tanh' = 1 - g^2
            dz_o = torch.mul(dh_n, TC[t], out=dZ_o[t]).mul_(D_o)
            dc_n.addcmul_(dh_n, K[t])  # dL/dc_t
            if not peephole:
                pass
            elif diagonal:
                dc_n.addcmul_(dz_o, p_o)
            else:
                dc_n.add_(linear(dz_o, p_o_t))
            torch.mul(dc_n, g, out=dZ_i[t])
            torch.mul(dc_n, c_prev, out=dZ_f[t])
            torch.mul(dc_n, A_i[t], out=dZ_g[t])
            dZ_ifg[t].mul_(D_ifg)
            if not peephole:
                dc_n.mul_(A_f[t])  # dL/dc_{t-1}
            elif diagonal:
                s_u, s_f, s_o = peeks[n]
                s_u.addcmul_(dZ_i[t], c_prev)
                s_f.addcmul_(dZ_f[t], c_prev)
                s_o.addcmul_(dz_o, C[t])
                dc_n.mul_(A_f[t]).addcmul_(dZ_i[t], p_u).addcmul_(dZ_f[t], p_f)  # dL/dc_{t-1}
            else:
                dc_n.mul_(A_f[t]).add_(linear(dZ4[t][:, : 2 * H], p_uf_t))
            # dL/dh_{t-1}: through z, plus the output gradient at t - 1
            d_next = schedule.output_gradient(dh, dO, t)
            if t > 0 or ctx.needs_input_grad[1]:  # dL/dh_0 only if h_0 needs it
                linear_add(dZ4[t], U_t, d_next, out=dh_n)
        dU = gram(dZ, schedule.previous(ctx.out, h0s))
        if not peephole:
            dP = None
        elif diagonal:
            dP = sums.sum(0).view(3, H)
        else:
            c_prev_all = schedule.previous(cells, c0s)
            dP = torch.cat([gram(dZ[:, : 2 * H], c_prev_all), gram(dZ[:, 3 * H :], cells)])
        dxp = schedule.unpack(dZ)
        dh0 = schedule.unsort(dh) if ctx.needs_input_grad[1] else None
        return dxp, dh0, schedule.unsort(dc), dU, dP, None, None


def peephole_lstm_scan(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    U: Tensor,
    P: Tensor | None,
    lengths: Tensor | None,
    diagonal: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """The whole sequence: outputs (B, T, H), h_T, c_T (each sequence's own last step)."""
    schedule = Schedule(lengths, xp.shape[0], xp.shape[1])
    if needs_graph(xp, h0, c0, U, P):
        return PeepholeLSTMScan.apply(xp, h0, c0, U, P, schedule, diagonal)
    out, cells, _ = _peephole_forward(
        xp, schedule.sort(h0), schedule.sort(c0), U, P, schedule, diagonal, save=False
    )
    return schedule.unpack(out), schedule.last(out), schedule.last(cells)
