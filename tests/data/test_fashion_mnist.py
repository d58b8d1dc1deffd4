"""The Fashion-MNIST reader on tiny idx files written the way the originals are."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.data import DOWNLOADS, DataError, as_images, load_dataset, load_fashion_mnist
from nnzoo.errors import ConfigError

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
NAMES += ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def idx(array: np.ndarray) -> bytes:
    """The idx format: 0, 0, type 0x08 (unsigned byte), ndim, big-endian sizes, then the data."""
    sizes = np.array(array.shape, dtype=">u4").tobytes()
    return bytes([0, 0, 0x08, array.ndim]) + sizes + array.astype(np.uint8).tobytes()


def make_fashion(folder: Path, *, per_class=(12, 2), gz=True, seed=0) -> dict:
    """12 training and 2 test images of each class; image i of a part has pixel [0, 0] = i."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for part, n in zip(("train", "t10k"), per_class):
        labels = np.tile(np.arange(10), n)
        images = rng.integers(0, 256, size=(len(labels), 28, 28))
        images[:, 0, 0] = np.arange(len(labels))
        data[part] = (images, labels)
        for name, array in (
            (f"{part}-images-idx3-ubyte", images),
            (f"{part}-labels-idx1-ubyte", labels),
        ):
            raw = idx(array)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
    return data


@pytest.mark.parametrize("gz", [True, False])
def test_images_become_rows_in_zero_one(tmp_path, gz):
    data = make_fashion(tmp_path, gz=gz)
    splits = load_fashion_mnist(tmp_path, val_fraction=1 / 6)
    images, labels = data["t10k"]
    assert splits.test.x.shape == (20, 28, 28) and splits.test.x.dtype == torch.float32
    np.testing.assert_allclose(splits.test.x.numpy(), images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(splits.test.y.numpy(), labels)
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"
    assert splits.num_classes == 10 and splits.seq_len == 28 and splits.num_features == 28
    assert splits.train.lengths is None and splits.train.groups is None


def test_validation_is_a_stratified_share_of_the_training_images(tmp_path):
    images, labels = make_fashion(tmp_path)["train"]
    splits = load_fashion_mnist(tmp_path)  # 1/12 of 12 per class: one of each
    assert splits.val.y.bincount().tolist() == [1] * 10
    assert splits.train.y.bincount().tolist() == [11] * 10
    rows = [round(v * 255) for v in torch.cat([splits.train.x, splits.val.x])[:, 0, 0].tolist()]
    assert sorted(rows) == list(range(120))
    np.testing.assert_allclose(splits.val.x.numpy(), images[rows[-10:]] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(splits.val.y.numpy(), labels[rows[-10:]])
    other = load_fashion_mnist(tmp_path, seed=1)
    assert not torch.equal(other.val.x, splits.val.x)


def test_registry_standardisation_and_as_images(tmp_path):
    images, _ = make_fashion(tmp_path / "fashion-mnist")["train"]
    splits = load_dataset("fashion-mnist", root=tmp_path, standardize_features=True, seed=None)
    raw = load_fashion_mnist(tmp_path / "fashion-mnist")
    rows = [round(v * 255) for v in raw.train.x[:, 0, 0].tolist()]
    pixels = images[rows].reshape(-1, 28) / 255.0  # every image row of the train part
    np.testing.assert_allclose(splits.info["standardize"]["mean"], pixels.mean(0), rtol=1e-5)
    np.testing.assert_allclose(splits.info["standardize"]["std"], pixels.std(0, ddof=1), rtol=1e-5)
    x = splits.test.x
    assert as_images(x).shape == (20, 1, 28, 28) and torch.equal(as_images(x)[:, 0], x)
    with pytest.raises(ConfigError, match=r"Expected \(N, H, W\) images, got shape \(20, 784\)"):
        as_images(x.reshape(20, -1))


def error_of(folder) -> str:
    with pytest.raises(DataError) as e:
        load_fashion_mnist(folder)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_missing_file_is_named(tmp_path):
    make_fashion(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    message = error_of(tmp_path)
    assert message.startswith(f"{tmp_path / 't10k-labels-idx1-ubyte'}.gz: missing")
    assert "not a folder" in error_of(tmp_path / "t10k-images-idx3-ubyte.gz")


def test_wrong_magic_is_named(tmp_path):
    make_fashion(tmp_path)
    images, labels = (
        tmp_path / "train-images-idx3-ubyte.gz",
        tmp_path / "train-labels-idx1-ubyte.gz",
    )
    images.write_bytes(labels.read_bytes())
    assert error_of(tmp_path) == (
        f"{images}: magic number 0x00000801; expected 0x00000803 (idx images file)"
    )


def test_truncated_data_and_truncated_gzip_are_named(tmp_path):
    make_fashion(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    message = error_of(tmp_path)
    assert message == (
        f"{path}: {len(raw) - 116} data bytes but the header promises 20 x 28 x 28 = 15680; "
        "the file is truncated; replace it with a fresh copy (`nnzoo data download fashion-mnist`)"
    )
    path.write_bytes(gzip.compress(raw[:10]))
    assert error_of(tmp_path).startswith(f"{path}: 10 bytes, shorter than the 16-byte idx header")
    path.write_bytes(gzip.compress(raw)[:-500])
    assert error_of(tmp_path).startswith(f"{path}: cannot read it")


def test_count_mismatch_and_bad_labels_are_named(tmp_path):
    make_fashion(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx(np.arange(119) % 10)))
    assert error_of(tmp_path) == (
        f"{path}: 119 labels but train-images-idx3-ubyte.gz has 120 images; replace it with a "
        "fresh copy (`nnzoo data download fashion-mnist`)"
    )
    path.write_bytes(gzip.compress(idx(np.array([3] * 7 + [10] + [4] * 112))))
    assert error_of(tmp_path) == f"{path}: label 10 of image 7 is out of range; expected 0..9"


def test_official_downloads_are_registered():
    files = DOWNLOADS["fashion-mnist"]
    assert [f.filename for f in files] == [f"{name}.gz" for name in NAMES]
    for f in files:
        assert f.url == f"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/{f.filename}"
        assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0
