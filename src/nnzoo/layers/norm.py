"""Batch normalisation for recurrent steps, with statistics per time step.

Recurrent batch normalisation (Cooijmans et al. 2016) keeps separate population statistics for
each time step t < ``max_length``; later steps reuse the last ones. The affine parameters
(gamma, beta) are shared over time. In training, the batch statistics at a step are taken over
the sequences still running (``mask``), so padding never leaks into them, and only that step's
population statistics move, with those sequences' statistics; a step where no sequence runs
leaves them as they were.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.cells.base import check_positive_int


class TimeBatchNorm(nn.Module):
    """BN over (B, F) at step ``t`` (B,), with population statistics per step.

    Args:
        num_features: F.
        max_length: number of time steps with their own statistics (1: one set for all steps).
        gamma: initial scale (Cooijmans et al. recommend 0.1).
        shift: learn a shift beta (False where a separate bias follows).
        eps: added to the variance.
        momentum: running-average factor, as in torch.nn.BatchNorm1d.
    """

    def __init__(
        self,
        num_features: int,
        max_length: int = 1,
        gamma: float = 0.1,
        shift: bool = True,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.max_length = check_positive_int("max_length", max_length)
        self.gamma_init, self.eps, self.momentum = gamma, eps, momentum
        self.weight = nn.Parameter(torch.empty(num_features))
        self.bias = nn.Parameter(torch.empty(num_features)) if shift else None
        self.register_buffer("running_mean", torch.zeros(max_length, num_features))
        self.register_buffer("running_var", torch.ones(max_length, num_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.weight, self.gamma_init)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.running_mean.zero_()
        self.running_var.fill_(1.0)

    def forward(self, x: Tensor, t: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        """Normalise x (B, F) at steps t (B,) (default 0); mask (B, 1) marks running rows.

        In training without a mask every row is at one step. With a mask (the scan's masked
        loop) the statistics are those of the running rows, and the population statistics
        updated are those of the step the running rows are at (a sequence that has ended keeps
        the step where it ended, so row 0 may be behind); with no row running nothing moves.
        Rows outside the mask are normalised with the same statistics; the scan drops them.
        """
        if t is None:
            t = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        idx = t.clamp(max=self.max_length - 1)  # (B,)
        if self.training and mask is None and x.shape[0] > 1:
            # In a training batch every sequence is at the same step: one fused call normalises
            # and updates that step's population statistics in place (a view of row idx[0]).
            # Reading idx[0] on the host costs one device sync per call on a GPU.
            row = int(idx[0])
            return F.batch_norm(
                x, self.running_mean[row], self.running_var[row], self.weight, self.bias,
                True, self.momentum, self.eps,
            )  # fmt: skip
        if self.training:
            if mask is None:
                n = x.new_tensor(float(x.shape[0]))
                mean = x.mean(0)  # (F,)
                var = (x - mean).pow(2).mean(0)
                row = idx[:1]
                momentum = x.new_tensor(self.momentum)
            else:
                w = mask.to(x.dtype)  # (B, 1)
                n = w.sum()
                mean = (w * x).sum(0) / n.clamp(min=1.0)
                var = (w * (x - mean).pow(2)).sum(0) / n.clamp(min=1.0)
                # the step of the running rows (-1, then 0 with no update, when none runs)
                row = torch.where(mask[:, 0], idx, -1).amax().clamp(min=0)[None]
                momentum = (n > 0).to(x.dtype) * self.momentum
            with torch.no_grad():
                unbiased = var * n / (n - 1).clamp(min=1.0)
                m = momentum.detach()
                # through .data, as F.batch_norm updates them: a graph of an earlier forward
                # that saved a view of the statistics (F.batch_norm does) stays valid
                running_mean, running_var = self.running_mean.data, self.running_var.data
                running_mean.index_copy_(
                    0, row, (1 - m) * running_mean.index_select(0, row) + m * mean[None]
                )
                running_var.index_copy_(
                    0, row, (1 - m) * running_var.index_select(0, row) + m * unbiased[None]
                )
        else:
            mean = self.running_mean[idx]  # (B, F)
            var = self.running_var[idx]
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"{self.num_features}, max_length={self.max_length}, gamma={self.gamma_init}"
