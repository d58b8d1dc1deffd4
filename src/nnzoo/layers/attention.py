r"""Multi-head scaled dot-product attention of one query over a window of K entries.

.. math::
    a = \mathrm{concat}_n \Big( \sum_k \mathrm{softmax}_k
        \big(q_n \cdot k_{n,k} / \sqrt{d}\big)\, v_{n,k} \Big)

with q (B, D) split into N heads of width d = D / N. Only the first ``count`` entries of the
window are valid; a window with no valid entry attends to nothing and returns zeros.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def window_attention(
    query: Tensor, keys: Tensor, values: Tensor, count: Tensor, num_heads: int
) -> Tensor:
    """query (B, D), keys/values (B, K, D), count (B,) long -> attended values (B, D)."""
    B, K, D = keys.shape
    d = D // num_heads
    # Broadcast products instead of batched matmuls: with heads of a few features and windows of
    # tens of entries, (B * N) tiny matmuls cost more than one elementwise pass over (B, K, D).
    q = query.view(B, 1, num_heads, d)  # (B, 1, N, d)
    scores = (q * keys.view(B, K, num_heads, d)).sum(-1) / math.sqrt(d)  # (B, K, N)
    valid = (torch.arange(K, device=keys.device)[None] < count[:, None])[:, :, None]  # (B, K, 1)
    scores = scores.masked_fill(~valid, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=1) * valid  # (B, K, N); an empty window -> all zeros
    a = (weights[..., None] * values.view(B, K, num_heads, d)).sum(1)  # (B, N, d)
    return a.reshape(B, D)
