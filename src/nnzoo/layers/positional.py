r"""Positional encodings of the LARNN's attention window.

Position p = 1 is the most recent cell state, p = K the oldest. Two tables:

* `window_positional_encoding` (``positional_encoding="add"``, nnzoo's own): sin and cos
  features at power-of-two wavelengths 2, 4, ..., 2^m with m = ceil(log2 K) + 1, so 2^m >= 2K.
  It is not the published table: it has 2 (ceil(log2 K) + 1) features, and its first column,
  sin(2 pi p / 2) = sin(pi p), is 0 at every integer position (a dead feature, kept so that runs
  trained with it load and give the same numbers).
* `published_positional_encoding` (``positional_encoding="concat"``): the table of the LARNN's
  published code, with b = ceil(log2 4K) = ceil(log2 K) + 2 and 2b features,

  .. math::
      \mathrm{pe}(p) = \big[\cos(2\pi p / 2^i)\big]_{i = 1..b} \,\Vert\,
          \big[\sin(2\pi p / 2^i)\big]_{i = 2..b+1}

  (cos(pi p) = +-1 alternates, so no column is dead).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def num_positional_features(window: int) -> int:
    """2m features of nnzoo's table for a window of K = ``window`` states (m = ceil(log2 K) + 1)."""
    return 2 * (math.ceil(math.log2(window)) + 1) if window > 1 else 2


def window_positional_encoding(window: int, device=None, dtype=None) -> Tensor:
    """nnzoo's (K, 2m) table: row p-1 encodes position p (1 = most recent)."""
    m = num_positional_features(window) // 2
    position = torch.arange(1, window + 1, device=device, dtype=torch.float64)[:, None]  # (K, 1)
    wavelength = 2.0 ** torch.arange(1, m + 1, device=device, dtype=torch.float64)  # (m,)
    angle = 2 * math.pi * position / wavelength  # (K, m)
    table = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)  # (K, 2m)
    return table.to(dtype or torch.get_default_dtype())


def num_published_features(window: int) -> int:
    """2b features of the published table (b = ceil(log2 4K))."""
    return 2 * math.ceil(math.log2(4 * window))


def published_positional_encoding(window: int, device=None, dtype=None) -> Tensor:
    """The published (K, 2b) table: row p-1 encodes position p (1 = most recent)."""
    b = num_published_features(window) // 2
    position = torch.arange(1, window + 1, device=device, dtype=torch.float64)[:, None]  # (K, 1)
    i = torch.arange(1, b + 2, device=device, dtype=torch.float64)  # 1..b+1
    angle = 2 * math.pi * position / 2.0**i  # (K, b + 1)
    table = torch.cat([torch.cos(angle[:, :b]), torch.sin(angle[:, 1:])], dim=1)  # (K, 2b)
    return table.to(dtype or torch.get_default_dtype())
