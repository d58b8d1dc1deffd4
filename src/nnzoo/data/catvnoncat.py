r"""Cat vs non-cat (deeplearning.ai's "Logistic Regression with a Neural Network mindset").

Shape legend: N (the course's m) images, C = 3 channels (RGB), H = W = 64 pixels.

Reads the two ORIGINAL HDF5 files of the course from a folder, ``<data root>/catvnoncat/``:

========================  ==========================================================================
``train_catvnoncat.h5``   ``train_set_x`` (209, 64, 64, 3) uint8, ``train_set_y`` (209,) 0/1,
                          ``list_classes`` [b'non-cat', b'cat']
``test_catvnoncat.h5``    ``test_set_x`` (50, 64, 64, 3) uint8, ``test_set_y`` (50,) 0/1,
                          ``list_classes``
========================  ==========================================================================

`read_catvnoncat` returns x (N, 3, 64, 64) float32, the pixels / 255 in [0, 1], channels first
as nnzoo's image models take them (``mlp``, ``vgg``: ``input_shape`` (C, H, W)); labels 0 =
non-cat, 1 = cat, named by ``list_classes``. The course's own matrix is one call away:

.. math::
    X = \mathrm{flatten\_course}(x) \in [0, 1]^{12288 \times m}, \qquad
    X_{(h \cdot 64 + w) \cdot 3 + c,\ i} = \mathrm{train\_set\_x\_orig}[i, h, w, c] / 255

exactly ``train_set_x_orig.reshape(m, -1).T / 255.`` in float64: each column one image, its
pixels in the file's order H, W, C (the three colours of a pixel next to each other), not in
the (C, H, W) order of x. `read_course_arrays` gives the course's ``load_dataset()`` arrays.

The split (`nnzoo.data.splits`) draws validation from the 209 training images, by default the
``stratified`` policy with ``val_fraction`` 0.2, seeded (41 of them: 27 non-cats, 14 cats);
``val_fraction = 0`` trains on all 209 as the course does. The 50 test images stay the test
part. The pixels are not standardised (the course only divides by 255).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet
from nnzoo.data.registry import DATASETS, DEFAULTS, DatasetDefaults
from nnzoo.data.splits import prepare
from nnzoo.errors import ConfigError

SIZE = 64
CHANNELS = 3
FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}
CLASS_NAMES = ("non-cat", "cat")  # what the course's list_classes holds

DEFAULTS["catvnoncat"] = DatasetDefaults("stratified", {"val_fraction": 0.2})


def import_h5py() -> Any:
    """h5py, or a one-line error saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ConfigError(
            "reading catvnoncat's HDF5 files needs h5py; install it with `pip install h5py`"
        ) from None
    return h5py


def read_h5(path: Path, part: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One course file as it is: x (N, 64, 64, 3) uint8, y (N,) int64 in {0, 1}, class names.

    Args:
        path: ``train_catvnoncat.h5`` or ``test_catvnoncat.h5``.
        part: ``train`` or ``test``, the prefix of the file's datasets.
    """
    h5py = import_h5py()
    fresh = "get a fresh copy of the course's file"
    if not path.is_file():
        raise DataError(
            f"{path}: missing; put the course's {FILES['train']} and {FILES['test']} in "
            f"{path.parent} (or point --data-path at the folder holding them)"
        )
    if not h5py.is_hdf5(path):
        raise DataError(f"{path}: not an HDF5 file; {fresh}")
    names = {"x": f"{part}_set_x", "y": f"{part}_set_y", "classes": "list_classes"}
    try:
        with h5py.File(path, "r") as f:
            found = sorted(f.keys())
            missing = [name for name in names.values() if name not in f]
            if missing:
                raise DataError(
                    f"{path}: no dataset {', '.join(map(repr, missing))} (found: "
                    f"{', '.join(found) or 'none'}); expected {', '.join(names.values())}; "
                    f"{fresh}"
                )
            for name in names.values():
                if not isinstance(f[name], h5py.Dataset):
                    raise DataError(f"{path}: {name!r} is a group, not a dataset; {fresh}")
            x, y, classes = (f[name][()] for name in names.values())
    except (OSError, KeyError, RuntimeError) as e:
        raise DataError(f"{path}: cannot read it ({e}); the file is corrupt; {fresh}") from None
    x_name, y_name = names["x"], names["y"]
    shape = (SIZE, SIZE, CHANNELS)
    if x.ndim != 4 or x.shape[1:] != shape or x.dtype != np.uint8:
        raise DataError(
            f"{path}: {x_name} is {x.dtype} of shape {x.shape}; expected uint8 of shape "
            f"(N, {SIZE}, {SIZE}, {CHANNELS}); {fresh}"
        )
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(
            f"{path}: {y_name} is {y.dtype} of shape {y.shape}; expected integers of shape (N,); "
            f"{fresh}"
        )
    if len(y) != len(x):
        raise DataError(
            f"{path}: {y_name} has {len(y)} labels but {x_name} has {len(x)} images; {fresh}"
        )
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        raise DataError(
            f"{path}: {y_name}[{bad[0]}] is {y[bad[0]]}; expected 0 (non-cat) or 1 (cat); {fresh}"
        )
    if classes.ndim != 1 or len(classes) != 2 or classes.dtype.kind not in "SUO":
        raise DataError(
            f"{path}: list_classes is {classes.dtype} of shape {classes.shape}; expected two "
            f"names (b'non-cat', b'cat'); {fresh}"
        )
    try:
        class_names = [v.decode() if isinstance(v, bytes) else str(v) for v in classes]
    except UnicodeDecodeError:
        raise DataError(f"{path}: list_classes is not text; {fresh}") from None
    return x, y.astype(np.int64), class_names


def course_files(source: Path) -> dict[str, Path]:
    """The two files' paths in the folder ``source`` (or beside ``source``, one of them)."""
    source = Path(source).expanduser()
    if source.is_file() and source.name in FILES.values():
        source = source.parent  # one of the two files: the other is beside it
    if not source.is_dir():
        raise DataError(
            f"{source}: not a folder; expected the folder holding {FILES['train']} and "
            f"{FILES['test']}"
        )
    return {part: source / name for part, name in FILES.items()}


def read_course_arrays(
    source: Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays of the course's ``lr_utils.load_dataset()``, read from ``source``'s two files.

    Returns:
        ``train_set_x_orig`` (209, 64, 64, 3) uint8, ``train_set_y`` (1, 209),
        ``test_set_x_orig`` (50, 64, 64, 3) uint8, ``test_set_y`` (1, 50) and ``classes``
        (2,) bytes, as the course has them.
    """
    files = course_files(source)
    train_x, train_y, classes = read_h5(files["train"], "train")
    test_x, test_y, _ = read_h5(files["test"], "test")
    names = np.array([name.encode() for name in classes])
    return train_x, train_y[None, :], test_x, test_y[None, :], names


DTYPES = {"float32": torch.float32, "float64": torch.float64}


def to_images(x: np.ndarray, dtype: str = "float32") -> Tensor:
    """(N, H, W, C) uint8 as the files hold them -> (N, C, H, W) in [0, 1], as ``dtype``."""
    if dtype not in DTYPES:
        raise ConfigError(f"data.options.dtype={dtype!r}: expected float32 or float64")
    images = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return images.to(DTYPES[dtype]) / 255.0


def flatten_course(x: Tensor | np.ndarray) -> np.ndarray:
    """The reader's images as the course's matrix: ``train_set_x_orig.reshape(m, -1).T / 255.``

    Args:
        x: (m, C, H, W) images in [0, 1] as `read_catvnoncat` gives them (multiples of 1/255).

    Returns:
        (H * W * C, m) float64 (12288 rows for the course's images): column i is image i, its
        pixels in the order H, W, C of the files, each exactly the file's byte / 255.
    """
    array = x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)
    if array.ndim != 4:
        raise ConfigError(f"Expected (m, C, H, W) images, got shape {array.shape}")
    levels = np.rint(array.astype(np.float64) * 255.0)
    off_grid = np.abs(array.astype(np.float64) * 255.0 - levels) > 1e-3
    if off_grid.any() or (levels < 0).any() or (levels > 255).any():
        raise ConfigError(
            "flatten_course: the images are not pixels / 255 in [0, 1]; pass the x that "
            "read_catvnoncat returns, before any standardisation or augmentation"
        )
    pixels = levels.astype(np.uint8).transpose(0, 2, 3, 1)  # (m, H, W, C), the files' order
    return pixels.reshape(len(pixels), -1).T / 255.0  # (H * W * C, m)


@DATASETS.register("catvnoncat")
def read_catvnoncat(source: Path, *, dtype: str = "float32") -> DataParts:
    """The 209 training and 50 test images: x (N, 3, 64, 64) in [0, 1], 1 = cat.

    Args:
        source: the folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.
        dtype: float32, or float64 for the course's own values (byte / 255 in double
            precision: the NumPy models then see exactly the course's matrix).
    """
    files = course_files(source)
    train_x, train_y, class_names = read_h5(files["train"], "train")
    test_x, test_y, test_names = read_h5(files["test"], "test")
    if test_names != class_names:
        raise DataError(
            f"{files['test']}: its list_classes differ from those of {files['train'].name}; "
            "get fresh copies of the course's files"
        )
    return DataParts(
        "catvnoncat",
        SequenceSet(to_images(train_x, dtype), torch.from_numpy(train_y)),
        SequenceSet(to_images(test_x, dtype), torch.from_numpy(test_y)),
        class_names,
        {
            "source": str(Path(source).expanduser()),
            "layout": (
                "images (C, H, W) = (3, 64, 64), RGB, pixels / 255 in [0, 1]; the files hold "
                "(H, W, C) uint8"
            ),
        },
        rows="images",
    )


def load_catvnoncat(source: Path, **options) -> DataSplits:
    """Cat vs non-cat as train / val / test: ``load_dataset("catvnoncat", path=source)``.

    Args:
        source: the folder holding the two course files.
        **options: ``seed`` (draws the validation images), ``split`` and its options
            (``val_fraction``: share of the training images, per class, that validates, 0.2;
            0 trains on all 209 as the course does).
    """
    return prepare("catvnoncat", source, **options)
