r"""Hand-written backpropagation through time for the LSTM with diagonal peepholes.

The scan builds an autograd graph of a dozen small ops per step; at small H their per-op cost,
not arithmetic, bounds the speed. This Function runs the forward loop without a graph, saves the
gates, and runs the backward loop by hand: a few fused elementwise ops and one matmul per step,
with the weight gradient of the recurrent matmul taken once over all steps as a single matmul.
It computes exactly ``peephole-lstm`` (``peephole="diagonal"``); tests check it against the scan
and against finite differences.

Forward, per step (xp_t = W x_t + b is hoisted by the caller):

.. math::
    z &= xp_t + U h_{t-1}, \quad
    i = \sigma(z_i + p_i \odot c_{t-1}), \quad f = \sigma(z_f + p_f \odot c_{t-1}), \quad
    g = \tanh(z_g) \\
    c_t &= f \odot c_{t-1} + i \odot g, \quad o = \sigma(z_o + p_o \odot c_t), \quad
    h_t = o \odot \tanh(c_t)
"""

from __future__ import annotations

import torch
from torch import Tensor


class DiagonalPeepholeLSTMScan(torch.autograd.Function):
    """xp (B, T, 4H), h0, c0 (B, H), U (4H, H), P (3, H) -> outputs (B, T, H), h_T, c_T."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, c0: Tensor, U: Tensor, P: Tensor):
        p_i, p_f, p_o = P.unbind(0)
        Ut = U.t()
        h, c = h0, c0
        hs, cs, tcs, gates = [], [], [], []
        for xp_t in xp.unbind(1):
            z = torch.addmm(xp_t, h, Ut)  # (B, 4H)
            zi, zf, zg, zo = z.chunk(4, 1)
            i = torch.sigmoid(torch.addcmul(zi, p_i, c))
            f = torch.sigmoid(torch.addcmul(zf, p_f, c))
            g = torch.tanh(zg.contiguous())
            c = torch.addcmul(f * c, i, g)
            o = torch.sigmoid(torch.addcmul(zo, p_o, c))
            tc = torch.tanh(c)
            h = o * tc
            gates.append(torch.cat([i, f, g, o], 1))
            hs.append(h)
            cs.append(c)
            tcs.append(tc)
        # time-major copies for the backward loop: contiguous slices per step
        h_tm, c_tm, tc_tm = torch.stack(hs), torch.stack(cs), torch.stack(tcs)  # (T, B, H)
        ctx.save_for_backward(h0, c0, U, P, h_tm, c_tm, tc_tm, torch.stack(gates))
        return h_tm.transpose(0, 1), h, c

    @staticmethod
    def backward(ctx, d_out: Tensor, d_hT: Tensor, d_cT: Tensor):
        h0, c0, U, P, h_tm, c_tm, tc_tm, gates = ctx.saved_tensors
        p_i, p_f, p_o = P.unbind(0)
        T, B, H = h_tm.shape
        dh = torch.zeros_like(h0) if d_hT is None else d_hT.clone()
        dc = torch.zeros_like(c0) if d_cT is None else d_cT.clone()
        d_out = None if d_out is None else d_out.transpose(0, 1).contiguous()  # (T, B, H)
        dz_all = torch.empty_like(gates)  # (T, B, 4H)
        for t in range(T - 1, -1, -1):
            i, f, g, o = gates[t].chunk(4, 1)
            tc = tc_tm[t]
            c_prev = c_tm[t - 1] if t > 0 else c0
            if d_out is not None:
                dh = dh + d_out[t]
            do = dh * tc * o * (1 - o)
            dc = dc + dh * o * (1 - tc * tc) + do * p_o
            di = dc * g * i * (1 - i)
            df = dc * c_prev * f * (1 - f)
            dg = dc * i * (1 - g * g)
            dz = dz_all[t]
            torch.cat([di, df, dg, do], 1, out=dz)  # (B, 4H)
            dc = dc * f + di * p_i + df * p_f
            dh = dz @ U  # (B, H)
        c_prev_all = torch.cat([c0[None], c_tm[:-1]])  # (T, B, H)
        dzi, dzf, _, dzo = dz_all.chunk(4, 2)
        dp = torch.stack([
            (dzi * c_prev_all).sum((0, 1)), (dzf * c_prev_all).sum((0, 1)),
            (dzo * c_tm).sum((0, 1)),
        ])  # fmt: skip
        h_prev = torch.cat([h0[None], h_tm[:-1]])  # (T, B, H)
        dU = dz_all.reshape(T * B, 4 * H).t() @ h_prev.reshape(T * B, H)  # (4H, H)
        return dz_all.transpose(0, 1), dh, dc, dU, dp
