"""``deeper``: two convolution blocks with batch norm, then three linear layers.

    a_1 = maxpool_2(relu(bn(conv_3x3,pad 1(x))))      (B, 32, H/2, W/2)
    a_2 = maxpool_2(relu(bn(conv_3x3,no pad(a_1))))   (B, 64, (H/2 - 2)/2, (W/2 - 2)/2)
    h_1 = dropout_0.25(W_1 flatten(a_2) + b_1)         (B, 600)
    h_2 = W_2 h_1 + b_2                                 (B, 120)
    logits = W_3 h_2 + b_3                              (B, num_classes)

(Divisions round down; the linear layers have no activation between them, as in the original.)
On 28x28 images and 10 classes a_2 is (B, 64, 6, 6), flattened 2304, and the parameters are
conv 320 + bn 64 + conv 18,496 + bn 128 + 1,383,000 + 72,120 + 1,210 = 1,475,338.
Modules: ``features`` = Sequential(Conv2d, BatchNorm2d, ReLU, MaxPool2d) * 2,
``classifier`` = Sequential(Flatten, Linear, Dropout, Linear, ..., Linear).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.models.image import ImageModel, InputShapeError, check_dropout, check_widths


@MODELS.register("deeper")
class Deeper(ImageModel):
    """Conv-BN-ReLU-pool twice, then linear layers with dropout after the first.

    Args:
        input_shape: (H, W) or (C, H, W) of one example; H and W at least 8.
        num_classes: width of the output.
        channels: output channels of the two convolutions.
        hidden: widths of the linear layers before the head.
        dropout: after the first linear layer; 0 for none.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int] = (32, 64),
        hidden: Sequence[int] = (600, 120),
        dropout: float = 0.25,
    ) -> None:
        super().__init__(input_shape, num_classes)
        c1, c2 = check_two("channels", channels)
        hidden = check_widths("hidden", hidden, allow_empty=True)
        p = check_dropout("dropout", dropout)
        C, H, W = self.input_shape
        h, w = (H // 2 - 2) // 2, (W // 2 - 2) // 2
        if h < 1 or w < 1:
            raise InputShapeError(
                f"input {H}x{W} is too small for model 'deeper': after its pools and unpadded "
                "convolution nothing is left; expected images of at least 8x8"
            )
        self.features = nn.Sequential(
            nn.Conv2d(C, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        layers: list[nn.Module] = [nn.Flatten()]
        width = c2 * h * w
        for i, n in enumerate(hidden):
            layers.append(nn.Linear(width, n))
            if i == 0 and p > 0:
                layers.append(nn.Dropout(p))
            width = n
        layers.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, H, W) or (B, C, H, W) -> logits (B, num_classes)."""
        a = self.features(self.images(x, lengths))  # (B, 64, h, w)
        return self.classifier(a)


def check_two(name: str, widths: Sequence[int]) -> tuple[int, int]:
    widths = check_widths(name, widths)
    if len(widths) != 2:
        raise ConfigError(f"{name}={list(widths)!r}: expected two widths, one per convolution")
    return widths  # type: ignore[return-value]
