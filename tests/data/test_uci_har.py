"""The UCI HAR reader on a tiny fake of the original distribution, in its three layouts."""

import io
import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.data import DataError, load_dataset
from nnzoo.data.uci_har import CHANNELS, FOLDER, STEPS, load_uci_har
from tests.data.test_files import corrupt_member

ACTIVITIES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
SUBJECTS = {"train": [1, 3, 5], "test": [2, 4]}
ROWS_PER_SUBJECT = 3


@dataclass
class FakeHar:
    folder: Path  # the "UCI HAR Dataset" folder
    x: dict  # part -> (N, 128, 9) the values as written, parsed back by numpy
    y: dict  # part -> (N,) labels 1..6 as written
    subjects: dict  # part -> (N,) subject ids


def uci_number(v: float) -> str:
    """The original format: 16 characters, three exponent digits, e.g. '  1.0412160e+000'."""
    mantissa, exponent = f"{v:.7e}".split("e")
    return f"{mantissa}e{int(exponent):+04d}".rjust(16)


def make_har(base: Path, *, xz: bool = False, seed: int = 0) -> FakeHar:
    """A 'UCI HAR Dataset' folder with 3 train and 2 test subjects, 3 windows each."""
    rng = np.random.default_rng(seed)
    folder = base / FOLDER
    folder.mkdir(parents=True)
    labels = "".join(f"{i} {name}\n" for i, name in enumerate(ACTIVITIES, 1))
    (folder / "activity_labels.txt").write_bytes(labels.encode())
    fake = FakeHar(folder, {}, {}, {})
    for part, subjects in SUBJECTS.items():
        signals = folder / part / "Inertial Signals"
        signals.mkdir(parents=True)
        subject = np.repeat(subjects, ROWS_PER_SUBJECT)
        y = rng.integers(1, 7, size=len(subject))
        (folder / part / f"y_{part}.txt").write_bytes("".join(f"{v}\n" for v in y).encode())
        (folder / part / f"subject_{part}.txt").write_bytes(
            "".join(f"{v}\n" for v in subject).encode()
        )
        channels = []
        for k, channel in enumerate(CHANNELS):
            values = rng.normal(loc=k - 4.0, scale=0.5 + 0.1 * k, size=(len(y), STEPS))
            text = "".join("".join(map(uci_number, row)) + "\r\n" for row in values)
            channels.append(np.loadtxt(io.StringIO(text)))
            path = signals / f"{channel}_{part}.txt"
            if xz:
                path.with_name(path.name + ".xz").write_bytes(lzma.compress(text.encode()))
            else:
                path.write_bytes(text.encode())
        fake.x[part] = np.stack(channels, axis=-1)
        fake.y[part], fake.subjects[part] = y, subject
    return fake


def zip_har(fake: FakeHar, path: Path) -> Path:
    """Zip the folder the way the original archive is: folder entries and macOS junk included."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__MACOSX/UCI HAR Dataset/._activity_labels.txt", b"\x00\x05\x16\x07junk")
        for file in sorted(fake.folder.rglob("*")):
            name = f"{FOLDER}/{file.relative_to(fake.folder).as_posix()}"
            if file.is_dir():
                z.writestr(name + "/", b"")
            else:
                z.write(file, name)
    return path


def check_matches(splits, fake):
    """Every value, label and subject of the fake, with validation turned off."""
    for part, got in (("train", splits.train), ("test", splits.test)):
        np.testing.assert_allclose(got.x.numpy(), fake.x[part], rtol=1e-6, atol=0)
        np.testing.assert_array_equal(got.y.numpy(), fake.y[part] - 1)
        np.testing.assert_array_equal(got.groups.numpy(), fake.subjects[part])
        assert got.x.dtype == torch.float32 and got.lengths is None
    assert len(splits.val) == 0
    assert splits.class_names == ACTIVITIES
    assert splits.num_features == 9 and splits.seq_len == STEPS


@pytest.mark.parametrize("layout", ["folder", "xz", "zip", "parent of folder", "parent of zip"])
def test_reads_every_layout(tmp_path, layout):
    fake = make_har(tmp_path / "extracted", xz=layout == "xz")
    source = {
        "folder": fake.folder,
        "xz": fake.folder,
        "zip": tmp_path / "elsewhere.zip",
        "parent of folder": tmp_path / "extracted",
        "parent of zip": tmp_path / "holder",
    }[layout]
    if layout == "zip":
        zip_har(fake, source)
    if layout == "parent of zip":
        source.mkdir()
        zip_har(fake, source / f"{FOLDER}.zip")
    splits = load_uci_har(source, val_subjects=0, standardize_features=False)
    check_matches(splits, fake)


def test_load_dataset_looks_under_the_data_root(tmp_path):
    fake = make_har(tmp_path / "root" / "uci-har")
    splits = load_dataset(
        "uci-har", root=tmp_path / "root", val_subjects=0, standardize_features=False, seed=None
    )
    check_matches(splits, fake)
    assert splits.info["source"] == str(fake.folder)
    with pytest.raises(DataError, match="nnzoo data download uci-har"):
        load_dataset("uci-har", root=tmp_path / "empty")


@pytest.mark.parametrize("seed", range(4))
def test_validation_holds_whole_training_subjects_and_leaves_test_alone(tmp_path, seed):
    fake = make_har(tmp_path)
    splits = load_uci_har(fake.folder, seed=seed, val_subjects=1, standardize_features=False)
    train, val = set(splits.train.groups.tolist()), set(splits.val.groups.tolist())
    assert len(val) == 1 and not train & val and train | val == set(SUBJECTS["train"])
    assert len(splits.train) + len(splits.val) == len(fake.y["train"])
    for part in (splits.train, splits.val):  # each window is the fake's window of its row
        rows = [np.flatnonzero(np.isclose(fake.x["train"][:, 0, 0], v))[0] for v in part.x[:, 0, 0]]
        np.testing.assert_allclose(part.x.numpy(), fake.x["train"][rows], rtol=1e-6)
        np.testing.assert_array_equal(part.groups.numpy(), fake.subjects["train"][rows])
    np.testing.assert_allclose(splits.test.x.numpy(), fake.x["test"], rtol=1e-6)
    assert f"[{val.pop()}]" in splits.info["validation"]


def test_the_seed_picks_the_validation_subjects(tmp_path):
    fake = make_har(tmp_path)
    picked = {
        tuple(load_uci_har(fake.folder, seed=s, val_subjects=1).val.groups.unique().tolist())
        for s in range(10)
    }
    assert len(picked) > 1


def test_standardisation_statistics_come_from_the_train_part_only(tmp_path):
    fake = make_har(tmp_path)
    splits = load_uci_har(fake.folder, seed=1, val_subjects=1)
    held_out = splits.val.groups.unique().item()
    train_rows = fake.x["train"][fake.subjects["train"] != held_out].reshape(-1, 9)
    mean, std = train_rows.mean(0), train_rows.std(0, ddof=1)
    np.testing.assert_allclose(splits.info["standardize"]["mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(splits.info["standardize"]["std"], std, rtol=1e-5)
    np.testing.assert_allclose(splits.test.x.numpy(), (fake.x["test"] - mean) / std, atol=1e-5)
    val_rows = fake.x["train"][fake.subjects["train"] == held_out]
    np.testing.assert_allclose(splits.val.x.numpy(), (val_rows - mean) / std, atol=1e-5)


def error_of(source, **options) -> str:
    with pytest.raises(DataError) as e:
        load_uci_har(source, **options)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_missing_signal_file_is_named(tmp_path):
    fake = make_har(tmp_path)
    missing = fake.folder / "test" / "Inertial Signals" / "body_gyro_y_test.txt"
    missing.unlink()
    assert error_of(fake.folder) == (
        f"{missing}: missing (also looked for .xz and .gz); restore it from a fresh copy of the "
        "dataset"
    )


def test_a_truncated_xz_file_is_named(tmp_path):
    fake = make_har(tmp_path, xz=True)
    path = fake.folder / "train" / "Inertial Signals" / "body_acc_x_train.txt.xz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = error_of(fake.folder)
    assert message.startswith(f"{path}: cannot read it") and "truncated" in message


def test_a_corrupt_zip_is_named(tmp_path):
    path = tmp_path / f"{FOLDER}.zip"
    path.write_bytes(b"this is not a zip archive" * 10)
    assert error_of(path).startswith(f"{path}: not a readable zip archive")


def test_a_corrupt_member_of_the_zip_is_named(tmp_path):
    fake = make_har(tmp_path / "extracted")
    path = zip_har(fake, tmp_path / f"{FOLDER}.zip")
    member = f"{FOLDER}/train/Inertial Signals/total_acc_y_train.txt"
    path.write_bytes(corrupt_member(path.read_bytes(), member))
    assert error_of(path).startswith(f"{path}!{member}: cannot read it")


def test_a_zip_without_the_dataset_is_named(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__MACOSX/UCI HAR Dataset/._activity_labels.txt", b"junk")
    assert error_of(path).startswith(f"{path}: no activity_labels.txt inside")


def test_a_short_row_is_named_with_its_line(tmp_path):
    fake = make_har(tmp_path)
    path = fake.folder / "train" / "Inertial Signals" / "total_acc_z_train.txt"
    lines = path.read_bytes().split(b"\r\n")
    lines[1] = lines[1][:-16]  # drop the last value of line 2
    path.write_bytes(b"\r\n".join(lines))
    assert error_of(fake.folder) == f"{path}: line 2 has 127 values; expected 128"


def test_a_label_out_of_range_is_named(tmp_path):
    fake = make_har(tmp_path)
    path = fake.folder / "train" / "y_train.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n7\n", 1)[:-2])
    message = error_of(fake.folder)
    assert message == (
        f"{path}: line 2: the label is not a whole number in 1..6 (the activities of "
        "activity_labels.txt); get a fresh copy of the file"
    )


@pytest.mark.parametrize("name", ["subject_test.txt", "Inertial Signals/body_acc_z_test.txt"])
def test_mismatched_row_counts_are_named(tmp_path, name):
    fake = make_har(tmp_path)
    path = fake.folder / "test" / name
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
    assert error_of(fake.folder) == (
        f"{path}: {len(lines) - 1} rows but y_test.txt has {len(lines)}; replace the dataset's "
        "files with a fresh copy of the same release"
    )


def test_bad_activity_labels_are_named(tmp_path):
    fake = make_har(tmp_path)
    path = fake.folder / "activity_labels.txt"
    path.write_bytes(b"1 WALKING\n3 SITTING\n")
    assert error_of(fake.folder) == (
        f"{path}: line 2 is not '2 <ACTIVITY NAME>'; expected one '<number> <ACTIVITY NAME>' "
        "line per activity, numbered 1, 2, ... (get a fresh copy of the file)"
    )


def test_too_many_validation_subjects(tmp_path):
    fake = make_har(tmp_path)
    assert "cannot hold out 3 of 3 groups" in error_of(fake.folder, val_subjects=3)


@pytest.mark.parametrize("xz", [False, True])
@pytest.mark.parametrize("bad", ["NaN", "inf", "-inf"])
def test_a_non_finite_signal_value_is_named_by_file_and_line(tmp_path, xz, bad):
    fake = make_har(tmp_path, xz=xz)
    path = fake.folder / "test" / "Inertial Signals" / "body_gyro_y_test.txt"
    if xz:
        text = lzma.decompress(path.with_name(path.name + ".xz").read_bytes()).decode()
    else:
        text = path.read_bytes().decode()
    lines = text.split("\r\n")
    fields = lines[3].split()
    fields[7] = bad  # line 4, value 8
    lines[3] = " ".join(fields)
    text = "\r\n".join(lines)
    if xz:
        path.with_name(path.name + ".xz").write_bytes(lzma.compress(text.encode()))
    else:
        path.write_bytes(text.encode())
    assert error_of(fake.folder) == (  # the position, not the file's text
        f"{path}: line 4: value 8 is not finite (NaN or infinity); "
        "fix that line or get a fresh copy of the file"
    )


@pytest.mark.parametrize("content", [b"", b"\r\n  \r\n"])
def test_an_empty_activity_labels_file_is_one_line(tmp_path, content):
    fake = make_har(tmp_path)
    path = fake.folder / "activity_labels.txt"
    path.write_bytes(content)
    assert error_of(fake.folder) == (
        f"{path}: empty; expected one '<number> <ACTIVITY NAME>' line per activity, numbered "
        "1, 2, ... (get a fresh copy of the file)"
    )


def test_a_malformed_activity_line_is_named_without_echoing_it(tmp_path):
    fake = make_har(tmp_path)
    path = fake.folder / "activity_labels.txt"
    path.write_bytes(b"1 WALKING\nSECRET-TOKEN\n")
    message = error_of(fake.folder)
    assert message.startswith(f"{path}: line 2 is not '2 <ACTIVITY NAME>'; ")
    assert "SECRET" not in message


def test_a_label_that_is_not_a_whole_number_is_named(tmp_path):
    fake = make_har(tmp_path)
    path = fake.folder / "test" / "y_test.txt"
    lines = path.read_text().splitlines()
    lines[4] = "2.5"
    path.write_text("\n".join(lines) + "\n")
    assert error_of(fake.folder).startswith(
        f"{path}: line 5: the label is not a whole number in 1..6"
    )
