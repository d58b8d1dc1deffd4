r"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28x28 grey images of 10 kinds of clothing.

Reads the four ORIGINAL idx files (``train-images-idx3-ubyte.gz`` and the rest, gzipped or not)
from a folder. Returns x (N, 28, 28) float32 in [0, 1], the files' bytes b as

.. math::
    x_{n,h,w} = b_{n,h,w} / 255,

row by row: each image is a sequence of T = 28 steps of F = 28 pixels; `as_images` turns it
into (N, 1, 28, 28) for convolutional networks. `read_fashion_mnist` returns the 60000 training
and the 10000 ``t10k`` test images.

Validation: the reader draws it from the training images itself, a seeded stratified
``val_fraction`` of each class (1/12, 5000 images; `nnzoo.data.splits.split_random` with
``seed``, ``data.split_seed``), and its split policy is ``given``, so that augmentation reaches
the training part only. These are the very rows the ``stratified`` policy drew from the
training images before. The policies ``stratified``, ``random`` and ``kfold`` still work without
``augment``: they re-split the union of the training and validation images (the training rows
first, so their draws differ from those of the file's order); with ``augment`` they are refused.

Augmentation (``augment``, parsed by `nnzoo.data.augment.augmentation`, e.g.
``{hflip = 0.5, crop = [0.85, 1.0]}``; its ``color`` shifts the one grey channel): the training
part becomes an `nnzoo.data.images.ImageSet` of an `nnzoo.data.images.ImageTensor` holding the
idx bytes as uint8 (N, 1, 28, 28), whose batches are the exact b / 255, augmented while
autograd records (`nnzoo.engine.fit`'s training batches); every evaluation runs under
``torch.no_grad`` and sees the plain images. The validation and test parts are the same
uint8 images with no augmentation: their batches hold exactly the values of the (N, 28, 28)
rows without ``augment``, with the channel axis. The image names (``ImageSet.names``) are
the rows of the idx files. The image models take both layouts; the sequence models read rows,
not augmented images, and ``standardize_features`` does not apply to them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.augment import augmentation
from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.files import read_bytes
from nnzoo.data.images import ImageSet, ImageTensor
from nnzoo.data.registry import DATASETS, DEFAULTS, DOWNLOADS, DatasetDefaults, RemoteFile
from nnzoo.data.splits import check_fraction, check_shares, prepare, split_random
from nnzoo.errors import ConfigError

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
SIZE = 28
VAL_FRACTION = 1 / 12  # of each class of the training images: 5000 of 60000
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# the action of every message about a broken idx file
FRESH = "replace it with a fresh copy (`nnzoo data download fashion-mnist`)"

URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DOWNLOADS["fashion-mnist"] = tuple(
    RemoteFile(URL + name, name, sha256)
    for name, sha256 in (
        (
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    )
)


# the reader draws validation (so that augmentation reaches the training part only); the
# val_fraction here is where ``stratified`` and ``random`` start when asked for by name
DEFAULTS["fashion-mnist"] = DatasetDefaults(
    "given", {"val_fraction": VAL_FRACTION}, standardize=False
)


@DATASETS.register("fashion-mnist")
def read_fashion_mnist(
    source: Path,
    *,
    augment: dict[str, Any] | None = None,
    val_fraction: float = VAL_FRACTION,
    seed: int = 0,
) -> DataParts:
    """The training images, less a stratified validation share, and the ``t10k`` test images.

    Args:
        source: the folder holding the four idx files (``.gz`` or uncompressed).
        augment: the training part's augmentation (`nnzoo.data.augment.augmentation`); its
            images are then uint8 (N, 1, 28, 28) in an `nnzoo.data.images.ImageTensor`.
        val_fraction: share of each class of the training images that validates; 0: none.
        seed: draws the validation images (``data.split_seed``).
    """
    transform = augmentation(augment)
    check_fraction(val_fraction, source="data.options")
    source = Path(source).expanduser()
    if not source.is_dir():
        raise DataError(
            f"{source}: not a folder; expected the folder holding {FILES['train'][0]}.gz "
            "and the other three idx files"
        )
    (pixels, labels), test = read_part(source, "train"), read_part(source, "test")
    rows = "rows as time steps: T = 28 rows of F = 28 pixels, scaled to [0, 1]"
    info = {"source": str(source), "layout": rows}
    if transform is None:
        every = SequenceSet(pixels.float() / 255.0, labels)  # (N, 28, 28) in [0, 1]
        test_set = SequenceSet(test[0].float() / 255.0, test[1])
    else:  # the idx bytes as uint8 (N, 1, 28, 28); names: the rows of the files
        every = ImageSet(ImageTensor(pixels.unsqueeze(1)), labels)
        test_set = ImageSet(ImageTensor(test[0].unsqueeze(1)), test[1])
        info["layout"] = (
            "images (N, C, H, W) = (N, 1, 28, 28) stored uint8, batches float32 pixels / 255 "
            "in [0, 1]"
        )
        info["augment"] = f"{transform} (training batches only)"
    train, val = split_random(every, val_fraction, seed, source=str(source))
    if transform is not None:
        train = ImageSet(train.x.with_augment(transform), train.y)
    info["validation"] = f"a stratified {val_fraction:g} of the training images (seed {seed})"
    parts = DataParts(
        "fashion-mnist", train, test_set, list(CLASS_NAMES), info, val=val, rows="images"
    )
    check_shares(parts, len(every), train, val, val_fraction, " in any class")
    return parts


def load_fashion_mnist(source: Path, **options) -> DataSplits:
    """Fashion-MNIST as train / val / test: ``load_dataset("fashion-mnist", path=source)``.

    Args:
        source: the folder holding the four idx files (``.gz`` or uncompressed).
        **options: the reader's (``augment``, ``val_fraction``: share of the training images,
            per class, that validates, 1/12; 0 turns validation off), ``seed`` (draws the
            validation images), ``split`` and ``standardize_features`` (zero mean, unit
            variance per pixel column, fitted on the train part; off by default, the pixels are
            already in [0, 1]; not with ``augment``).
    """
    return prepare("fashion-mnist", source, **options)


def as_images(x: Tensor) -> Tensor:
    """(N, 28, 28) image rows -> (N, 1, 28, 28) one-channel images."""
    if x.dim() != 3:
        raise ConfigError(f"Expected (N, H, W) images, got shape {tuple(x.shape)}")
    return x.unsqueeze(1)


def read_part(source: Path, part: str) -> tuple[Tensor, Tensor]:
    """The ``train`` or ``test`` images' bytes (N, 28, 28) uint8 and labels (N,) int64."""
    images_name, labels_name = FILES[part]
    images_path, labels_path = find(source, images_name), find(source, labels_name)
    images = read_idx(images_path, IMAGES_MAGIC)
    if images.shape[1:] != (SIZE, SIZE):
        raise DataError(
            f"{images_path}: images of {images.shape[1]}x{images.shape[2]} pixels; "
            f"expected {SIZE}x{SIZE}"
        )
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: {len(labels)} labels but {images_path.name} has {len(images)} "
            f"images; {FRESH}"
        )
    if len(labels) and int(labels.max()) >= len(CLASS_NAMES):
        i = int(np.argmax(labels >= len(CLASS_NAMES)))
        raise DataError(
            f"{labels_path}: label {labels[i]} of image {i} is out of range; "
            f"expected 0..{len(CLASS_NAMES) - 1}"
        )
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def find(source: Path, name: str) -> Path:
    """``name.gz`` or ``name`` in ``source``."""
    for candidate in (source / f"{name}.gz", source / name):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{source / name}.gz: missing (also looked for {name}); run "
        "`nnzoo data download fashion-mnist` or put the four original idx files there"
    )


def read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx file of unsigned bytes: a big-endian magic number and dimensions, then the data."""
    raw = read_bytes(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{path}: {len(raw)} bytes, shorter than the {header}-byte idx header; "
            f"the file is truncated; {FRESH}"
        )
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(
            f"{path}: magic number 0x{found:08x}; expected 0x{magic:08x} (idx {kind} file)"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(dims))
    if len(raw) - header != size:
        problem = "the file is truncated" if len(raw) - header < size else "extra bytes at the end"
        raise DataError(
            f"{path}: {len(raw) - header} data bytes but the header promises "
            f"{' x '.join(map(str, dims))} = {size}; {problem}; {FRESH}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
