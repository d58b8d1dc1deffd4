"""``vgg``: VGG-style blocks of 3x3 convolutions, each block ending in a 2x2 max-pool.

    block k (k = 0..K-1), width c_k = width * 2^k, n_k = blocks[k] convolutions:
        a = relu(bn(conv_3x3,pad 1(a)))   n_k times     (B, c_k, H_k, W_k)
        a = maxpool_2(a)                                 (B, c_k, H_k / 2, W_k / 2)
    r = flatten(a)                         (B, c_{K-1} * H_K * W_K)
      | mean_{h,w} a                       global_pool: (B, c_{K-1})
    z = dropout(relu(W_h r + b_h))         head > 0: (B, head); head = 0: z = dropout(r)
    logits = W_o z + b_o                   (B, num_classes)

H_K = H // 2^K must be at least 1 (same for W). Parameters: each convolution
9 c_in c_out + c_out (+ 2 c_out with batch norm), the head D * head + head, the output
head * num_classes + num_classes.
Modules: ``features`` = Sequential of one Sequential per block, ``classifier`` = Sequential.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nnzoo.cells.base import check_bool
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.models.image import ImageModel, InputShapeError, check_dropout, check_widths


@MODELS.register("vgg")
class VGG(ImageModel):
    """Conv blocks that halve the image and double the width, then a classifier head.

    Args:
        input_shape: (H, W) or (C, H, W) of one example; H and W at least 2^len(blocks).
        num_classes: width of the output.
        blocks: convolutions per block, e.g. (2, 2) for two blocks of two.
        width: output channels of the first block; doubled by every further block.
        batch_norm: BatchNorm2d after every convolution.
        head: width of the hidden Linear + ReLU of the classifier; 0 for none.
        dropout: before the last Linear; 0 for none.
        global_pool: average each channel over the image instead of flattening it.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        blocks: Sequence[int] = (2, 2),
        width: int = 32,
        batch_norm: bool = True,
        head: int = 256,
        dropout: float = 0.5,
        global_pool: bool = False,
    ) -> None:
        super().__init__(input_shape, num_classes)
        self.blocks = check_widths("blocks", blocks)
        check_widths("width", [width])
        if isinstance(head, bool) or not isinstance(head, int) or head < 0:
            raise ConfigError(f"head={head!r}: expected a width >= 1, or 0 for none")
        check_bool("batch_norm", batch_norm)
        check_bool("global_pool", global_pool)
        p = check_dropout("dropout", dropout)
        C, H, W = self.input_shape
        K = len(self.blocks)
        if H >> K < 1 or W >> K < 1:
            raise InputShapeError(
                f"input {H}x{W} is too small for {K} blocks of model 'vgg': each block halves "
                f"it; use at most {min(H, W).bit_length() - 1} blocks or larger images"
            )
        features = []
        c_in = C
        for k, n in enumerate(self.blocks):
            c_out = width * 2**k
            layers: list[nn.Module] = []
            for _ in range(n):
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU())
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
            features.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*features)
        if global_pool:
            classifier: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            d = c_in
        else:
            classifier = [nn.Flatten()]
            d = c_in * (H >> K) * (W >> K)
        if head:
            classifier += [nn.Linear(d, head), nn.ReLU()]
            d = head
        if p > 0:
            classifier.append(nn.Dropout(p))
        classifier.append(nn.Linear(d, num_classes))
        self.classifier = nn.Sequential(*classifier)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, H, W) or (B, C, H, W) -> logits (B, num_classes)."""
        a = self.features(self.images(x, lengths))  # (B, c_{K-1}, H_K, W_K)
        return self.classifier(a)
