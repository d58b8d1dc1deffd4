r"""Hand-written backpropagation through time for ``gru-relevance`` (both forms) and ``gru``.

``gru`` (torch.nn's form, where the reset gate multiplies U_n h_{t-1} + b_hn after the product)
has its own loop, ``TorchGRUScan``, whose equations are in its docstring. For ``gru-relevance``:

Per step, with xp_t = W x_t + b hoisted by the caller and U = [U_u; U_r; U_c] the rows of
``weight_hh`` (U_r absent without the relevance gate):

.. math::
    \Gamma_u = \sigma(xp_u + U_u h_{t-1}), \quad
    \Gamma_r = \sigma(xp_r + U_r h_{t-1}), \quad
    \hat h = \tanh(xp_c + U_c (\Gamma_r \odot h_{t-1})), \quad
    h_t = h_{t-1} + \Gamma_u \odot (\hat h - h_{t-1})

(without the relevance gate, :math:`\hat h = \tanh(xp_c + U_c h_{t-1})`, and one product gives
all the gates). Backward, with :math:`\delta` = dL/dh_t:

.. math::
    dz_c = \delta \odot \Gamma_u \odot (1 - \hat h^2), \quad
    dz_u = \delta \odot (\hat h - h_{t-1}) \odot \Gamma_u (1 - \Gamma_u), \\
    \rho = U_c^\top dz_c, \quad dz_r = \rho \odot h_{t-1} \odot \Gamma_r (1 - \Gamma_r), \quad
    dL/dh_{t-1} = \delta \odot (1 - \Gamma_u) + \rho \odot \Gamma_r + U_{ur}^\top [dz_u, dz_r]

The layout, the products and ``tanh(x) = 2 sigmoid(2x) - 1`` are those of ``nnzoo.layers.bptt``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from nnzoo.layers.gemm import gram, linear, linear_add
from nnzoo.layers.schedule import Schedule, needs_graph, running_rows


def _gru_forward(xp, h0, U, schedule: Schedule, relevance: bool, save: bool):
    """The forward loop. xp (B, T, kH); h0 (B, H) sorted. Packed results: outputs (N, H) and,
    if ``save``, the gates [u, (r,) h-hat] (N, kH) and, with relevance, r * h_{t-1} (N, H)."""
    H = h0.shape[1]
    k = 3 if relevance else 2
    N, split = schedule.rows, schedule.split
    X = schedule.pack(xp)  # (N, kH)
    G = xp.new_empty(N, k * H)
    out = xp.new_empty(N, H)
    O, G_all = split(out), split(G)
    G_g, G_u, G_c = split(G[:, : (k - 1) * H]), split(G[:, :H]), split(G[:, (k - 1) * H :])
    if relevance:
        U_g = U[: 2 * H].contiguous()  # (2H, H): u, r
        U_c = U[2 * H :] * 2  # (H, H), doubled: tanh(z) = 2 sigmoid(2z) - 1
        X_g, X_c = split(X[:, : 2 * H]), split(X[:, 2 * H :])
        G_r = split(G[:, H : 2 * H])
        gated = xp.new_empty(N, H)
        RH = split(gated)
    else:
        U2 = U.clone()
        U2[H:] *= 2
        X_all, X_c = split(X), split(X[:, H:])
    constants = schedule.constants(xp, H, -1.0, 2.0)
    h = h0
    for t, n in schedule.walk():
        (h,) = running_rows(n, h)
        minus_one, two = constants[n]
        if relevance:
            linear_add(h, U_g, X_g[t], out=G_g[t])
            G_g[t].sigmoid_()  # u, r
            rh = torch.mul(G_r[t], h, out=RH[t])
            linear_add(rh, U_c, X_c[t], out=G_c[t], scale=2.0)  # 2 z_c
        else:
            linear_add(h, U2, X_all[t], out=G_all[t])
            G_c[t].add_(X_c[t])  # 2 z_c
            G_g[t].sigmoid_()
        G_c[t].sigmoid_()
        h_hat = torch.addcmul(minus_one, G_c[t], two, out=G_c[t])  # tanh(z_c)
        h = torch.lerp(h, h_hat, G_u[t], out=O[t])  # h + u (h_hat - h)
    saved = (G, gated if relevance else None) if save else None
    return out, saved


class GRUScan(torch.autograd.Function):
    """xp (B, T, kH), h0 (B, H), U (kH, H) -> outputs (B, T, H), h_T."""

    @staticmethod
    def forward(ctx, xp, h0, U, schedule: Schedule, relevance: bool):
        h0s = schedule.sort(h0)
        out, saved = _gru_forward(xp, h0s, U, schedule, relevance, True)
        ctx.save_for_backward(U)
        ctx.h0s, ctx.out, ctx.saved = h0s, out, saved
        ctx.schedule, ctx.relevance = schedule, relevance
        return schedule.unpack(out), schedule.last(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        (U,) = ctx.saved_tensors
        schedule, relevance, split = ctx.schedule, ctx.relevance, ctx.schedule.split
        G, gated = ctx.saved
        h0s, out = ctx.h0s, ctx.out
        B, H = h0s.shape
        k = 3 if relevance else 2
        running = schedule.running
        A_g, A_u, A_r, A_c = schedule.blocks(G, H, (0, k - 1), (0, 1), (1, 2), (k - 1, k))
        O = split(out)
        dZ = G.new_empty(schedule.rows, k * H)
        dZ_all, dZ_g, dZ_u, dZ_r, dZ_c = schedule.blocks(
            dZ, H, (0, k), (0, k - 1), (0, 1), (1, 2), (k - 1, k)
        )
        dO = None if d_out is None else split(schedule.pack(d_out))
        dh = h0s.new_zeros(B, H) if d_hT is None else schedule.sort(d_hT).clone()
        slope = G.new_empty(B, k * H)  # the activations' derivatives at one step
        carry = G.new_empty(B, H)
        one = G.new_ones(B, H)
        views = {n: (dh[:n], slope[:n, : (k - 1) * H], slope[:n, (k - 1) * H :], carry[:n],
                     one[:n]) for n in set(running)}  # fmt: skip
        if relevance:
            U_g_t = U[: 2 * H].t().contiguous()  # (H, 2H)
            U_c_t = U[2 * H :].t().contiguous()  # (H, H)
        else:
            U_t = U.t().contiguous()  # (H, 2H)
        T = schedule.seed_backward(dh, dO)
        for t in range(T - 1, -1, -1):
            n = running[t]
            dh_n, D_g, D_c, carry_n, one_n = views[n]
            u, h_hat, gates = A_u[t], A_c[t], A_g[t]
            h_prev = schedule.before(O, t, h0s)
            torch.addcmul(gates, gates, gates, value=-1, out=D_g)  # sigmoid' = s (1 - s)
            torch.addcmul(one_n, h_hat, h_hat, value=-1, out=D_c)  # tanh' = 1 - h_hat^2
            torch.mul(dh_n, u, out=dZ_c[t]).mul_(D_c)  # dz_c
            torch.sub(h_hat, h_prev, out=dZ_u[t]).mul_(dh_n)  # dL/du
            torch.addcmul(dh_n, dh_n, u, value=-1, out=carry_n)  # through h_{t-1} directly
            if relevance:
                rho = linear(dZ_c[t], U_c_t)  # dL/d(r * h_{t-1})
                torch.mul(rho, h_prev, out=dZ_r[t])  # dL/dr
                carry_n.addcmul_(rho, A_r[t])
            dZ_g[t].mul_(D_g)
            d_next = schedule.output_gradient(dh, dO, t)
            if d_next is not None:
                carry_n.add_(d_next)
            if relevance:
                linear_add(dZ_g[t], U_g_t, carry_n, out=dh_n)
            else:
                linear_add(dZ_all[t], U_t, carry_n, out=dh_n)
        h_prev_all = schedule.previous(out, h0s)
        if relevance:
            dU = torch.cat([gram(dZ[:, : 2 * H], h_prev_all), gram(dZ[:, 2 * H :], gated)])
        else:
            dU = gram(dZ, h_prev_all)
        return schedule.unpack(dZ), schedule.unsort(dh), dU, None, None


def gru_scan(
    xp: Tensor, h0: Tensor, U: Tensor, lengths: Tensor | None, relevance: bool
) -> tuple[Tensor, Tensor]:
    """The whole sequence: outputs (B, T, H) and h_T (each sequence's own last step)."""
    schedule = Schedule(lengths, xp.shape[0], xp.shape[1])
    if needs_graph(xp, h0, U):
        return GRUScan.apply(xp, h0, U, schedule, relevance)
    out, _ = _gru_forward(xp, schedule.sort(h0), U, schedule, relevance, save=False)
    return schedule.unpack(out), schedule.last(out)


def _torch_gru_forward(xp, h0, U, b, schedule: Schedule, save: bool):
    """The forward loop of ``gru`` (torch.nn's form). xp (B, T, 3H) = W x + b_ih; h0 (B, H)
    sorted; U (3H, H) rows r, z, n; b (3H,) = b_hh or None. Packed results: outputs (N, H) and,
    if ``save``, the gates [r, z, n] (N, 3H) and U h_{t-1} + b_hh (N, 3H), whose n block the
    backward reads."""
    H = h0.shape[1]
    N, split = schedule.rows, schedule.split
    X = schedule.pack(xp)  # (N, 3H)
    X_rz = split(X[:, : 2 * H])
    X_n2 = split(X[:, 2 * H :] * 2)  # doubled: tanh(a) = 2 sigmoid(2a) - 1
    G, out = xp.new_empty(N, 3 * H), xp.new_empty(N, H)
    # U h_{t-1} + b_hh, each step's rows summed onto the bias in place
    HP = xp.new_zeros(N, 3 * H) if b is None else b.expand(N, 3 * H).clone()
    G_rz, G_r, G_z, G_n = schedule.blocks(G, H, (0, 2), (0, 1), (1, 2), (2, 3))
    HP_all, HP_rz, HP_n = schedule.blocks(HP, H, (0, 3), (0, 2), (2, 3))
    O = split(out)
    constants = schedule.constants(xp, H, -1.0, 2.0)
    h = h0
    for t, n in schedule.walk():
        (h,) = running_rows(n, h)
        minus_one, two = constants[n]
        linear_add(h, U, HP_all[t], out=HP_all[t])
        torch.add(X_rz[t], HP_rz[t], out=G_rz[t]).sigmoid_()  # r, z
        torch.addcmul(X_n2[t], G_r[t], HP_n[t], value=2.0, out=G_n[t]).sigmoid_()
        n_t = torch.addcmul(minus_one, G_n[t], two, out=G_n[t])  # tanh(x_n + r (U_n h + b_n))
        h = torch.lerp(n_t, h, G_z[t], out=O[t])  # (1 - z) n + z h_{t-1}
    return out, ((G, HP) if save else None)


class TorchGRUScan(torch.autograd.Function):
    r"""``gru`` in torch.nn's form: xp (B, T, 3H), h0 (B, H), U (3H, H), b_hh (3H,) or None
    -> outputs (B, T, H), h_T.

    Backward, with :math:`\delta` = dL/dh_t and p = U h_{t-1} + b_hh:

    .. math::
        da_n = \delta \odot (1 - z) \odot (1 - n^2), \quad
        da_z = \delta \odot (h_{t-1} - n) \odot z (1 - z), \quad
        da_r = da_n \odot p_n \odot r (1 - r), \\
        dp = [da_r, da_z, da_n \odot r], \quad
        dL/dh_{t-1} = \delta \odot z + U^\top dp, \quad dxp = [da_r, da_z, da_n]
    """

    @staticmethod
    def forward(ctx, xp, h0, U, b, schedule: Schedule):
        h0s = schedule.sort(h0)
        out, saved = _torch_gru_forward(xp, h0s, U, b, schedule, True)
        ctx.save_for_backward(U)
        ctx.h0s, ctx.out, ctx.saved, ctx.schedule = h0s, out, saved, schedule
        ctx.has_bias = b is not None
        return schedule.unpack(out), schedule.last(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hT):
        (U,) = ctx.saved_tensors
        schedule, split = ctx.schedule, ctx.schedule.split
        G, HP = ctx.saved
        h0s, out = ctx.h0s, ctx.out
        B, H = h0s.shape
        running = schedule.running
        A_rz, A_r, A_z, A_n = schedule.blocks(G, H, (0, 2), (0, 1), (1, 2), (2, 3))
        (P_n,) = schedule.blocks(HP, H, (2, 3))
        O = split(out)
        dP = G.new_empty(schedule.rows, 3 * H)  # dL/dp: [da_r, da_z, da_n r]
        dA_n = G.new_empty(schedule.rows, H)  # dL/da_n
        dP_all, dP_rz, dP_r, dP_z, dP_n = schedule.blocks(
            dP, H, (0, 3), (0, 2), (0, 1), (1, 2), (2, 3)
        )
        dN = split(dA_n)
        dO = None if d_out is None else split(schedule.pack(d_out))
        dh = h0s.new_zeros(B, H) if d_hT is None else schedule.sort(d_hT).clone()
        slope = G.new_empty(B, 3 * H)  # the activations' derivatives at one step
        carry = G.new_empty(B, H)
        one = G.new_ones(B, H)
        views = {n: (dh[:n], slope[:n, : 2 * H], slope[:n, 2 * H :], carry[:n], one[:n])
                 for n in set(running)}  # fmt: skip
        U_t = U.t().contiguous()  # (H, 3H)
        T = schedule.seed_backward(dh, dO)
        for t in range(T - 1, -1, -1):
            n = running[t]
            dh_n, D_rz, D_n, carry_n, one_n = views[n]
            r, z, n_t, rz = A_r[t], A_z[t], A_n[t], A_rz[t]
            h_prev = schedule.before(O, t, h0s)
            torch.addcmul(rz, rz, rz, value=-1, out=D_rz)  # sigmoid' = s (1 - s)
            torch.addcmul(one_n, n_t, n_t, value=-1, out=D_n)  # tanh' = 1 - n^2
            torch.addcmul(dh_n, dh_n, z, value=-1, out=dN[t]).mul_(D_n)  # da_n
            torch.sub(h_prev, n_t, out=dP_z[t]).mul_(dh_n)  # dL/dz
            torch.mul(dN[t], P_n[t], out=dP_r[t])  # dL/dr
            dP_rz[t].mul_(D_rz)  # da_r, da_z
            torch.mul(dN[t], r, out=dP_n[t])
            torch.mul(dh_n, z, out=carry_n)  # through h_{t-1} directly
            d_next = schedule.output_gradient(dh, dO, t)
            if d_next is not None:
                carry_n.add_(d_next)
            if t > 0 or ctx.needs_input_grad[1]:  # dL/dh_0 only if h_0 needs it
                linear_add(dP_all[t], U_t, carry_n, out=dh_n)
        dU = gram(dP, schedule.previous(out, h0s))
        db = dP.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        dxp = torch.cat([dP[:, : 2 * H], dA_n], 1)
        dh0 = schedule.unsort(dh) if ctx.needs_input_grad[1] else None
        return schedule.unpack(dxp), dh0, dU, db, None


def torch_gru_scan(
    xp: Tensor, h0: Tensor, U: Tensor, b: Tensor | None, lengths: Tensor | None
) -> tuple[Tensor, Tensor]:
    """``gru`` over the whole sequence: outputs (B, T, H) and h_T (each sequence's own last
    step)."""
    schedule = Schedule(lengths, xp.shape[0], xp.shape[1])
    if needs_graph(xp, h0, U, b):
        return TorchGRUScan.apply(xp, h0, U, b, schedule)
    out, _ = _torch_gru_forward(xp, schedule.sort(h0), U, b, schedule, save=False)
    return schedule.unpack(out), schedule.last(out)
