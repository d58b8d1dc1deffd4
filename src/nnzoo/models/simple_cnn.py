"""``simple-cnn``: the small convnet of Chollet's "Building powerful image classification models
using very little data" (the Keras blog, 2016), the first model of the Dogs vs. Cats capstone.

Shape legend: B batch, C channels, H height, W width, K classes.

    block k (k = 0, 1, 2), width c_k = widths[k], valid 3x3 convolutions (no padding):
        a = relu(conv_3x3(a))          (B, c_k, H_k - 2, W_k - 2)
        a = maxpool_2(a)               (B, c_k, H_{k+1}, W_{k+1}),  H_{k+1} = (H_k - 2) // 2
    r = flatten(a)                     (B, D),  D = c_2 H_3 W_3
    z = dropout(relu(W_h r + b_h))     (B, dense)
    logits = W_o z + b_o               (B, K)

Parameters: each convolution 9 c_in c_out + c_out, the dense layer D * dense + dense, the
output dense * K + K. For 3 x 128 x 128 images (H_k: 128, 63, 30, 14; D = 64 * 14 * 14 =
12,544) and the default widths (32, 32, 64), dense 64:

    896 + 9,248 + 18,496 + 802,880 + 65 = 831,585   (K = 1, one sigmoid output)

(831,650 for K = 2). H_3 and W_3 must be at least 1: images of at least 22 x 22 for three
blocks.
Modules: ``features`` = Sequential of one Sequential per block, ``classifier`` = Sequential.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nnzoo.models import MODELS
from nnzoo.models.image import ImageModel, InputShapeError, check_dropout, check_widths


def pooled_size(n: int, blocks: int) -> int:
    """The side after ``blocks`` valid 3x3 convolutions, each followed by a 2x2 max-pool."""
    for _ in range(blocks):
        n = (n - 2) // 2
    return n


def smallest_size(blocks: int) -> int:
    """The smallest side that survives ``blocks`` blocks (22 for three)."""
    n = 1
    for _ in range(blocks):
        n = 2 * n + 2
    return n


@MODELS.register("simple-cnn")
class SimpleCNN(ImageModel):
    """Valid 3x3 convolutions + ReLU + 2x2 max-pool blocks, then Dense + ReLU + Dropout.

    Args:
        input_shape: (H, W) or (C, H, W) of one example; H and W at least 22 for three blocks.
        num_classes: width of the output (1 for a binary task's sigmoid).
        widths: output channels of each block, (32, 32, 64) in the blog post.
        dense: width of the hidden Linear + ReLU.
        dropout: before the last Linear; 0 for none.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (32, 32, 64),
        dense: int = 64,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(input_shape, num_classes)
        self.widths = check_widths("widths", widths)
        check_widths("dense", [dense])
        p = check_dropout("dropout", dropout)
        C, H, W = self.input_shape
        K = len(self.widths)
        h, w = pooled_size(H, K), pooled_size(W, K)
        if h < 1 or w < 1:
            raise InputShapeError(
                f"input {H}x{W} is too small for the {K} blocks of model 'simple-cnn' (each a "
                f"valid 3x3 convolution and a 2x2 pool); use images of at least "
                f"{smallest_size(K)}x{smallest_size(K)} or fewer widths"
            )
        blocks = []
        c_in = C
        for c_out in self.widths:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 3), nn.ReLU(), nn.MaxPool2d(2)))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        classifier: list[nn.Module] = [nn.Flatten(), nn.Linear(c_in * h * w, dense), nn.ReLU()]
        if p > 0:
            classifier.append(nn.Dropout(p))
        classifier.append(nn.Linear(dense, num_classes))
        self.classifier = nn.Sequential(*classifier)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, H, W) or (B, C, H, W) -> logits (B, num_classes)."""
        a = self.features(self.images(x, lengths))  # (B, c_2, H_3, W_3)
        return self.classifier(a)  # (B, K)
