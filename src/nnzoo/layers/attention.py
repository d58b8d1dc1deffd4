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
    q = query.view(B, num_heads, 1, d)  # (B, N, 1, d)
    k = keys.view(B, K, num_heads, d).transpose(1, 2)  # (B, N, K, d)
    v = values.view(B, K, num_heads, d).transpose(1, 2)  # (B, N, K, d)
    scores = (q @ k.transpose(2, 3)) / math.sqrt(d)  # (B, N, 1, K)
    valid = torch.arange(K, device=keys.device)[None] < count[:, None]  # (B, K)
    valid = valid[:, None, None, :]  # (B, 1, 1, K)
    scores = scores.masked_fill(~valid, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1) * valid  # empty window -> all zeros
    return (weights @ v).reshape(B, D)  # (B, D)
