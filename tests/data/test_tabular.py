"""The Sonar and Pima readers on tiny files written as the originals are (no header, label last)."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.preprocessing import LabelEncoder

from nnzoo.data import DEFAULTS, DataError, load_dataset
from nnzoo.data.tabular import load_pima, read_pima, read_sonar
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.tasks.classify import Classify

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"  # /work/shared/data


def write_rows(path: Path, rows: list[list[str]], *, final_newline: bool = False) -> Path:
    """Comma-separated lines, without a final newline as both originals are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(",".join(row) for row in rows)
    path.write_text(text + ("\n" if final_newline else ""))
    return path


def sonar_rows(per_class=(10, 8), seed=0) -> list[list[str]]:
    """Rows of 60 values in [0, 1] with 4 decimals, then M or R; value 1 of row i is i / 1e4."""
    rng = np.random.default_rng(seed)
    labels = ["M"] * per_class[0] + ["R"] * per_class[1]
    rng.shuffle(labels)
    rows = []
    for i, label in enumerate(labels):
        values = rng.integers(0, 10001, size=60) / 1e4
        values[0] = i / 1e4
        rows.append([f"{v:.4f}" for v in values] + [label])
    return rows


def pima_rows(per_class=(10, 5), seed=0) -> list[list[str]]:
    """Rows of 8 measurements (integers and decimals as Pima writes them), then 0 or 1."""
    rng = np.random.default_rng(seed)
    labels = ["0"] * per_class[0] + ["1"] * per_class[1]
    rng.shuffle(labels)
    rows = []
    for i, label in enumerate(labels):
        row = [str(i), *(str(int(v)) for v in rng.integers(0, 200, size=4))]
        row += [f"{rng.uniform(18, 50):.1f}", f"{rng.uniform(0, 2):.3f}", str(rng.integers(21, 80))]
        rows.append([*row, label])
    return rows


def reference(path: Path) -> tuple[np.ndarray, list[str]]:
    """The file read by the csv module: (N, F) floats and the labels as written."""
    rows = [row for row in csv.reader(io.StringIO(path.read_text())) if row]
    return np.array([[float(v) for v in row[:-1]] for row in rows]), [row[-1] for row in rows]


def every_row(parts) -> tuple[np.ndarray, np.ndarray]:
    """The train and test rows together, in the file's order (column 0 numbers the rows)."""
    x = torch.cat([parts.train.x, parts.test.x])[:, 0].double().numpy()  # (N, F)
    y = torch.cat([parts.train.y, parts.test.y]).numpy()
    order = np.argsort(x[:, 0])
    return x[order], y[order]


def test_sonar_rows_and_labels_as_label_encoder_numbers_them(tmp_path):
    path = write_rows(tmp_path / "sonar.csv", sonar_rows())
    parts = read_sonar(tmp_path)  # the folder, as <data root>/sonar/
    expected_x, labels = reference(path)
    x, y = every_row(parts)
    assert parts.train.x.shape[1:] == (1, 60) and parts.train.x.dtype == torch.float32
    np.testing.assert_allclose(x, expected_x, rtol=1e-6)
    np.testing.assert_array_equal(y, LabelEncoder().fit_transform(labels))  # M = 0, R = 1
    assert parts.class_names == ["M", "R"]
    assert parts.info["source"] == str(path) and parts.info["labels"] == {"M": 0, "R": 1}


def test_pima_rows_and_labels_as_written(tmp_path):
    path = write_rows(tmp_path / "pima-indians-diabetes.csv", pima_rows(), final_newline=True)
    parts = read_pima(path)  # the file itself
    expected_x, labels = reference(path)
    x, y = every_row(parts)
    assert parts.train.x.shape[1:] == (1, 8)
    np.testing.assert_allclose(x, expected_x, rtol=1e-6)
    assert y.tolist() == [int(v) for v in labels]
    assert parts.class_names == ["negative", "positive"]
    assert len(parts.info["features"]) == 8 and parts.info["features"][-1] == "age (years)"


def test_test_part_is_a_fixed_stratified_fifth_and_val_a_quarter_of_the_rest(tmp_path):
    write_rows(tmp_path / "sonar" / "sonar.csv", sonar_rows(per_class=(20, 15)))
    assert DEFAULTS["sonar"].split == "stratified"
    splits = load_dataset("sonar", root=tmp_path, standardize_features=False)
    # M: 20 -> 4 test, 16 -> 4 val, 12 train; R: 15 -> 3 test, 12 -> 3 val, 9 train
    assert splits.test.y.bincount().tolist() == [4, 3]
    assert splits.val.y.bincount().tolist() == [4, 3]
    assert splits.train.y.bincount().tolist() == [12, 9]
    parts = (splits.train, splits.val, splits.test)
    ids = [round(v * 1e4) for part in parts for v in part.x[:, 0, 0].tolist()]
    assert sorted(ids) == list(range(35))  # every row once
    other = load_dataset("sonar", root=tmp_path, standardize_features=False, seed=1)
    assert torch.equal(other.test.x, splits.test.x)  # the test rows do not move with the seed
    assert not torch.equal(other.val.x, splits.val.x)
    assert "seed 0" in splits.info["test"]


def test_standardised_with_the_train_part_and_trainable_by_mlp(tmp_path):
    write_rows(tmp_path / "pima-indians-diabetes.csv", pima_rows(per_class=(20, 10)))
    raw = load_pima(tmp_path, standardize_features=False)
    splits = load_pima(tmp_path)
    train = raw.train.x[:, 0].double()
    mean, std = train.mean(0), train.std(0)
    np.testing.assert_allclose(splits.info["standardize"]["mean"], mean, rtol=1e-5)
    expected = (raw.test.x[:, 0].double() - mean) / std
    np.testing.assert_allclose(splits.test.x[:, 0], expected, rtol=1e-4, atol=1e-5)
    model = MODELS.create("mlp", list(splits.train.x.shape[1:]), splits.num_classes, widths=(4,))
    x, _, lengths = Classify().collate(splits.train, torch.arange(5))
    assert model(x, lengths).shape == (5, 2) and splits.num_features == 8


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda rows: rows.__setitem__(2, rows[2][:-2] + rows[2][-1:]), "line 3 has 60"),
        (lambda rows: rows[4].append("0.1"), "line 5 has 62 comma-separated fields; expected 61"),
        (lambda rows: rows[1].__setitem__(60, "X"), "line 2: the label (field 61) is not M or R"),
        (lambda rows: rows[1].__setitem__(60, "r"), "line 2: the label (field 61) is not M or R"),
        (lambda rows: rows[3].__setitem__(6, "nan"), "line 4: value 7 is not finite"),
        (lambda rows: rows[3].__setitem__(6, "inf"), "line 4: value 7 is not finite"),
        (lambda rows: rows[0].__setitem__(9, "?"), "line 1: value 10 is not a number"),
        (lambda rows: rows[0].__setitem__(9, ""), "line 1: value 10 is empty"),
        (lambda rows: rows[0].__setitem__(9, "1 2"), "line 1: value 10 is not a number"),
        (lambda rows: rows.clear(), "empty file"),
    ],
)
def test_bad_sonar_files_are_one_line(tmp_path, edit, needle):
    rows = sonar_rows()
    edit(rows)
    path = write_rows(tmp_path / "sonar.csv", rows)
    with pytest.raises(DataError) as info:
        read_sonar(path)
    message = str(info.value)
    assert needle in message and message.startswith(str(path)) and "\n" not in message


def test_blank_lines_are_skipped_and_counted(tmp_path):
    rows = pima_rows()
    text = "\n".join(",".join(row) for row in rows[:-1]) + "\n\n"  # lines 1..14, blank 15
    (tmp_path / "p.csv").write_text(text + ",".join([*rows[-1][:-1], "2"]))
    with pytest.raises(DataError, match=r"line 16: the label \(field 9\) is not 0 or 1"):
        read_pima(tmp_path / "p.csv")
    (tmp_path / "p.csv").write_text(text + ",".join(rows[-1]) + "\n\n")
    parts = read_pima(tmp_path / "p.csv")
    assert len(parts.train) + len(parts.test) == len(rows)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty file"),
        ("\n \n", "empty file"),
        ("1,2,3,4,5,6,7,8,0.5", "line 1: the label (field 9) is not 0 or 1"),
        ("1,2,3,4,5,6,7,8,1\n1,2,3,4,5,6,7,8", "line 2 has 8 comma-separated fields; expected 9"),
        ("1,2,3,4,5,nan,7,8,1", "line 1: value 6 is not finite"),
    ],
)
def test_bad_pima_files_are_one_line(tmp_path, text, needle):
    (tmp_path / "pima.csv").write_text(text)
    with pytest.raises(DataError) as info:
        read_pima(tmp_path / "pima.csv")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_bad_test_fraction(tmp_path):
    (tmp_path / "sonar").mkdir()
    with pytest.raises(DataError) as info:
        load_dataset("sonar", root=tmp_path)
    assert str(tmp_path / "sonar" / "sonar.csv") in str(info.value)
    assert "put the original sonar.csv in <data root>/sonar/" in str(info.value)
    write_rows(tmp_path / "sonar" / "sonar.csv", sonar_rows())
    for bad in (0, 1.0, -0.1, "0.2", True):
        with pytest.raises(ConfigError, match="test_fraction=.*expected a number in \\(0, 1\\)"):
            load_dataset("sonar", root=tmp_path, test_fraction=bad)
    with pytest.raises(DataError, match="test_fraction=0.01 rounds to no test row in any class"):
        load_dataset("sonar", root=tmp_path, test_fraction=0.01)
    with pytest.raises(DataError, match="test_fraction=0.99 leaves no training row"):
        load_dataset("sonar", root=tmp_path, test_fraction=0.99)


@pytest.mark.skipif(not SHARED.is_dir(), reason="the data root /work/shared/data is absent")
def test_the_real_files_hold_the_published_counts():
    sonar = read_sonar(SHARED / "sonar")
    x = torch.cat([sonar.train.x, sonar.test.x])
    y = torch.cat([sonar.train.y, sonar.test.y])
    assert x.shape == (208, 1, 60) and bool((x >= 0).all() and (x <= 1).all())
    assert y.bincount().tolist() == [111, 97]  # M, R (PROVENANCE.md)
    pima = read_pima(SHARED / "pima-indians-diabetes")
    x = torch.cat([pima.train.x, pima.test.x])
    y = torch.cat([pima.train.y, pima.test.y])
    assert x.shape == (768, 1, 8) and y.bincount().tolist() == [500, 268]
    first = [6, 148, 72, 35, 0, 33.6, 0.627, 50]  # line 1 of the file, label 1
    match = (x[:, 0] - torch.tensor(first)).abs().amax(1) < 1e-5
    assert int(match.sum()) == 1 and int(y[match]) == 1
    splits = load_dataset("pima-indians-diabetes", root=SHARED)
    assert [len(splits.train), len(splits.val), len(splits.test)] == [460, 154, 154]
