"""The Fashion-MNIST reader on tiny idx files written the way the originals are."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.data import DOWNLOADS, DataError, as_images, load_dataset, load_fashion_mnist
from nnzoo.data.registry import DEFAULTS
from nnzoo.engine.fit import fit
from nnzoo.errors import ConfigError
from nnzoo.models import create_model
from nnzoo.tasks.classify import Classify

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


# -- augmentation -----------------------------------------------------------------------------


def as_floats(images: np.ndarray) -> torch.Tensor:
    """The reference: bytes (N, 28, 28) -> (N, 1, 28, 28) float32 bytes / 255, in NumPy."""
    return torch.from_numpy(images.astype(np.float32) / np.float32(255))[:, None]


def test_the_default_split_is_the_readers_own_and_draws_the_stratified_rows(tmp_path):
    images, labels = make_fashion(tmp_path)["train"]
    assert DEFAULTS["fashion-mnist"].split == "given"
    splits = load_fashion_mnist(tmp_path, seed=4)
    # the former policy's draw on the file's order: per class, a seeded permutation's head
    gen, val_rows = torch.Generator().manual_seed(4), []
    for label in range(10):
        rows = torch.from_numpy(np.flatnonzero(labels == label))
        val_rows += rows[torch.randperm(len(rows), generator=gen)][:1].tolist()
    val_rows.sort()
    assert torch.equal(splits.val.x, as_floats(images[val_rows])[:, 0])
    assert splits.info["validation"] == "a stratified 0.0833333 of the training images (seed 4)"
    assert splits.info["split"] == "given (drawn with the data)"
    kfold = load_fashion_mnist(tmp_path, split="kfold", folds=4)  # re-splits train + val
    assert (len(kfold.train), len(kfold.val)) == (90, 30)


def test_augmentation_reaches_the_training_batches_only(tmp_path):
    images, _ = make_fashion(tmp_path)["train"]
    splits = load_fashion_mnist(tmp_path, augment={"hflip": 1.0})  # every image flipped
    train = splits.train.x
    plain = as_floats(images[[int(name) for name in train.names]])  # names: the file's rows
    assert train.shape == (110, 1, 28, 28) and torch.is_grad_enabled()
    assert torch.equal(train[:], plain.flip(-1))
    assert torch.equal(train[torch.tensor([7, 0])], plain[[7, 0]].flip(-1))
    with torch.no_grad():
        assert torch.equal(train[:], plain)
    assert splits.val.x.augment is None and splits.test.x.augment is None
    assert splits.info["augment"] == "hflip 1 (training batches only)"


def test_validation_and_test_are_the_plain_readers_and_no_row_moves(tmp_path):
    data = make_fashion(tmp_path)
    plain = load_fashion_mnist(tmp_path, seed=3, val_fraction=1 / 6)
    spec = {"crop": [0.5, 0.9], "hflip": 0.5, "rotate": 20, "color": 30}
    augmented = load_fashion_mnist(tmp_path, seed=3, val_fraction=1 / 6, augment=spec)
    assert [len(augmented.train), len(augmented.val), len(augmented.test)] == [100, 20, 20]
    assert augmented.val.y.bincount().tolist() == [2] * 10
    for part in ("train", "val", "test"):
        a, p = getattr(augmented, part), getattr(plain, part)
        assert torch.equal(a.y, p.y)
        with torch.no_grad():
            assert torch.equal(a.x[:], p.x.unsqueeze(1))
    # validation and test stay plain while autograd records, too
    assert torch.equal(augmented.val.x[:], plain.val.x.unsqueeze(1))
    assert torch.equal(augmented.test.x[:], as_floats(data["t10k"][0]))
    assert not torch.equal(augmented.train.x[:], plain.train.x.unsqueeze(1))


def test_a_seed_gives_the_same_augmented_batches(tmp_path):
    make_fashion(tmp_path)
    spec = {"hflip": 0.5, "crop": [0.85, 1.0]}
    a = load_fashion_mnist(tmp_path, augment=spec).train.x
    b = load_fashion_mnist(tmp_path, augment=spec).train.x
    index = torch.arange(64)
    torch.manual_seed(5)
    first = a[index]
    torch.manual_seed(5)
    again = b[index]
    torch.manual_seed(6)
    other = a[index]
    assert torch.equal(first, again) and not torch.equal(first, other)
    # hflip alone against torch: one draw per image, flipped where it is below p
    flips = load_fashion_mnist(tmp_path, augment={"hflip": 0.5}).train.x
    with torch.no_grad():
        plain = flips[index]
    torch.manual_seed(5)
    batch = flips[index]
    torch.manual_seed(5)
    flipped = torch.rand(64) < 0.5
    assert 0 < int(flipped.sum()) < 64
    expected = torch.where(flipped[:, None, None, None], plain.flip(-1), plain)
    assert torch.equal(batch, expected)


class Recorder(torch.nn.Module):
    """The deeper CNN, keeping every batch it is given and whether autograd recorded it."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, x, lengths=None):
        self.seen.append((torch.is_grad_enabled(), x.detach().clone()))
        return self.model(x, lengths)


def test_fit_trains_deeper_on_flipped_images_and_validates_on_plain_ones(tmp_path):
    images, _ = make_fashion(tmp_path)["train"]
    reference = as_floats(images)  # (120, 1, 28, 28), row i has pixel [0, 0] = i / 255
    splits = load_fashion_mnist(tmp_path, augment={"hflip": 1.0})
    dims = Classify().model_dims(splits)
    assert dims["input_shape"] == [1, 28, 28]
    torch.manual_seed(0)
    config = RunConfig(
        model=ModelConfig(name="deeper"), train=TrainConfig(epochs=1, batch_size=32, lr=0.01)
    )
    model = Recorder(create_model(config.model, dims["num_features"], 10, dims["input_shape"]))
    fit(model, splits.train, splits.val, config)
    training = [x for grad, x in model.seen if grad]
    evaluation = [x for grad, x in model.seen if not grad]
    assert [len(x) for x in training] == [32, 32, 32, 14]
    for x in training:  # flipped: the row number now sits in pixel [0, 27]
        rows = (x[:, 0, 0, 27] * 255).round().long()
        assert torch.equal(x, reference[rows].flip(-1))
    seen_val = torch.cat(evaluation)
    rows = (seen_val[:, 0, 0, 0] * 255).round().long()
    assert torch.equal(seen_val, reference[rows])
    assert sorted(rows.tolist()) == sorted(int(n) for n in splits.val.x.names)


def test_bad_augmentation_and_other_policies_are_one_line(tmp_path):
    make_fashion(tmp_path)
    with pytest.raises(ConfigError, match=r"data\.options\.augment: unknown key 'vflip'"):
        load_fashion_mnist(tmp_path, augment={"vflip": 0.5})
    with pytest.raises(ConfigError, match=r"needs the image reader's own split \(split 'given'\)"):
        load_fashion_mnist(tmp_path, augment={"hflip": 0.5}, split="stratified")
    with pytest.raises(DataError, match=r"val_fraction=1\.5; expected a number in \[0, 1\)"):
        load_fashion_mnist(tmp_path, augment={"hflip": 0.5}, val_fraction=1.5)


def test_a_named_policy_takes_the_val_fraction_too(tmp_path):
    """--split stratified with val_fraction 0.25: a quarter of train + val validates, as the
    policy was asked (the reader's own 1/12 share is only where the policy starts from)."""
    make_fashion(tmp_path, per_class=(12, 2))
    splits = load_dataset("fashion-mnist", path=tmp_path, split="stratified", val_fraction=0.25)
    assert len(splits.val) == 10 * 3 and len(splits.train) == 10 * 9  # per class: 3 of 12
    assert torch.bincount(splits.val.y, minlength=10).tolist() == [3] * 10


def test_standardising_stored_images_is_one_line(tmp_path):
    make_fashion(tmp_path, per_class=(12, 2))
    with pytest.raises(ConfigError, match="standardize_features works on feature tensors"):
        load_dataset("fashion-mnist", path=tmp_path, augment={"hflip": 0.5},
                     standardize_features=True)  # fmt: skip
