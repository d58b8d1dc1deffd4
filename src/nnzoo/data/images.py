r"""A folder of image files as a classification dataset: ``image-folder`` and ``dogs-vs-cats``.

Shape legend: N images, C = 3 channels (RGB), S = ``size`` pixels (H = W = S).

Layouts (`find_images`), hidden files and folders (``.name``) ignored:

================================  ===========================================================
``<folder>/<class>.<id>.<ext>``   Kaggle's names: the class is the name up to the first dot
                                  (``cat.12.jpg``: class ``cat``, id ``12``)
``<folder>/<class>/.../<file>``   one sub-folder per class (files in it and below); when the
                                  folder has sub-folders, loose files beside them are skipped
================================  ===========================================================

Classes are numbered in sorted order of their names; ``dogs-vs-cats`` holds exactly ``cat`` (0)
and ``dog`` (1), Kaggle's label (1 = dog). Its folder defaults to
``<data root>/dogs-vs-cats-subset/train`` (a folder with a ``train`` sub-folder stands for it).

Decoding (`decode_image`, Pillow): the EXIF orientation is applied (``ImageOps.exif_transpose``),
then every mode becomes RGB: L, 1, P, CMYK, YCbCr by Pillow's ``convert("RGB")``; RGBA, LA, PA
and P with a transparent colour composited on white,

.. math::
    \mathrm{rgb} = \alpha \, c + (1 - \alpha) \, 255;

16-bit grey (``I;16``, ``I``) scaled by :math:`255 / 65535` (Pillow would clip it to 255). Then
the image is resized to S x S (bilinear, ``resize``):

===========  ===================================================================================
``crop``     scale the short side to S, keep the centre S x S (the default; Keras' smart_resize)
``pad``      scale the long side to S, centre it on a black S x S canvas (tf resize_with_pad)
``stretch``  scale each side to S, whatever the aspect
===========  ===================================================================================

An image smaller than S is upscaled the same way (whether a model takes S x S images is the
model's check, e.g. vgg's 2^blocks). Files that are not images (by extension, per Pillow) or
that do not decode are skipped with ONE warning naming them.

Storage: the pixels are kept decoded as uint8 (N, 3, S, S) (1000 images of 224 x 224 are 150 MB;
float32 would be 600 MB) in an `ImageTensor`, whose indexing gives the float batch
``pixels[index] / 255`` (B, 3, S, S) float32 in [0, 1], so that ``classify``'s collate, the split
policies and evaluation take it as any ``x``. The rows are an `ImageSet` (a `SequenceSet` whose
``subset`` keeps the uint8 storage), which also carries each image's file name (``names``) and
Kaggle id (``ids``).

Cache: the decoded pixels are written once to ``<cache>/<folder>-<S>-<resize>-<key>.npz``; the key
hashes every file's relative name, byte size and modification time with S, ``resize`` and Pillow's
version, so a changed folder is decoded again. ``cache`` (``data.options.cache``) is the folder,
default ``$NNZOO_CACHE/images``, else ``$XDG_CACHE_HOME/nnzoo/images``, else
``~/.cache/nnzoo/images``; false turns it off. The file is written atomically and its pixels'
sha256 checked on every load: a corrupt cache file is decoded again, with a warning.

Parts: a stratified ``test_fraction`` (0.2) of each class is the test part, always drawn with
seed 0 so that the test images stay the same when ``seed`` changes; a stratified
``val_fraction`` (0.2) of each class of the rest validates, drawn with ``seed``
(``data.split_seed``): 64 / 16 / 20 percent, 640 / 160 / 200 of Dogs vs. Cats' 1000. The
reader draws validation itself and its split policy is ``given``, so that augmentation reaches
the training part only (the policies ``stratified``, ``random`` and ``kfold`` still work without
``augment``: they re-split the union of training and validation images). The pixels are not
standardised.

Augmentation (``augment``, parsed by `nnzoo.data.augment.augmentation`, e.g.
``{hflip = 0.5, crop = [0.8, 1.0], rotate = 10, color = 20}``) is handed to the training part's
`ImageTensor` only: indexing it augments the batch while autograd is recording, which is the
case for `nnzoo.engine.fit`'s training batches; every evaluation (``Task.predict`` and
``Task.summed``) runs under ``torch.no_grad`` and sees the plain images, also of the training
part (``nnzoo evaluate --split train``). Validation and test parts hold no augmentation at all.
The draws come from torch's global generator, which fit reseeds every epoch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nnzoo.data.augment import Compose, augmentation
from nnzoo.data.base import DataError, DataParts, DataSplits, SequenceSet, check_int
from nnzoo.data.registry import DATASETS, DEFAULTS, FOLDERS, DatasetDefaults
from nnzoo.data.sequences import TEST_SEED
from nnzoo.data.splits import check_fraction, check_test_fraction, prepare, split_random
from nnzoo.errors import ConfigError, warn
from nnzoo.io import WriteError, atomic

SIZE = 128
RESIZES = {
    "crop": "short side scaled to {s}, centre {s} x {s} kept",
    "pad": "long side scaled to {s}, centred on a black {s} x {s} canvas",
    "stretch": "each side scaled to {s}",
}
TEST_FRACTION = 0.2
VAL_FRACTION = 0.2
CACHE_ENV = "NNZOO_CACHE"
FORMAT = 1  # of the cache files: a new one invalidates the old
DOGS_VS_CATS = ("cat", "dog")
KAGGLE = "<class>.<id>.<ext>"
SHOWN = 20  # skipped files a warning names

for _name in ("image-folder", "dogs-vs-cats"):
    DEFAULTS[_name] = DatasetDefaults("given")


# -- the rows ---------------------------------------------------------------------------------


class ImageTensor:
    """Decoded images stored as uint8; indexing gives float32 batches in [0, 1].

    Args:
        pixels: (N, C, H, W) uint8.
        names: one file name per image (``ImageSet.names``); None: ``"0".."N-1"``.
        augment: applied to every batch indexed while autograd records (``torch.is_grad_enabled``);
            the training part's only.

    ``x[index]`` is ``pixels[index].float() / 255``: (B, C, H, W) for a tensor, list or slice of
    rows, (C, H, W) for one row; a tuple index (``x[:8, :1]``) selects pixels and is never
    augmented. ``shape`` and ``dtype`` are those of the float images; ``subset(index)`` keeps the
    uint8 storage (the split policies call it through `ImageSet.subset`).
    """

    dtype = torch.float32

    def __init__(
        self,
        pixels: Tensor,
        names: Sequence[str] | None = None,
        augment: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if not isinstance(pixels, Tensor) or pixels.dtype != torch.uint8 or pixels.dim() != 4:
            got = f"{pixels.dtype} {tuple(pixels.shape)}" if isinstance(pixels, Tensor) else pixels
            raise ConfigError(f"ImageTensor: expected uint8 pixels (N, C, H, W), got {got}")
        self.pixels = pixels
        self.names = tuple(names) if names is not None else tuple(map(str, range(len(pixels))))
        if len(self.names) != len(pixels):
            raise ConfigError(
                f"ImageTensor: {len(self.names)} names for {len(pixels)} images; give one each"
            )
        self.augment = augment

    @property
    def shape(self) -> torch.Size:
        return self.pixels.shape

    @property
    def ndim(self) -> int:
        return 4

    def dim(self) -> int:
        return 4

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.pixels.shape if dim is None else self.pixels.shape[dim]

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: Any) -> Tensor:
        x = self.pixels[index].float() / 255.0  # (B, C, H, W), or (C, H, W) for one row
        if self.augment is None or isinstance(index, tuple) or not torch.is_grad_enabled():
            return x
        if x.dim() == 3:
            return self.augment(x[None])[0]
        return self.augment(x)

    def rows(self, index: Any) -> list[int]:
        """The row numbers ``index`` picks, in its order."""
        return torch.arange(len(self))[index].reshape(-1).tolist()

    def subset(self, index: Any) -> ImageTensor:
        """Rows ``index``, still uint8, with the same names and augmentation."""
        names = [self.names[i] for i in self.rows(index)]
        return ImageTensor(self.pixels[index], names, self.augment)

    def with_augment(self, augment: Callable[[Tensor], Tensor] | None) -> ImageTensor:
        """The same storage with ``augment`` (None: none)."""
        return ImageTensor(self.pixels, self.names, augment)

    def numpy(self) -> np.ndarray:
        """(N, C, H, W) float32 in [0, 1], never augmented (galleries, plots)."""
        return (self.pixels.float() / 255.0).numpy()

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        """``torch.cat`` of image tensors along rows (`nnzoo.data.splits.concat`)."""
        kwargs = kwargs or {}
        if func is not torch.cat:
            return NotImplemented
        parts = list(args[0])
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if dim != 0 or not all(isinstance(p, ImageTensor) for p in parts):
            return NotImplemented
        if any(p.augment is not None for p in parts):
            raise ConfigError(
                "data.options.augment needs the image reader's own split (split 'given'); "
                "leave data.split unset, or drop data.options.augment"
            )
        names = [name for p in parts for name in p.names]
        return ImageTensor(torch.cat([p.pixels for p in parts]), names)

    def __repr__(self) -> str:
        n, c, h, w = self.shape
        return f"ImageTensor({n} images ({c}, {h}, {w}) uint8, augment: {self.augment or 'none'})"


class ImageSet(SequenceSet):
    """A `SequenceSet` of images: x an `ImageTensor`, y (N,) int64; ``subset`` keeps uint8.

    ``names`` are the files' paths relative to the folder (``cat.12.jpg``, ``dog/7.png``),
    ``ids`` their Kaggle ids (`kaggle_id`), one per row, in the rows' order.
    """

    def subset(self, index: Tensor) -> ImageSet:
        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[index]

        return ImageSet(self.x.subset(index), self.y[index], pick(self.lengths), pick(self.groups))

    @property
    def names(self) -> tuple[str, ...]:
        return self.x.names

    @property
    def ids(self) -> list[str]:
        return [kaggle_id(name) for name in self.x.names]


def kaggle_id(name: str) -> str:
    """The id in a Kaggle file name: ``cat.12.jpg`` -> ``12``, ``12.jpg`` -> ``12``;
    another name: its stem (``dog/a.png`` -> ``a``)."""
    parts = Path(name).name.split(".")
    if len(parts) >= 3:
        return ".".join(parts[1:-1])
    return parts[0]


# -- finding and decoding ---------------------------------------------------------------------


def import_pil() -> Any:
    """Pillow's Image and ImageOps, or a one-line error saying how to install it."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ConfigError(
            "reading image files needs Pillow; install it with `pip install Pillow`"
        ) from None
    return Image, ImageOps


def natural(name: str) -> list[Any]:
    """Sort key: numbers as numbers (``cat.2`` before ``cat.10``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def visible_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` outside hidden files and folders, in natural order."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found, key=lambda p: natural(p.relative_to(folder).as_posix()))


def image_files(folder: Path) -> list[Path]:
    """The image files below ``folder`` (new images to predict: no classes needed), in natural
    order; files that are not images are named in one warning, and none at all is an error."""
    Image, _ = import_pil()
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such file or folder; give an image file or a folder of them")
    extensions = Image.registered_extensions()
    found = visible_files(folder)
    images = [p for p in found if p.suffix.lower() in extensions]
    others = [p.relative_to(folder).as_posix() for p in found if p.suffix.lower() not in extensions]
    if others:
        warn(f"{folder}: skipped {len(others)} file(s) that are not images: {', '.join(others)}")
    if not images:
        raise DataError(f"{folder}: no image files in it; give a folder of JPEG or PNG files")
    return images


def find_images(folder: Path) -> tuple[list[tuple[str, str]], list[str], str]:
    """The image files of ``folder`` and their classes, by the layouts of the module docstring.

    Returns:
        (relative name, class) of each image file; ``name (why)`` of each file left out; the
        layout, for ``info``.
    """
    Image, _ = import_pil()
    extensions = Image.registered_extensions()
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name[0] != ".")
    images, skipped = [], []
    for path in visible_files(folder):
        name = path.relative_to(folder).as_posix()
        if classes:
            label = name.split("/")[0] if "/" in name else None
            no_class = "not in a class sub-folder"
        else:
            label = path.name.split(".")[0] if path.name.count(".") >= 2 else None
            no_class = f"no class: expected {KAGGLE}"
        if path.suffix.lower() not in extensions:
            skipped.append(f"{name} (not an image file)")
        elif label is None:
            skipped.append(f"{name} ({no_class})")
        else:
            images.append((name, label))
    layout = "one sub-folder per class" if classes else f"files named {KAGGLE}"
    return images, skipped, layout


def to_rgb(image: Any) -> Any:
    """``image`` in RGB: alpha composited on white, 16-bit grey scaled, the rest converted."""
    Image, _ = import_pil()
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(image, dtype=np.float64) * (255.0 / 65535.0)
        return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def fit_size(image: Any, size: int, resize: str) -> Any:
    """An RGB ``image`` resized to ``size`` x ``size`` by ``resize`` (bilinear)."""
    Image, _ = import_pil()
    bilinear = Image.Resampling.BILINEAR
    w, h = image.size
    if resize == "stretch":
        return image.resize((size, size), bilinear)
    if resize == "crop":
        side = min(w, h)
        left, top = (w - side) / 2, (h - side) / 2
        return image.resize((size, size), bilinear, box=(left, top, left + side, top + side))
    scale = size / max(w, h)
    inner = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), bilinear)
    canvas = Image.new("RGB", (size, size), (0, 0, 0))
    canvas.paste(inner, ((size - inner.size[0]) // 2, (size - inner.size[1]) // 2))
    return canvas


def decode_image(path: Path, size: int, resize: str) -> np.ndarray:
    """One file as (3, size, size) uint8 RGB, oriented by its EXIF tag; raises if it does not
    decode (Pillow's errors)."""
    Image, ImageOps = import_pil()
    with Image.open(path) as image:
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = fit_size(to_rgb(image), size, resize)
        return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)


def progress(items: Sequence[Any], what: str):
    """A tqdm bar on stderr when it is a terminal, else the items as they are."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc=what, unit="image", file=sys.stderr)


def decode_all(
    folder: Path, names: Sequence[str], size: int, resize: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Decode ``names`` (relative to ``folder``): pixels (N, 3, S, S) uint8 of those that
    decode, their names, and ``name (does not decode)`` for the others."""
    pixels = np.empty((len(names), 3, size, size), dtype=np.uint8)
    kept, broken = [], []
    for name in progress(names, f"decoding {folder.name}"):
        try:
            pixels[len(kept)] = decode_image(folder / name, size, resize)
        except Exception:  # Pillow raises OSError, ValueError, SyntaxError, ... on bad files
            broken.append(f"{name} (does not decode)")
            continue
        kept.append(name)
    return pixels[: len(kept)], kept, broken


# -- the cache --------------------------------------------------------------------------------


def cache_folder(cache: str | bool | os.PathLike) -> Path | None:
    """The cache folder ``cache`` names: a path, true (the default folder) or false (none)."""
    if cache is False:
        return None
    if cache is True or cache == "":
        if os.environ.get(CACHE_ENV):
            return Path(os.environ[CACHE_ENV]).expanduser() / "images"
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "nnzoo" / "images"
    if isinstance(cache, (str, os.PathLike)):
        return Path(cache).expanduser()
    raise ConfigError(
        f"data.options.cache={cache!r}: expected a folder, true (the default, ${CACHE_ENV}/images "
        "or ~/.cache/nnzoo/images) or false (decode every time)"
    )


def cache_path(folder: Path, cache: Path, size: int, resize: str) -> Path:
    """``<cache>/<folder>-<S>-<resize>-<key>.npz``, the key hashing every file's name, size and
    modification time, S, ``resize``, Pillow's version and the cache format."""
    import PIL

    listing = []
    for path in visible_files(folder):
        stat = path.stat()
        listing.append([path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns])
    record = {"files": listing, "size": size, "resize": resize, "pillow": PIL.__version__}
    record["format"] = FORMAT
    key = hashlib.sha256(json.dumps(record).encode()).hexdigest()[:20]
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", folder.resolve().name) or "images"
    return cache / f"{stem}-{size}-{resize}-{key}.npz"


def digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels).reshape(-1).data).hexdigest()


def read_cache(path: Path, size: int) -> tuple[np.ndarray, list[str], list[str]] | None:
    """The cached (pixels, names, skipped), or None when there is no file or it is corrupt
    (with a warning)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            pixels, names, skipped = f["pixels"], f["names"].tolist(), f["skipped"].tolist()
            stored, fmt = str(f["digest"]), int(f["format"])
        if fmt != FORMAT or pixels.dtype != np.uint8 or pixels.shape[1:] != (3, size, size):
            raise ValueError("another format")
        if len(names) != len(pixels):
            raise ValueError(f"{len(names)} names for {len(pixels)} images")
        if digest(pixels) != stored:
            raise ValueError("its pixels do not match their checksum")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        warn(f"{path}: the image cache is corrupt ({e}); decoding the images again")
        return None
    return pixels, [str(n) for n in names], [str(s) for s in skipped]


def write_cache(path: Path, pixels: np.ndarray, names: list[str], skipped: list[str]) -> None:
    """Write the cache atomically; a folder that cannot be written is a warning, not an error."""
    try:
        with atomic(path) as f:
            np.savez(
                f,
                pixels=pixels,
                names=np.array(names, dtype=str),
                skipped=np.array(skipped, dtype=str),
                digest=np.array(digest(pixels)),
                format=np.array(FORMAT),
            )
    except WriteError as e:
        warn(
            f"{path}: the decoded images cannot be cached ({e.reason or e}); set "
            "data.options.cache to a writable folder, or to false"
        )


def load_pixels(
    folder: Path, names: Sequence[str], size: int, resize: str, cache: Path | None
) -> tuple[np.ndarray, list[str], list[str], Path | None]:
    """Pixels (N, 3, S, S) uint8 of the images of ``names`` that decode, their names, the
    others as ``name (why)``, and the cache file: read from the cache, else decoded (and
    cached)."""
    path = cache_path(folder, cache, size, resize) if cache is not None else None
    if path is not None:
        hit = read_cache(path, size)
        if hit is not None:
            return (*hit, path)
    pixels, kept, broken = decode_all(folder, names, size, resize)
    if path is not None:
        write_cache(path, pixels, kept, broken)
    return pixels, kept, broken, path


# -- the readers ------------------------------------------------------------------------------


def check_options(size: Any, resize: Any, test_fraction: Any, val_fraction: Any) -> None:
    check_int("size", size, 1)
    if resize not in RESIZES:
        raise ConfigError(f"data.options.resize={resize!r}: expected one of {', '.join(RESIZES)}")
    check_test_fraction(test_fraction, source="data.options", example=TEST_FRACTION)
    check_fraction(val_fraction, source="data.options")


def say_skipped(folder: Path, skipped: list[str]) -> None:
    """ONE warning naming the files left out (the first `SHOWN` of them)."""
    if not skipped:
        return
    shown = ", ".join(skipped[:SHOWN])
    more = f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else ""
    warn(f"{folder}: skipped {len(skipped)} file(s): {shown}{more}")


def read_images(
    name: str,
    folder: Path,
    *,
    size: int,
    resize: str,
    cache: str | bool,
    augment: dict[str, Any] | None,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    classes: Sequence[str] | None = None,
) -> DataParts:
    """The images of ``folder`` as train / val / test parts (see the module docstring).

    Args:
        name: the dataset's registry name.
        folder: the folder of images.
        size, resize, cache, augment, val_fraction, test_fraction, seed: the reader options.
        classes: the classes the folder must hold, in class order; None: those it holds,
            sorted.
    """
    check_options(size, resize, test_fraction, val_fraction)
    transform: Compose | None = augmentation(augment)
    cache_dir = cache_folder(cache)
    folder = Path(folder).expanduser()
    layouts = f"files named {KAGGLE}, or one sub-folder of images per class"
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; point --data-path at a folder of {layouts}")
    found, skipped, layout = find_images(folder)
    if not found:
        others = f" ({len(skipped)} other files)" if skipped else ""
        raise DataError(f"{folder}: no image files{others}; put {layouts} there")
    label_of = dict(found)
    check_classes(folder, sorted(set(label_of.values())), classes)
    pixels, kept, broken, cache_file = load_pixels(
        folder, [n for n, _ in found], size, resize, cache_dir
    )
    skipped = skipped + broken
    if not kept:
        raise DataError(
            f"{folder}: none of the {len(found)} image files decodes (e.g. {found[0][0]}); "
            "replace them with readable JPEG or PNG files"
        )
    say_skipped(folder, skipped)
    class_names = list(classes) if classes else sorted({label_of[n] for n in kept})
    check_classes(folder, sorted({label_of[n] for n in kept}), classes)
    y = torch.tensor([class_names.index(label_of[n]) for n in kept], dtype=torch.int64)
    every = ImageSet(ImageTensor(torch.from_numpy(pixels), kept), y)
    source = str(folder)
    rest, test = split_random(every, test_fraction, TEST_SEED, source=source)
    train, val = split_random(rest, val_fraction, seed, source=source)
    check_parts(folder, len(every), train, val, test, val_fraction, test_fraction)
    train = ImageSet(train.x.with_augment(transform), train.y)
    counts = torch.bincount(y, minlength=len(class_names)).tolist()
    info = {
        "source": source,
        "layout": (
            f"{layout}; images (C, H, W) = (3, {size}, {size}) RGB, resize {resize}: "
            f"{RESIZES[resize].format(s=size)}; stored uint8, batches float32 pixels / 255 in "
            "[0, 1]"
        ),
        "images": ", ".join(f"{n} {c}" for c, n in zip(class_names, counts)),
        "skipped": skipped or None,
        "cache": str(cache_file) if cache_file is not None else "off",
        "test": f"a stratified {test_fraction:g} of each class (seed {TEST_SEED}): {len(test)}",
        "validation": (
            f"a stratified {val_fraction:g} of each class of the rest (seed {seed}): {len(val)}"
        ),
        "train": f"{len(train)} images",
        "augment": f"{transform} (training batches only)" if transform else "none",
        "image_size": size,  # how `nnzoo predict` decodes new images
        "resize": resize,
    }
    return DataParts(name, train, test, class_names, info, val=val, rows="images")


def check_classes(folder: Path, found: list[str], classes: Sequence[str] | None) -> None:
    if classes is not None and found != sorted(classes):
        raise DataError(
            f"{folder}: holds classes {', '.join(found)}; expected {' and '.join(classes)} "
            f"images ({', '.join(f'{c}.<id>.jpg' for c in classes)}); use --data image-folder "
            "for other classes"
        )
    if len(found) < 2:
        raise DataError(
            f"{folder}: every image is of class {found[0]!r}; a classifier needs two classes or "
            f"more: add images of another class ({KAGGLE}, or a sub-folder per class)"
        )


def check_parts(
    folder: Path, n: int, train, val, test, val_fraction: float, test_fraction: float
) -> None:
    if len(test) == 0:
        raise DataError(
            f"{folder}: test_fraction={test_fraction:g} rounds to no test image in any class "
            f"({n} images); raise data.options.test_fraction or add images"
        )
    if val_fraction > 0 and len(val) == 0:
        raise DataError(
            f"{folder}: val_fraction={val_fraction:g} rounds to no validation image in any class; "
            "raise data.options.val_fraction, set it to 0, or add images"
        )
    if len(train) == 0:
        raise DataError(
            f"{folder}: test_fraction={test_fraction:g} and val_fraction={val_fraction:g} leave "
            f"no training image ({n} images); lower them or add images"
        )


@DATASETS.register("image-folder")
def read_image_folder(
    source: Path,
    *,
    size: int = SIZE,
    resize: str = "crop",
    cache: str | bool = True,
    augment: dict[str, Any] | None = None,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
) -> DataParts:
    """Any folder of images: ``<class>.<id>.<ext>`` files or one sub-folder per class.

    Args:
        source: the folder.
        size: S, the side of the square images.
        resize: ``crop`` (short side to S, centre crop), ``pad`` or ``stretch``.
        cache: the folder of decoded images; true: the default one; false: none.
        augment: the training part's augmentation (`nnzoo.data.augment.augmentation`).
        val_fraction: share of each class, after the test part, that validates (``seed``).
        test_fraction: share of each class held out as the test part (seed 0).
        seed: draws the validation images (``data.split_seed``).
    """
    return read_images(
        "image-folder", source, size=size, resize=resize, cache=cache, augment=augment,
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
    )  # fmt: skip


FOLDERS["dogs-vs-cats"] = "dogs-vs-cats-subset/train"  # under the data root, as shared/ holds it


def dogs_vs_cats_folder(source: Path) -> Path:
    """``source``, or its ``train`` sub-folder (Kaggle's archive holds train/ and test1/)."""
    source = Path(source).expanduser()
    if (source / "train").is_dir():
        return source / "train"
    return source


@DATASETS.register("dogs-vs-cats")
def read_dogs_vs_cats(
    source: Path,
    *,
    size: int = SIZE,
    resize: str = "crop",
    cache: str | bool = True,
    augment: dict[str, Any] | None = None,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    seed: int = 0,
) -> DataParts:
    """Kaggle's Dogs vs. Cats ``train`` folder: ``cat.<id>.jpg`` (0) and ``dog.<id>.jpg`` (1).

    Args:
        source: the ``train`` folder, or a folder holding it (default
            ``<data root>/dogs-vs-cats-subset/train``).
        size, resize, cache, augment, val_fraction, test_fraction, seed: as
            `read_image_folder`'s.
    """
    return read_images(
        "dogs-vs-cats", dogs_vs_cats_folder(source), size=size, resize=resize, cache=cache,
        augment=augment, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        classes=DOGS_VS_CATS,
    )  # fmt: skip


def load_images(source: Path, **options: Any) -> DataSplits:
    """A folder of images as train / val / test: ``load_dataset("image-folder", path=source)``.

    Args:
        source: the folder.
        **options: the reader's (``size``, ``resize``, ``cache``, ``augment``,
            ``val_fraction``, ``test_fraction``), ``seed`` and ``split``.
    """
    return prepare("image-folder", source, **options)


def load_dogs_vs_cats(source: Path, **options: Any) -> DataSplits:
    """Dogs vs. Cats as train / val / test: ``load_dataset("dogs-vs-cats", path=source)``."""
    return prepare("dogs-vs-cats", source, **options)
