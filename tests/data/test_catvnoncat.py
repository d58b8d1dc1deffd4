"""The cat vs non-cat reader on tiny HDF5 files laid out as the course's are."""

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from nnzoo.data import DEFAULTS, DataError, load_dataset
from nnzoo.data.catvnoncat import (
    flatten_course,
    load_catvnoncat,
    read_catvnoncat,
    read_course_arrays,
)
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.tasks.classify import Classify

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # /work/shared/data
CLASSES = np.array([b"non-cat", b"cat"])


def write_part(path: Path, part: str, x, y, classes=CLASSES, skip=()) -> None:
    """``<part>_set_x``, ``<part>_set_y`` and ``list_classes``, as the course's files hold them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, value in ((f"{part}_set_x", x), (f"{part}_set_y", y), ("list_classes", classes)):
            if name not in skip:
                f.create_dataset(name, data=value)


def make_course(folder: Path, sizes=(10, 4), seed=0) -> dict:
    """Random uint8 images (N, 64, 64, 3); the train labels 0 x 6 and 1 x 4, test 0, 1, 0, 1."""
    rng = np.random.default_rng(seed)
    data = {}
    for part, n in zip(("train", "test"), sizes):
        x = rng.integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
        y = np.array([0] * 6 + [1] * 4 if part == "train" else [0, 1] * (n // 2), dtype=np.int64)
        write_part(folder / f"{part}_catvnoncat.h5", part, x, y)
        data[part] = (x, y)
    return data


def test_images_channels_first_in_zero_one(tmp_path):
    data = make_course(tmp_path)
    parts = read_catvnoncat(tmp_path)
    x, y = data["test"]
    assert parts.test.x.shape == (4, 3, 64, 64) and parts.test.x.dtype == torch.float32
    rng = np.random.default_rng(1)
    for i, c, h, w in zip(*(rng.integers(0, n, 50) for n in (4, 3, 64, 64))):
        assert float(parts.test.x[i, c, h, w]) == pytest.approx(x[i, h, w, c] / 255.0, abs=1e-7)
    assert (
        parts.test.y.tolist() == y.tolist() and parts.train.y.tolist() == data["train"][1].tolist()
    )
    assert parts.class_names == ["non-cat", "cat"] and parts.rows == "images"


def test_flatten_course_is_the_course_matrix_exactly(tmp_path):
    data = make_course(tmp_path)
    parts = read_catvnoncat(tmp_path)
    train_set_x_orig = data["train"][0]
    m = train_set_x_orig.shape[0]
    course = train_set_x_orig.reshape(m, -1).T / 255.0  # the course's line
    flat = flatten_course(parts.train.x)
    assert flat.shape == (12288, m) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat, course)
    # row (h * 64 + w) * 3 + c: a pixel's three colours are next to each other
    assert flat[(5 * 64 + 7) * 3 + 2, 3] == train_set_x_orig[3, 5, 7, 2] / 255.0
    with pytest.raises(ConfigError, match="not pixels / 255"):
        flatten_course(parts.train.x * 0.5 + 0.001)
    with pytest.raises(ConfigError, match=r"Expected \(m, C, H, W\) images"):
        flatten_course(parts.train.x[0])


def test_course_arrays_are_those_of_load_dataset(tmp_path):
    data = make_course(tmp_path)
    train_x, train_y, test_x, test_y, classes = read_course_arrays(tmp_path)
    np.testing.assert_array_equal(train_x, data["train"][0])
    assert train_x.dtype == np.uint8 and train_y.shape == (1, 10) and test_y.shape == (1, 4)
    np.testing.assert_array_equal(test_y[0], data["test"][1])
    np.testing.assert_array_equal(test_x, data["test"][0])
    assert classes.tolist() == [b"non-cat", b"cat"]


def test_default_split_is_a_stratified_fifth_and_zero_keeps_all(tmp_path):
    make_course(tmp_path / "catvnoncat")
    assert DEFAULTS["catvnoncat"].standardize is None  # the pixels stay in [0, 1]
    splits = load_dataset("catvnoncat", root=tmp_path)
    assert splits.val.y.bincount().tolist() == [1, 1]  # round(0.2 * 6), round(0.2 * 4)
    assert splits.train.y.bincount().tolist() == [5, 3] and len(splits.test) == 4
    everything = load_catvnoncat(tmp_path / "catvnoncat", val_fraction=0)
    assert len(everything.train) == 10 and len(everything.val) == 0
    model = MODELS.create("mlp", list(splits.train.x.shape[1:]), 2, widths=(3,))
    x, _, lengths = Classify().collate(splits.train, torch.arange(4))
    assert model(x, lengths).shape == (4, 2)


def test_one_file_names_the_folder(tmp_path):
    make_course(tmp_path)
    assert len(read_catvnoncat(tmp_path / "train_catvnoncat.h5").test) == 4


def bad_x(folder):
    write_part(folder / "train_catvnoncat.h5", "train", np.zeros((3, 64, 64), np.uint8), [0] * 3)


def float_x(folder):
    write_part(folder / "train_catvnoncat.h5", "train", np.zeros((3, 64, 64, 3)), [0, 1, 0])


def float_y(folder):
    x = np.zeros((3, 64, 64, 3), np.uint8)
    write_part(folder / "train_catvnoncat.h5", "train", x, [0.0, 1.0, 0.0])


def short_y(folder):
    write_part(folder / "train_catvnoncat.h5", "train", np.zeros((3, 64, 64, 3), np.uint8), [0, 1])


def label_two(folder):
    write_part(folder / "test_catvnoncat.h5", "test", np.zeros((3, 64, 64, 3), np.uint8), [0, 2, 1])


def no_y(folder):
    x = np.zeros((3, 64, 64, 3), np.uint8)
    write_part(folder / "train_catvnoncat.h5", "train", x, [0] * 3, skip=("train_set_y",))


def other_classes(folder):
    x = np.zeros((3, 64, 64, 3), np.uint8)
    write_part(folder / "test_catvnoncat.h5", "test", x, [0] * 3, np.array([b"dog", b"cat"]))


def three_classes(folder):
    x = np.zeros((3, 64, 64, 3), np.uint8)
    write_part(folder / "test_catvnoncat.h5", "test", x, [0] * 3, np.array([b"a", b"b", b"c"]))


def text_file(folder):
    (folder / "train_catvnoncat.h5").write_text("train_set_x,train_set_y\n")


def truncated(folder):
    raw = (folder / "train_catvnoncat.h5").read_bytes()
    (folder / "train_catvnoncat.h5").write_bytes(raw[: len(raw) // 2])


def no_test(folder):
    (folder / "test_catvnoncat.h5").unlink()


@pytest.mark.parametrize(
    "spoil, file, needle",
    [
        (no_test, "test", "missing; put the course's train_catvnoncat.h5 and test_catvnoncat.h5"),
        (text_file, "train", "not an HDF5 file; get a fresh copy"),
        (truncated, "train", "cannot read it"),
        (no_y, "train", "no dataset 'train_set_y' (found: list_classes, train_set_x)"),
        (bad_x, "train", "train_set_x is uint8 of shape (3, 64, 64); expected uint8 of shape"),
        (float_x, "train", "train_set_x is float64 of shape (3, 64, 64, 3); expected uint8"),
        (float_y, "train", "train_set_y is float64 of shape (3,); expected integers"),
        (short_y, "train", "train_set_y has 2 labels but train_set_x has 3 images"),
        (label_two, "test", "test_set_y[1] is 2; expected 0 (non-cat) or 1 (cat)"),
        (other_classes, "test", "its list_classes differ from those of train_catvnoncat.h5"),
        (three_classes, "test", "list_classes is |S1 of shape (3,); expected two names"),
    ],
)
def test_bad_files_are_one_line_naming_the_file(tmp_path, spoil, file, needle):
    make_course(tmp_path)
    spoil(tmp_path)
    with pytest.raises(DataError) as info:
        read_catvnoncat(tmp_path)
    message = str(info.value)
    assert message.startswith(str(tmp_path / f"{file}_catvnoncat.h5"))
    assert needle in message and "\n" not in message


def test_not_a_folder_and_h5py_missing(tmp_path, monkeypatch):
    (tmp_path / "x.h5").write_bytes(b"")
    with pytest.raises(DataError, match="not a folder; expected the folder holding"):
        read_catvnoncat(tmp_path / "x.h5")
    make_course(tmp_path)
    monkeypatch.setitem(sys.modules, "h5py", None)  # `import h5py` raises ImportError
    with pytest.raises(ConfigError) as info:
        read_catvnoncat(tmp_path)
    assert str(info.value) == (
        "reading catvnoncat's HDF5 files needs h5py; install it with `pip install h5py`"
    )


@pytest.mark.skipif(not SHARED.is_dir(), reason="the data root /work/shared/data is absent")
def test_the_real_files_hold_the_published_counts():
    parts = read_catvnoncat(SHARED / "catvnoncat")
    assert parts.train.x.shape == (209, 3, 64, 64) and parts.test.x.shape == (50, 3, 64, 64)
    assert parts.train.y.bincount().tolist() == [209 - 72, 72]  # 72 cats (PROVENANCE.md)
    assert parts.test.y.bincount().tolist() == [50 - 33, 33]  # 33 cats
    assert parts.class_names == ["non-cat", "cat"]
    with h5py.File(SHARED / "catvnoncat" / "train_catvnoncat.h5", "r") as f:
        train_set_x_orig = f["train_set_x"][:]
    np.testing.assert_array_equal(
        flatten_course(parts.train.x), train_set_x_orig.reshape(209, -1).T / 255.0
    )


def test_float64_pixels_are_the_courses_values_exactly(tmp_path):
    data = make_course(tmp_path)
    parts = read_catvnoncat(tmp_path, dtype="float64")
    x, _ = data["train"]
    assert parts.train.x.dtype == torch.float64
    expected = x.transpose(0, 3, 1, 2) / 255.0  # the course's float64 division
    np.testing.assert_array_equal(parts.train.x.numpy(), expected)
    with pytest.raises(ConfigError, match="expected float32 or float64"):
        read_catvnoncat(tmp_path, dtype="float16")
