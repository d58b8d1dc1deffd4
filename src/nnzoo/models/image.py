"""What every image model shares: the input layout, its checks, and option checks.

Shape legend: B batch, C channels, H height, W width, D flattened features (C * H * W).

An image model is built for one per-example ``input_shape``, (H, W) for one-channel images
stored as rows (Fashion-MNIST's (N, 28, 28)) or (C, H, W). Its ``forward(x, lengths=None)``
takes x (B, H, W), read as one channel, or (B, C, H, W), and returns logits (B, num_classes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from nnzoo.errors import ConfigError

# a stand-in input for checking a config's names and options before the data is read
EXAMPLE_INPUT_SHAPE = (1, 28, 28)


class InputShapeError(ConfigError):
    """The input shape does not suit the model (too small for its pools, wrong rank)."""


def image_shape(input_shape: Sequence[int] | None) -> tuple[int, int, int]:
    """(H, W) or (C, H, W) -> (C, H, W), every size an integer >= 1."""
    if input_shape is None:
        raise InputShapeError(
            "input_shape=None: an image model needs the per-example shape, (H, W) or (C, H, W)"
        )
    shape = tuple(input_shape)
    if len(shape) not in (2, 3) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape
    ):
        raise InputShapeError(
            f"input_shape={shape!r}: expected (H, W) or (C, H, W) with sizes >= 1"
        )
    return (1, *shape) if len(shape) == 2 else shape  # type: ignore[return-value]


def check_widths(name: str, widths: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """A sequence of integers >= 1 (a TOML list or a tuple) as a tuple."""
    if isinstance(widths, int | str | bool) or not isinstance(widths, Sequence):
        raise ConfigError(f"{name}={widths!r}: expected a list of integers >= 1")
    widths = tuple(widths)
    if not widths and not allow_empty:
        raise ConfigError(f"{name}=[]: expected at least one integer >= 1")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ConfigError(f"{name}={list(widths)!r}: expected integers >= 1, got {w!r}")
    return widths


def check_dropout(name: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
        raise ConfigError(f"{name}={p!r}: expected a probability in [0, 1)")
    return float(p)


class ImageModel(nn.Module):
    """Base of the image models: owns ``input_shape`` (C, H, W) and the input check."""

    def __init__(self, input_shape: Sequence[int] | None, num_classes: int) -> None:
        super().__init__()
        self.input_shape = image_shape(input_shape)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes={num_classes!r}: expected an integer >= 1")
        self.num_classes = num_classes

    @property
    def input_features(self) -> int:
        """D = C * H * W."""
        return math.prod(self.input_shape)

    def images(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, H, W) or (B, C, H, W) -> (B, C, H, W), checked against ``input_shape``."""
        if lengths is not None:
            raise ConfigError(f"{type(self).__name__}: images have no lengths; pass lengths=None")
        C, H, W = self.input_shape
        if isinstance(x, Tensor) and x.dim() == 3 and C == 1:
            x = x.unsqueeze(1)  # rows as one channel
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (C, H, W):
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            also = f" or (B, {H}, {W})" if C == 1 else ""
            raise ConfigError(f"Expected input of shape (B, {C}, {H}, {W}){also}, got {got}")
        return x
