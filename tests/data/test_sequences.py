"""The `sequences` reader: your own .npz or CSV files."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.data import (
    DATASETS,
    DEFAULTS,
    DataError,
    load_dataset,
    load_sequences,
    save_sequences_npz,
)
from nnzoo.data.registry import DatasetDefaults

NAMES = ["walk", "sit", "run"]


def make_arrays(n: int = 30, steps: int = 6, features: int = 2, seed: int = 0):
    """x (n, steps, features) with x[i, 0, 0] = 100 + i naming sequence i; 10 per class."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, steps + 1, size=n)
    lengths[0] = steps
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    x[:, 0, 0] = 100 + np.arange(n)
    y = np.arange(n) % 3
    return x, y, lengths


def ids(part) -> list[int]:
    return [round(v) - 100 for v in part.x[:, 0, 0].tolist()]


def padded(x, lengths):
    """x with the steps past each length set to zero."""
    return np.where(np.arange(x.shape[1])[None, :, None] < lengths[:, None, None], x, 0)


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as e:
        call(*args, **kwargs)
    assert "\n" not in str(e.value)
    return str(e.value)


# --- .npz --------------------------------------------------------------------------------------


def test_npz_round_trip_zeroes_padding_and_splits_by_class(tmp_path):
    x, y, lengths = make_arrays()
    garbage = x.copy()
    garbage[np.arange(6)[None, :] >= lengths[:, None]] = np.nan  # padding may hold anything
    path = save_sequences_npz(tmp_path / "seqs.npz", torch.from_numpy(garbage), y, lengths, NAMES)
    assert path == tmp_path / "seqs.npz"
    splits = load_sequences(path, standardize_features=False)
    assert splits.class_names == NAMES and splits.num_features == 2 and splits.seq_len == 6
    parts = (splits.train, splits.val, splits.test)
    assert sorted(ids(splits.train) + ids(splits.val) + ids(splits.test)) == list(range(30))
    # 10 per class: test takes round(0.2 * 10) = 2 of each, val round(0.2 * 8) = 2 of each
    for part, per_class in zip(parts, (6, 2, 2)):
        assert part.y.bincount().tolist() == [per_class] * 3
        rows = ids(part)
        np.testing.assert_array_equal(part.x.numpy(), padded(x, lengths)[rows])
        np.testing.assert_array_equal(part.y.numpy(), y[rows])
        np.testing.assert_array_equal(part.lengths.numpy(), lengths[rows])
        assert part.x.dtype == torch.float32 and part.y.dtype == torch.int64


def test_npz_lowercase_x_and_default_class_names(tmp_path):
    x, y, _ = make_arrays()
    path = tmp_path / "plain.npz"
    np.savez(path, x=x.astype(np.float64), y=y.astype(np.float64))
    splits = load_sequences(path, standardize_features=False, val_fraction=0)
    assert splits.class_names == ["0", "1", "2"]
    assert splits.train.lengths is None and len(splits.val) == 0
    np.testing.assert_array_equal(splits.train.x.numpy(), x[ids(splits.train)])


def bad_npz(name):
    x, y, lengths = make_arrays(n=6)
    arrays = {"X": x, "y": y, "lengths": lengths, "class_names": np.array(NAMES)}
    if name == "label out of range":
        arrays["y"] = np.array([0, 1, 2, 3, 0, 1])
    elif name == "negative label":
        arrays["y"] = np.array([0, 1, -1, 2, 0, 1])
        del arrays["class_names"]
    elif name == "X not 3-D":
        arrays["X"] = x[:, :, 0]
    elif name == "y rows":
        arrays["y"] = y[:5]
    elif name == "y not whole":
        arrays["y"] = np.array([0, 1, 2, 0.5, 0, 1])
    elif name == "length 0":
        arrays["lengths"] = np.array([6, 0, 2, 3, 4, 5])
    elif name == "length past T":
        arrays["lengths"] = np.array([6, 2, 7, 3, 4, 5])
    elif name in ("nan", "inf"):
        arrays["X"] = x.copy()
        arrays["X"][4, 1, 1] = float(name)
    elif name == "no y":
        del arrays["y"]
    elif name == "names not strings":
        arrays["class_names"] = np.array([1, 2, 3])
    elif name == "object names":
        arrays["class_names"] = np.array(NAMES, dtype=object)
    return arrays


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("label out of range", "y[3]: label 3 is out of range; expected class indices 0..2"),
        ("X not 3-D", "X has shape (6, 6); expected 3 dimensions (N, T, F)"),
        ("y rows", "y has shape (5,); expected (6,), one per sequence"),
        ("y not whole", "y[3] is not a whole number; expected integers"),
        ("length 0", "lengths[1] is 0; expected 1..6 (the T of X)"),
        ("length past T", "lengths[2] is 7; expected 1..6 (the T of X)"),
        ("nan", "X[4, 1, 1] is not finite (NaN or infinity); expected finite numbers"),
        ("inf", "X[4, 1, 1] is not finite (NaN or infinity); expected finite numbers"),
        ("no y", "no array 'y' (found: X, class_names, lengths)"),
        ("names not strings", "class_names has dtype int64 and shape (3,)"),
        ("object names", "cannot read array 'class_names'"),
    ],
)
def test_npz_errors_name_the_file_and_the_problem(tmp_path, name, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **bad_npz(name))
    error = one_line_error(load_sequences, path)
    assert error.startswith(f"{path}: ") and message in error


def test_a_file_that_is_not_npz(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_text("X,y\n1,2\n")
    assert one_line_error(load_sequences, path).startswith(f"{path}: not a .npz archive")
    other = tmp_path / "data.json"
    other.write_text("{}")
    assert "unknown format" in one_line_error(load_sequences, other)
    assert "does not exist" in one_line_error(load_sequences, tmp_path / "none.npz")


# --- splits and standardisation ----------------------------------------------------------------


def test_the_seed_moves_validation_but_never_the_test_set(tmp_path):
    x, y, lengths = make_arrays()
    path = save_sequences_npz(tmp_path / "s.npz", x, y, lengths)
    runs = [load_sequences(path, seed=s, standardize_features=False) for s in range(4)]
    assert all(ids(r.test) == ids(runs[0].test) for r in runs)
    assert len({tuple(ids(r.val)) for r in runs}) > 1
    again = load_sequences(path, seed=2, standardize_features=False)
    assert ids(again.val) == ids(runs[2].val) and ids(again.train) == ids(runs[2].train)


def test_a_test_file_is_the_test_set(tmp_path):
    x, y, lengths = make_arrays()
    xt, yt, lt = make_arrays(n=9, steps=8, seed=1)
    xt[:, 0, 0] += 100  # ids 100..108
    train = save_sequences_npz(tmp_path / "train.npz", x, y, lengths)
    test = save_sequences_npz(tmp_path / "test.npz", xt, yt, lt)
    splits = load_sequences(train, test_path=str(test), standardize_features=False)
    assert splits.seq_len == 8  # padded to the longer file
    np.testing.assert_array_equal(splits.test.x.numpy(), padded(xt, lt))
    np.testing.assert_array_equal(splits.test.lengths.numpy(), lt)
    assert sorted(ids(splits.train) + ids(splits.val)) == list(range(30))
    assert len(splits.val) == 6 and splits.info["test"] == f"the file {test}"


def test_standardisation_uses_the_valid_steps_of_the_train_part_only(tmp_path):
    x, y, lengths = make_arrays()
    x[:, :, 1] = x[:, :, 1] * 3 + 5
    path = save_sequences_npz(tmp_path / "s.npz", x, y, lengths)
    raw = load_sequences(path, seed=3, standardize_features=False)
    scaled = load_sequences(path, seed=3)
    rows = ids(raw.train)
    steps = np.concatenate([x[i, : lengths[i]] for i in rows])  # (valid steps, F)
    mean, std = steps.mean(0), steps.std(0, ddof=1)
    np.testing.assert_allclose(scaled.info["standardize"]["mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(scaled.info["standardize"]["std"], std, rtol=1e-5)
    for part, raw_part in ((scaled.test, raw.test), (scaled.val, raw.val)):
        expected = padded((x[ids(raw_part)] - mean) / std, lengths[ids(raw_part)])
        np.testing.assert_allclose(part.x.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"test_fraction": 0.0}, "test_fraction=0.0; expected a number in (0, 1)"),
        (
            {"test_fraction": 0.5, "val_fraction": 1.0},
            "val_fraction=1.0; expected a number in [0, 1)",
        ),
        ({"test_fraction": 0.9}, "test_fraction=0.9 leaves no training sequence"),
        ({"test_fraction": 0.4, "val_fraction": 0.9}, "val_fraction=0.9 leaves no training"),
        ({"test_fraction": 0.2}, "test_fraction=0.2 rounds to no sequence of any class"),
        (
            {"test_fraction": 0.5, "val_fraction": 0.1},
            "val_fraction=0.1 rounds to no validation sequences in any class",
        ),
    ],
)
def test_bad_fractions(tmp_path, options, message):
    x, y, _ = make_arrays(n=6)  # two of each class
    path = save_sequences_npz(tmp_path / "s.npz", x, y)
    assert message in one_line_error(load_sequences, path, **options)


def test_registered_and_reached_through_load_dataset(tmp_path):
    x, y, lengths = make_arrays()
    path = save_sequences_npz(tmp_path / "s.npz", x, y, lengths)
    assert DATASETS.options("sequences") == {
        "test_path": None,
        "test_fraction": 0.2,
        "label_indices": False,
    }
    assert DEFAULTS["sequences"] == DatasetDefaults("stratified", {"val_fraction": 0.2}, {}, True)
    splits = load_dataset("sequences", path=path, seed=None, val_fraction=0.0)
    assert splits.name == "sequences" and len(splits.val) == 0 and len(splits.test) == 6


# --- CSV ---------------------------------------------------------------------------------------


def csv_rows(x, y, lengths, names=NAMES, *, seed=0):
    """One row per valid step, with string ids, times 0.5 apart, in shuffled order."""
    rows = [
        (f"s{i}", 0.5 * t, names[y[i]], *x[i, t]) for i in range(len(x)) for t in range(lengths[i])
    ]
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[k] for k in order]


def write_csv(path: Path, header, rows, *, newline="\n", delimiter=",") -> Path:
    lines = [delimiter.join(header)]
    lines += [delimiter.join(v if isinstance(v, str) else repr(float(v)) for v in r) for r in rows]
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def expected_from_rows(rows, names):
    """Sequences in order of first appearance, steps by time, labels by sorted name."""
    order = list(dict.fromkeys(r[0] for r in rows))
    steps = {sid: sorted((r for r in rows if r[0] == sid), key=lambda r: r[1]) for sid in order}
    lengths = np.array([len(steps[sid]) for sid in order])
    x = np.zeros((len(order), lengths.max(), len(rows[0]) - 3), dtype=np.float32)
    for i, sid in enumerate(order):
        x[i, : lengths[i]] = [r[3:] for r in steps[sid]]
    y = np.array([sorted(names).index(steps[sid][0][2]) for sid in order])
    return x, y, lengths


def load_all(path, **options):
    """Everything in file order: the file is also the test file and nothing validates."""
    return load_sequences(
        path, test_path=str(path), val_fraction=0.0, standardize_features=False, **options
    )


@pytest.mark.parametrize(
    ("header", "newline", "delimiter", "suffix"),
    [
        (["sequence", "time", "label", "ax", "ay"], "\n", ",", ".csv"),
        (["ID", "T", "Label", "ax", "ay"], "\r\n", ",", ".csv"),
        (["seq_id", "step", "label", "ax", "ay"], "\n", "\t", ".tsv"),
    ],
)
def test_csv_rows_become_padded_sequences(tmp_path, header, newline, delimiter, suffix):
    x, y, lengths = make_arrays()
    rows = csv_rows(x, y, lengths)
    path = write_csv(tmp_path / f"s{suffix}", header, rows, newline=newline, delimiter=delimiter)
    splits = load_all(path)
    ex, ey, el = expected_from_rows(rows, NAMES)
    assert splits.class_names == sorted(NAMES)
    assert splits.info["features"] == ["ax", "ay"]
    np.testing.assert_array_equal(splits.train.x.numpy(), ex)
    np.testing.assert_array_equal(splits.train.y.numpy(), ey)
    np.testing.assert_array_equal(splits.train.lengths.numpy(), el)


def test_csv_integer_labels_compressed_with_a_bom_and_an_id_feature(tmp_path):
    x, y, lengths = make_arrays(n=9)
    rows = [(sid, t, str(label), *f) for sid, t, label, *f in csv_rows(x, y, lengths, [0, 1, 2])]
    rows = [(sid, t, label, f[0], sid[1:], f[1]) for sid, t, label, *f in rows]
    path = tmp_path / "s.csv"
    write_csv(path, ["sequence", "time", "label", "ax", "id", "ay"], rows)
    gz = tmp_path / "s.csv.gz"
    gz.write_bytes(gzip.compress(b"\xef\xbb\xbf" + path.read_bytes()))
    splits = load_all(gz)
    assert splits.class_names == ["0", "1", "2"]
    assert splits.info["features"] == ["ax", "id", "ay"]  # 'id' is a feature beside 'sequence'
    ex, ey, _ = expected_from_rows(rows, ["0", "1", "2"])
    np.testing.assert_array_equal(splits.train.x.numpy(), ex)
    np.testing.assert_array_equal(splits.train.y.numpy(), ey)


def test_csv_test_file_of_other_lengths_and_column_order(tmp_path):
    x, y, lengths = make_arrays()
    train = write_csv(
        tmp_path / "train.csv", ["sequence", "time", "label", "ax", "ay"], csv_rows(x, y, lengths)
    )
    xt, yt, lt = make_arrays(n=4, steps=9, seed=5)
    rows = [(s, t, lab, b, a) for s, t, lab, a, b in csv_rows(xt, yt, lt)]
    test = write_csv(tmp_path / "test.csv", ["sequence", "time", "label", "ay", "ax"], rows)
    splits = load_sequences(train, test_path=test, standardize_features=False)
    assert splits.seq_len == lt.max() and splits.train.x.shape[1] == lt.max()
    ex, _, el = expected_from_rows(csv_rows(xt, yt, lt), NAMES)
    np.testing.assert_array_equal(splits.test.x.numpy(), ex)
    np.testing.assert_array_equal(splits.test.lengths.numpy(), el)


CSV_HEADER = "sequence,time,label,ax,ay\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "a,0,walk,1,2\na,1,run,1,2\n",
            "line 3: the label differs from that of the same sequence on line 2; "
            "a sequence has one label: give all its rows the same label",
        ),
        ("a,0,walk,1,2\nb,0,run,1,abc\n", "line 3: column 'ay' is not a number; expected a number"),
        ("a,0,walk,1,2\nb,0,run,,2\n", "line 3: column 'ax' is empty; expected a number"),
        (
            "a,0,walk,1,2\na,1,walk,1,nan\n",
            "line 3: column 'ay' is not finite (NaN or infinity); expected a finite number",
        ),
        (
            "a,0,walk,1,2\na,x,walk,1,2\n",
            "line 3: column 'time' is not a number; expected a number",
        ),
        (
            "a,0,walk,1,2\nb,0,run,1\n",
            "line 3 has 4 fields; the header has 5: give every row one field per header column",
        ),
        (
            "a,0,walk,1,2\n\na,0,walk,3,4\n",
            "line 4: the same sequence already has a step at this time (line 2); "
            "give each step of a sequence its own time",
        ),
        ("a,0,,1,2\n", "line 2: the label is empty; write a label on every row"),
        ("", "no rows after the header; add one row per step of each sequence"),
    ],
)
def test_csv_errors_name_the_file_the_line_and_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(CSV_HEADER + body)
    error = one_line_error(load_sequences, path)
    assert error == f"{path}: {message}"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "sequence,time,ax",
            "line 2: no 'label' column (the header has 3); expected one named label",
        ),
        ("sequence,label,ax", "line 2: no 'time' column"),
        ("id,seq_id,time,label,ax", "line 2: columns seq_id and id could both be the sequence"),
        ("sequence,time,label", "line 2: no feature columns besides sequence, time, label"),
        ("sequence,time,label,ax,AX", "line 2: column 'ax' occurs twice"),
    ],
)
def test_csv_header_errors(tmp_path, header, message):
    path = tmp_path / "bad.csv"
    path.write_text("\n" + header + "\n")
    assert one_line_error(load_sequences, path).startswith(f"{path}: {message}")


def test_csv_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")
    assert one_line_error(load_sequences, path).startswith(f"{path}: empty file")


def test_labels_must_agree_between_train_and_test_files(tmp_path):
    x, y, lengths = make_arrays()
    train = write_csv(
        tmp_path / "train.csv", ["sequence", "time", "label", "ax", "ay"], csv_rows(x, y, lengths)
    )
    test = save_sequences_npz(tmp_path / "test.npz", x, y, lengths)
    error = one_line_error(load_sequences, train, test_path=test)
    assert error.startswith(f"{train}: labels are class names, but {test} gives class indices")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(train.read_text().replace("ay", "az"))
    assert "feature columns ax, az differ" in one_line_error(
        load_sequences, train, test_path=renamed
    )
    other = save_sequences_npz(tmp_path / "other.npz", x[:, :, :1], y, lengths)
    assert "1 features but" in one_line_error(load_sequences, test, test_path=other)


# --- labels: sorted distinct values, or indices ------------------------------------------------


def uea_like_csv(path, labels, *, steps=3, seed=0):
    """One sequence per label, as the UEA archive numbers classes (any integers)."""
    rng = np.random.default_rng(seed)
    rows = [
        (f"s{i}", t, str(label), *rng.normal(size=2))
        for i, label in enumerate(labels)
        for t in range(steps)
    ]
    return write_csv(path, ["sequence", "time", "label", "ax", "ay"], rows)


def test_integer_csv_labels_from_1_are_their_distinct_values(tmp_path):
    labels = [1, 2, 3, 4, 5, 6, 7, 8, 9] * 2
    splits = load_all(uea_like_csv(tmp_path / "uea.csv", labels))
    assert splits.class_names == [str(v) for v in range(1, 10)]  # 9 classes, no empty "0"
    np.testing.assert_array_equal(splits.train.y.numpy(), np.array(labels) - 1)


def test_integer_labels_sort_as_numbers_and_gaps_close(tmp_path):
    labels = [10, 2, -3, 10, 2]
    splits = load_all(uea_like_csv(tmp_path / "gaps.csv", labels))
    distinct = sorted(set(labels))  # the reference: numeric order, -3 < 2 < 10
    assert splits.class_names == [str(v) for v in distinct]
    np.testing.assert_array_equal(splits.train.y.numpy(), [distinct.index(v) for v in labels])


def test_npz_labels_without_class_names_follow_the_same_rule(tmp_path):
    x, _, _ = make_arrays(n=6)
    y = np.array([1, 2, 3, 1, 2, 3])
    path = tmp_path / "s.npz"
    np.savez(path, X=x, y=y)
    splits = load_sequences(path, test_path=str(path), val_fraction=0, standardize_features=False)
    assert splits.class_names == ["1", "2", "3"]
    np.testing.assert_array_equal(splits.train.y.numpy(), y - 1)


def test_label_indices_keeps_indices_and_warns_once_about_a_gap(tmp_path, capsys):
    labels = [1, 2, 3, 1, 2, 3]
    path = uea_like_csv(tmp_path / "uea.csv", labels)
    splits = load_all(path, label_indices=True)
    assert splits.class_names == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(splits.train.y.numpy(), labels)
    err = capsys.readouterr().err
    assert err == (
        f"nnzoo: warning: {path}: label_indices is on and no sequence has class index 0 of 0..3; "
        "those classes stay, empty (turn label_indices off to number only the labels present)\n"
    )
    load_all(uea_like_csv(tmp_path / "full.csv", [0, 1, 2, 0]), label_indices=True)
    assert capsys.readouterr().err == ""  # no gap, no warning


def test_label_indices_rejects_negative_and_named_labels(tmp_path):
    path = uea_like_csv(tmp_path / "neg.csv", [0, -1, 1])
    assert one_line_error(load_all, path, label_indices=True) == (
        f"{path}: line 5: label -1 is out of range; expected class indices 0..1; "
        "or turn label_indices off"
    )
    rows = [("a", 0, "walk", 1.0, 2.0)]
    named = write_csv(tmp_path / "named.csv", ["sequence", "time", "label", "ax", "ay"], rows)
    assert one_line_error(load_all, named, label_indices=True).startswith(
        f"{named}: line 2: the label is not an integer, but label_indices is on"
    )


def test_label_indices_must_be_a_bool(tmp_path):
    from nnzoo.errors import ConfigError

    path = uea_like_csv(tmp_path / "uea.csv", [0, 1])
    with pytest.raises(ConfigError, match=r"^data\.options\.label_indices='yes': expected true"):
        load_all(path, label_indices="yes")


def test_npz_info_names_the_feature_count_not_none(tmp_path):
    x, y, lengths = make_arrays()
    path = save_sequences_npz(tmp_path / "s.npz", x, y, lengths, NAMES)
    splits = load_sequences(path, standardize_features=False)
    assert splits.info["features"] == f"2 (unnamed columns of {path})"
