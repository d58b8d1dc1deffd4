"""``mlp``: a multilayer perceptron on flattened images (the Keras MNIST MLP by default).

    h_0 = flatten(x)                        (B, D), D = C * H * W
    h_l = dropout(act(W_l h_{l-1} + b_l))   l = 1..L, widths n_1..n_L
    logits = W_out h_L + b_out              (B, num_classes)

With the default widths (512, 512) on 28x28 images and 10 classes the parameters are
784*512 + 512 + 512*512 + 512 + 512*10 + 10 = 401,920 + 262,656 + 5,130 = 669,706.
Modules: ``layers`` = Sequential(Flatten, [Linear, act, (Dropout)] * L, Linear).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from nnzoo.cells.base import check_choice
from nnzoo.models import MODELS
from nnzoo.models.image import ImageModel, check_dropout, check_widths
from nnzoo.models.sequence_classifier import ACTIVATIONS


@MODELS.register("mlp")
class MLP(ImageModel):
    """Flatten, hidden Linear + activation (+ dropout) layers, a linear head.

    Args:
        input_shape: (H, W) or (C, H, W) of one example.
        num_classes: width of the output.
        widths: hidden widths, one Linear each.
        activation: relu, tanh, elu, gelu, sigmoid, leaky_relu or none.
        dropout: after every hidden activation; 0 for none.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int] = (512, 512),
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__(input_shape, num_classes)
        self.widths = check_widths("widths", widths)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        p = check_dropout("dropout", dropout)
        layers: list[nn.Module] = [nn.Flatten()]
        width = self.input_features
        for n in self.widths:
            layers += [nn.Linear(width, n), ACTIVATIONS[activation]()]
            if p > 0:
                layers.append(nn.Dropout(p))
            width = n
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, H, W) or (B, C, H, W) -> logits (B, num_classes)."""
        return self.layers(self.images(x, lengths))
