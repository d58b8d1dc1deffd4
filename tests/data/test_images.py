"""The image-folder and dogs-vs-cats readers on tiny image files made here with Pillow."""

import numpy as np
import pytest
import torch
from PIL import Image

from nnzoo.data import DEFAULTS, DataError, load_dataset
from nnzoo.data import images as images_module
from nnzoo.data.base import SequenceSet
from nnzoo.data.images import (
    ImageSet,
    ImageTensor,
    decode_image,
    kaggle_id,
    read_dogs_vs_cats,
    read_image_folder,
)
from nnzoo.errors import ConfigError
from nnzoo.tasks.classify import Classify

S = 8  # side of the square test images: decoding at S leaves the pixels as they are
BILINEAR = Image.Resampling.BILINEAR


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    """Every test caches into its own folder, never ~/.cache."""
    monkeypatch.setenv("NNZOO_CACHE", str(tmp_path / "nnzoo-cache"))


def pattern(w, h, seed=0):
    """(h, w, 3) uint8: a smooth ramp plus noise, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 9 + 20, yy * 13 + 10, (xx + yy) * 5 + 60], -1) + seed * 17
    return ((base + rng.integers(0, 30, base.shape)) % 256).astype(np.uint8)


def as_chw(array):
    return np.ascontiguousarray(np.asarray(array).transpose(2, 0, 1))


def on_white(rgba):
    """Alpha composited on white, in float, from an (h, w, 4) uint8 array."""
    rgba = rgba.astype(np.float64)
    alpha = rgba[..., 3:] / 255
    return rgba[..., :3] * alpha + 255 * (1 - alpha)


def make_folder(folder, per_class=5, classes=("cat", "dog"), ext="png", layout="kaggle"):
    """``per_class`` distinct images of each class; returns {relative name: (h, w, 3) pixels}."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for c, label in enumerate(classes):
        for i in range(per_class):
            name = f"{label}.{i}.{ext}" if layout == "kaggle" else f"{label}/{i}.{ext}"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            pixels = pattern(S, S, seed=10 * c + i)
            Image.fromarray(pixels).save(folder / name)
            made[name] = pixels
    return made


# -- decoding -----------------------------------------------------------------------------------


def test_every_mode_becomes_the_right_rgb(tmp_path):
    rgb = pattern(S, S, 1)
    alpha = np.linspace(0, 255, S * S).reshape(S, S).astype(np.uint8)
    grey = rgb[..., 0]
    files = {}

    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=95)
    files["rgb.jpg"] = np.asarray(Image.open(tmp_path / "rgb.jpg").convert("RGB"))

    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(tmp_path / "rgba.png")
    files["rgba.png"] = on_white(np.dstack([rgb, alpha]))

    Image.fromarray(np.dstack([grey, alpha]), "LA").save(tmp_path / "la.png")
    files["la.png"] = on_white(np.dstack([grey, grey, grey, alpha]))

    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    files["grey.png"] = np.repeat(grey[..., None], 3, -1)

    cmyk = Image.fromarray(rgb).convert("CMYK")
    cmyk.save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    files["cmyk.jpg"] = np.asarray(Image.open(tmp_path / "cmyk.jpg").convert("RGB"))

    deep = (np.arange(S * S).reshape(S, S) * 1021 % 65536).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode.startswith("I")
    files["grey16.png"] = np.repeat(np.rint(deep / 257.0)[..., None], 3, -1)

    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    palette.info["transparency"] = 0  # colour 0 is see-through
    palette.save(tmp_path / "palette.png", transparency=0)
    lookup = np.array(palette.getpalette()[: 3 * 256]).reshape(-1, 3)
    index = np.asarray(Image.open(tmp_path / "palette.png"))
    files["palette.png"] = np.where(index[..., None] == 0, 255.0, lookup[index])

    for name, want in files.items():
        got = decode_image(tmp_path / name, S, "crop")  # (3, S, S)
        assert got.dtype == np.uint8 and got.shape == (3, S, S), name
        np.testing.assert_allclose(got.astype(float), as_chw(want), atol=1, err_msg=name)


def test_exif_orientation_is_applied(tmp_path):
    stored = pattern(S, S, 2)
    exif = Image.Exif()
    exif[0x0112] = 6  # show the stored image turned 90 degrees clockwise
    Image.fromarray(stored).save(tmp_path / "turned.png", exif=exif)
    got = decode_image(tmp_path / "turned.png", S, "crop")
    np.testing.assert_array_equal(got, as_chw(np.rot90(stored, k=-1)))


def test_crop_pad_and_stretch_against_pillows_resize(tmp_path):
    wide = Image.fromarray(pattern(40, 20, 3))  # w 40, h 20
    wide.save(tmp_path / "wide.png")
    path = tmp_path / "wide.png"
    crop = wide.resize((20, 10), BILINEAR).crop((5, 0, 15, 10))  # short side to 10, centre
    np.testing.assert_array_equal(decode_image(path, 10, "crop"), as_chw(crop))
    stretch = wide.resize((10, 10), BILINEAR)
    np.testing.assert_array_equal(decode_image(path, 10, "stretch"), as_chw(stretch))
    pad = np.zeros((10, 10, 3), np.uint8)
    pad[2:7] = np.asarray(wide.resize((10, 5), BILINEAR))  # long side to 10, rows 2..6
    np.testing.assert_array_equal(decode_image(path, 10, "pad"), as_chw(pad))
    small = Image.fromarray(pattern(6, 4, 4))  # smaller than the size: upscaled
    small.save(tmp_path / "small.png")
    up = small.resize((18, 12), BILINEAR).crop((3, 0, 15, 12))
    np.testing.assert_array_equal(decode_image(tmp_path / "small.png", 12, "crop"), as_chw(up))


# -- the reader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["kaggle", "folders"])
def test_parts_hold_every_image_once_with_its_label_name_and_pixels(tmp_path, layout):
    made = make_folder(tmp_path / "pets", layout=layout)
    parts = read_image_folder(tmp_path / "pets", size=S)
    assert parts.class_names == ["cat", "dog"] and parts.rows == "images"
    seen = []
    for part in (parts.train, parts.val, parts.test):
        assert isinstance(part, ImageSet) and isinstance(part.x, ImageTensor)
        for row, name in enumerate(part.names):
            label = name.split(".")[0] if layout == "kaggle" else name.split("/")[0]
            assert parts.class_names[int(part.y[row])] == label
            with torch.no_grad():
                pixels = part.x[row]  # (3, S, S) float in [0, 1]
            np.testing.assert_allclose(pixels.numpy() * 255, as_chw(made[name]), atol=1e-3)
        seen += part.names
    assert sorted(seen) == sorted(made)
    # 5 per class: 1 test (0.2), 1 validation (0.2 of 4), 3 train
    assert [len(parts.train), len(parts.val), len(parts.test)] == [6, 2, 2]
    for part in (parts.val, parts.test):
        assert sorted(part.y.tolist()) == [0, 1]
    assert parts.info["images"] == "5 cat, 5 dog"
    expected = "kaggle" if layout == "kaggle" else "folders"
    assert ("<class>.<id>.<ext>" in parts.info["layout"]) == (expected == "kaggle")
    assert kaggle_id("cat.12.jpg") == "12" and kaggle_id("12.jpg") == "12"
    if layout == "kaggle":
        assert parts.test.ids == [kaggle_id(n) for n in parts.test.names]


def test_the_split_is_stratified_and_seeded_with_a_fixed_test_part(tmp_path):
    make_folder(tmp_path / "pets", per_class=10)
    a = load_dataset("image-folder", path=tmp_path / "pets", seed=1, size=S)
    b = load_dataset("image-folder", path=tmp_path / "pets", seed=1, size=S)
    c = load_dataset("image-folder", path=tmp_path / "pets", seed=2, size=S)
    assert a.val.names == b.val.names and a.train.names == b.train.names
    assert a.val.names != c.val.names and a.test.names == c.test.names
    for splits in (a, c):
        assert torch.bincount(splits.test.y).tolist() == [2, 2]
        assert torch.bincount(splits.val.y).tolist() == [2, 2]
        assert torch.bincount(splits.train.y).tolist() == [6, 6]
    assert DEFAULTS["image-folder"].split == "given"
    assert a.info["split"] == "given (drawn with the data)"
    assert a.info["test"] == "a stratified 0.2 of each class (seed 0): 4"
    assert a.info["validation"] == "a stratified 0.2 of each class of the rest (seed 1): 4"
    other = load_dataset("image-folder", path=tmp_path / "pets", size=S, test_fraction=0.5)
    assert len(other.test) == 10


def test_the_rows_pass_sequence_sets_checks_and_batch_as_float(tmp_path):
    make_folder(tmp_path / "pets")
    splits = load_dataset("image-folder", path=tmp_path / "pets", size=S)
    train = splits.train
    assert isinstance(train, SequenceSet) and train.lengths is None
    assert train.x.shape == (6, 3, S, S) and train.x.dtype == torch.float32
    assert train.x.pixels.dtype == torch.uint8
    x, y, lengths = Classify().collate(train, torch.tensor([4, 0]))
    assert x.dtype == torch.float32 and x.shape == (2, 3, S, S) and lengths is None
    torch.testing.assert_close(x, train.x.pixels[[4, 0]].float() / 255)
    assert torch.equal(y, train.y[[4, 0]])
    sub = train.subset(torch.tensor([1, 2]))
    assert isinstance(sub, ImageSet) and sub.x.pixels.dtype == torch.uint8
    assert sub.names == (train.names[1], train.names[2])
    assert Classify().model_dims(splits)["input_shape"] == [3, S, S]
    with pytest.raises(DataError, match="y has 2 rows but x has 6"):
        ImageSet(train.x, torch.zeros(2, dtype=torch.long))
    # a policy that re-splits the union of training and validation images
    folds = load_dataset("image-folder", path=tmp_path / "pets", size=S, split="kfold", folds=2)
    assert len(folds.train) + len(folds.val) == 8 and isinstance(folds.val, ImageSet)


def test_augmentation_reaches_training_batches_only(tmp_path):
    make_folder(tmp_path / "pets")
    splits = load_dataset("image-folder", path=tmp_path / "pets", size=S, augment={"hflip": 1.0})
    index = torch.tensor([0, 3, 5])
    plain = splits.train.x.pixels[index].float() / 255
    assert torch.equal(splits.train.x[index], torch.flip(plain, dims=[-1]))  # autograd on
    with torch.no_grad():  # every evaluation
        assert torch.equal(splits.train.x[index], plain)
    for part in (splits.val, splits.test):
        assert part.x.augment is None
        assert torch.equal(part.x[torch.arange(2)], part.x.pixels[:2].float() / 255)
    assert splits.info["augment"] == "hflip 1 (training batches only)"
    with pytest.raises(ConfigError, match="data.options.augment needs the image reader's own"):
        load_dataset(
            "image-folder", path=tmp_path / "pets", size=S, augment={"hflip": 1.0}, split="kfold"
        )
    with pytest.raises(ConfigError, match="unknown key 'flip'"):
        load_dataset("image-folder", path=tmp_path / "pets", augment={"flip": 1.0})


def test_cache_hit_does_not_decode_and_a_corrupt_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    make_folder(tmp_path / "pets")
    calls = []
    decode = images_module.decode_image

    def counting(*args):
        calls.append(args[0])
        return decode(*args)

    monkeypatch.setattr(images_module, "decode_image", counting)
    cache = tmp_path / "cache"
    first = read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    assert len(calls) == 10
    [file] = cache.glob("pets-8-crop-*.npz")
    assert first.info["cache"] == str(file)
    again = read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    assert len(calls) == 10  # read from the cache
    assert torch.equal(again.train.x.pixels, first.train.x.pixels)
    assert again.train.names == first.train.names
    read_image_folder(tmp_path / "pets", size=4, cache=str(cache))  # another size: a new entry
    assert len(calls) == 20 and len(list(cache.glob("*.npz"))) == 2
    capsys.readouterr()

    # pixels that no longer match their checksum
    with np.load(file) as f:
        stored = {k: f[k] for k in f.files}
    stored["pixels"] = stored["pixels"].copy()
    stored["pixels"][0, 0, 0, 0] ^= 1
    np.savez(file, **stored)
    rebuilt = read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    err = capsys.readouterr().err
    assert len(calls) == 30 and "the image cache is corrupt" in err and str(file) in err
    assert len(err.strip().splitlines()) == 1
    assert torch.equal(rebuilt.train.x.pixels, first.train.x.pixels)
    read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    assert len(calls) == 30  # the rebuilt file is good

    file.write_bytes(file.read_bytes()[:100])  # a cut-off file
    read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    assert len(calls) == 40 and "corrupt" in capsys.readouterr().err

    (tmp_path / "pets" / "cat.0.png").write_bytes((tmp_path / "pets" / "dog.0.png").read_bytes())
    read_image_folder(tmp_path / "pets", size=S, cache=str(cache))
    assert len(calls) == 50  # a changed file: decoded again
    read_image_folder(tmp_path / "pets", size=S, cache=False)
    assert len(calls) == 60


def test_default_cache_folder_is_nnzoo_cache(tmp_path):
    make_folder(tmp_path / "pets")
    parts = read_image_folder(tmp_path / "pets", size=S)
    assert parts.info["cache"].startswith(str(tmp_path / "nnzoo-cache" / "images" / "pets-8-"))


def test_skipped_files_are_named_in_one_warning(tmp_path, capsys):
    make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cat.9.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    (tmp_path / "pets" / "notes.txt").write_text("not an image\n")
    Image.fromarray(pattern(S, S)).save(tmp_path / "pets" / "nolabel.png")
    (tmp_path / "pets" / ".hidden.png").write_bytes(b"ignored")
    parts = read_image_folder(tmp_path / "pets", size=S)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnzoo: warning:")
    for needle in (
        "skipped 3 file(s)",
        "cat.9.jpg (does not decode)",
        "notes.txt (not an image file)",
        "nolabel.png (no class: expected <class>.<id>.<ext>)",
    ):
        assert needle in err[0]
    assert ".hidden" not in err[0]
    assert len(parts.train) + len(parts.val) + len(parts.test) == 10
    assert len(parts.info["skipped"]) == 3
    read_image_folder(tmp_path / "pets", size=S)  # from the cache: the same warning
    assert "cat.9.jpg (does not decode)" in capsys.readouterr().err


def one_line(error):
    message = str(error.value)
    assert "\n" not in message
    return message


def test_bad_folders_are_one_line_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        read_image_folder(empty)
    assert "no image files; put files named <class>.<id>.<ext>" in one_line(e)
    (empty / "a.txt").write_text("x")
    with pytest.raises(DataError) as e:
        read_image_folder(empty)
    assert "no image files (1 other files)" in one_line(e)

    make_folder(tmp_path / "cats", classes=("cat",))
    with pytest.raises(DataError) as e:
        read_image_folder(tmp_path / "cats")
    assert "every image is of class 'cat'; a classifier needs two classes" in one_line(e)

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("cat.0.jpg", "dog.0.jpg"):
        (broken / name).write_bytes(b"garbage")
    with pytest.raises(DataError) as e:
        read_image_folder(broken)
    assert "none of the 2 image files decodes" in one_line(e)

    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError) as e:
        read_image_folder(tmp_path / "file.png")
    assert "not a folder" in one_line(e)

    make_folder(tmp_path / "two", per_class=2)
    with pytest.raises(DataError) as e:
        read_image_folder(tmp_path / "two", size=S)
    assert "test_fraction=0.2 rounds to no test image in any class (4 images)" in one_line(e)
    make_folder(tmp_path / "few", per_class=3)
    with pytest.raises(DataError) as e:
        read_image_folder(tmp_path / "few", size=S)
    assert "val_fraction=0.2 rounds to no validation image" in one_line(e)
    assert len(read_image_folder(tmp_path / "few", size=S, val_fraction=0).train) == 4

    with pytest.raises(DataError) as e:
        load_dataset("image-folder", root=tmp_path / "nowhere")
    assert "does not exist" in one_line(e)


@pytest.mark.parametrize(
    "options, needle",
    [
        ({"size": 0}, "data.options.size=0: expected an integer >= 1"),
        ({"resize": "zoom"}, "data.options.resize='zoom': expected one of crop, pad, stretch"),
        ({"test_fraction": 1.0}, "data.options: test_fraction=1.0: expected a number in (0, 1)"),
        ({"cache": 3}, "data.options.cache=3: expected a folder, true"),
        ({"colour": 1}, "has no option 'colour'"),
    ],
)
def test_bad_options_are_one_line_config_errors(tmp_path, options, needle):
    make_folder(tmp_path / "pets")
    with pytest.raises(ConfigError) as e:
        load_dataset("image-folder", path=tmp_path / "pets", **options)
    assert needle in one_line(e)


def test_dogs_vs_cats_finds_the_subset_and_labels_dog_one(tmp_path):
    made = make_folder(tmp_path / "dogs-vs-cats-subset" / "train", ext="jpg")
    (tmp_path / "dogs-vs-cats-subset" / "PROVENANCE.md").write_text("where from\n")
    splits = load_dataset("dogs-vs-cats", root=tmp_path, size=S)  # <root>/dogs-vs-cats-subset/train
    assert splits.info["source"] == str(tmp_path / "dogs-vs-cats-subset" / "train")
    parts = read_dogs_vs_cats(tmp_path / "dogs-vs-cats-subset", size=S)  # the folder above train/
    assert parts.class_names == ["cat", "dog"] and parts.name == "dogs-vs-cats"
    assert parts.info["source"] == str(tmp_path / "dogs-vs-cats-subset" / "train")
    for part in (parts.train, parts.val, parts.test):
        assert [int(y) for y in part.y] == [int(n.startswith("dog")) for n in part.names]
    splits = load_dataset("dogs-vs-cats", path=tmp_path / "dogs-vs-cats-subset", size=S)
    assert len(splits.train) + len(splits.val) + len(splits.test) == len(made)
    make_folder(tmp_path / "zoo", classes=("cat", "cow"))
    with pytest.raises(DataError) as e:
        read_dogs_vs_cats(tmp_path / "zoo", size=S)
    assert "holds classes cat, cow; expected cat and dog images" in one_line(e)


def test_train_and_evaluate_through_the_command_line(tmp_path, capsys, monkeypatch):
    from nnzoo.cli import main

    make_folder(tmp_path / "pets", per_class=10)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    argv = ["train", "--data", "image-folder", "--data-path", str(tmp_path / "pets"),
            "--model", "vgg", "--set", "model.options.blocks=[1]", "--set",
            "model.options.width=4", "--set", "model.options.head=8", "--set",
            "data.options.size=8", "--set", "data.options.augment={hflip = 0.5, rotate = 10}",
            "--epochs", "1", "--batch-size", "4", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(out) in printed
    report = (out / "report.md").read_text()
    assert "hflip 0.5, rotate ±10° (training batches only)" in report
    assert "a stratified 0.2 of each class (seed 0): 4" in report
    assert main(["evaluate", str(out)]) == 0
    evaluated = capsys.readouterr().out
    assert "test accuracy" in evaluated
    assert main(["evaluate", str(out), "--split", "train"]) == 0
    assert "train accuracy" in capsys.readouterr().out
