"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28x28 grey images of 10 kinds of clothing.

Reads the four ORIGINAL idx files (``train-images-idx3-ubyte.gz`` and the rest, gzipped or not)
from a folder. Returns x (N, 28, 28) float32 in [0, 1]: row by row, each image is a sequence of
T = 28 steps of F = 28 pixels; `as_images` turns it into (N, 1, 28, 28) for convolutional
networks. `read_fashion_mnist` returns the 60000 training and the 10000 ``t10k`` test images;
the split (`nnzoo.data.splits`) then draws validation from the training images, by default the
``stratified`` policy: a seeded ``val_fraction`` of each class (1/12, 5000 images).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.files import read_bytes
from nnzoo.data.registry import DATASETS, DEFAULTS, DOWNLOADS, DatasetDefaults, RemoteFile
from nnzoo.data.splits import prepare
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


DEFAULTS["fashion-mnist"] = DatasetDefaults(
    "stratified", {"val_fraction": 1 / 12}, standardize=False
)


@DATASETS.register("fashion-mnist")
def read_fashion_mnist(source: Path) -> DataParts:
    """The training and ``t10k`` test images as sequences of image rows.

    Args:
        source: the folder holding the four idx files (``.gz`` or uncompressed).
    """
    source = Path(source).expanduser()
    if not source.is_dir():
        raise DataError(
            f"{source}: not a folder; expected the folder holding {FILES['train'][0]}.gz "
            "and the other three idx files"
        )
    return DataParts(
        "fashion-mnist",
        read_part(source, "train"),
        read_part(source, "test"),
        list(CLASS_NAMES),
        {
            "source": str(source),
            "layout": "rows as time steps: T = 28 rows of F = 28 pixels, scaled to [0, 1]",
        },
        rows="images",
    )


def load_fashion_mnist(source: Path, **options) -> DataSplits:
    """Fashion-MNIST as train / val / test: ``load_dataset("fashion-mnist", path=source)``.

    Args:
        source: the folder holding the four idx files (``.gz`` or uncompressed).
        **options: ``seed`` (draws the validation images), ``split`` and its options
            (``val_fraction``: share of the training images, per class, that validates, 1/12;
            0 turns validation off) and ``standardize_features`` (zero mean, unit variance per
            pixel column, fitted on the train part; off by default, the pixels are already in
            [0, 1]).
    """
    return prepare("fashion-mnist", source, **options)


def as_images(x: Tensor) -> Tensor:
    """(N, 28, 28) image rows -> (N, 1, 28, 28) one-channel images."""
    if x.dim() != 3:
        raise ConfigError(f"Expected (N, H, W) images, got shape {tuple(x.shape)}")
    return x.unsqueeze(1)


def read_part(source: Path, part: str) -> SequenceSet:
    """The ``train`` or ``test`` images (N, 28, 28) in [0, 1] with their labels."""
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
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255))  # (N, 28, 28)
    return SequenceSet(x, torch.from_numpy(labels.astype(np.int64)))


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
