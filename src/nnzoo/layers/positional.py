"""The LARNN paper's positional encoding of the attention window.

Position p = 1 is the most recent cell state, p = K the oldest. Each position gets sin and cos
features at power-of-two wavelengths 2, 4, ..., 2^m with 2^m >= 2K, so that every position in
the window has a distinct code and nearby positions have similar ones.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def num_positional_features(window: int) -> int:
    """2m features for a window of K = ``window`` states (m = ceil(log2 K) + 1)."""
    return 2 * (math.ceil(math.log2(window)) + 1) if window > 1 else 2


def window_positional_encoding(window: int, device=None, dtype=None) -> Tensor:
    """(K, 2m) table: row p-1 encodes position p (1 = most recent)."""
    m = num_positional_features(window) // 2
    position = torch.arange(1, window + 1, device=device, dtype=torch.float64)[:, None]  # (K, 1)
    wavelength = 2.0 ** torch.arange(1, m + 1, device=device, dtype=torch.float64)  # (m,)
    angle = 2 * math.pi * position / wavelength  # (K, m)
    table = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)  # (K, 2m)
    return table.to(dtype or torch.get_default_dtype())
