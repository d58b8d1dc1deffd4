"""The bad-input battery: every kind of input a user can get wrong, across every command.

Each case runs one command in a working folder holding a trained run, its data and configs, and
asserts the promise of nnzoo's command line: exit status 2, exactly one line on stderr, no
traceback, a message that names the problem and says what to do (both given per case), and every
file of the working folder exactly as it was (same names, same bytes: nothing written, nothing
half-made, nothing overwritten).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnzoo.cli import main
from nnzoo.data.sequences import save_sequences_npz
from tests.data.test_catvnoncat import make_course
from tests.data.test_fashion_mnist import make_fashion
from tests.data.test_images import make_folder
from tests.data.test_music import jsb_value, write_abc, write_json
from tests.data.test_sentiment import write_uci
from tests.data.test_tatoeba import animal_pairs, spa_text, write_zip
from tests.data.test_uci_har import make_har
from tests.experiments.test_pima import write_pima
from tests.experiments.test_sonar import write_sonar


@dataclass(frozen=True)
class Case:
    name: str
    argv: list[str]
    problem: str  # a fragment of the message naming what is wrong
    action: str  # a fragment of the message saying what to do
    setup: Callable[[Path], None] | None = None  # writes the bad input into the folder


def toy(path: Path, n: int = 40, features: int = 3, seed: int = 0) -> Path:
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 8, features)).astype(np.float32)
    y = (x[:, :, 0].mean(1) > 0).astype(np.int64)
    save_sequences_npz(path, x, y, class_names=["low", "high"])
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("work"))


def make_workspace(base: Path) -> Path:
    """The working folder every case starts from: a trained run and its inputs."""
    toy(base / "train.npz")
    toy(base / "test.npz", n=12, seed=1)
    toy(base / "wide.npz", n=6, features=5, seed=2)
    (base / "run.toml").write_text(
        '[data]\nname = "sequences"\npath = "train.npz"\noptions = { test_path = "test.npz" }\n'
        '[model]\ncell = "gru"\nhidden = 4\n[train]\nepochs = 1\nbatch_size = 16\n'
    )
    (base / "search.toml").write_text(
        (base / "run.toml").read_text()
        + '[search]\ntrials = 2\nsampler = "random"\n[search.space]\n'
        + '"train.lr" = { log_uniform = [0.001, 0.01] }\n'
    )
    make_har(base / "data" / "uci-har")
    make_course(base / "data" / "catvnoncat", sizes=(10, 4))
    write_sonar(base / "data" / "sonar")
    write_pima(base / "data" / "pima-indians-diabetes")
    make_folder(base / "pets", per_class=4)
    (base / "empty-pets").mkdir()
    (base / "empty-pets" / "readme.txt").write_text("no images here")
    make_folder(base / "cats-only", per_class=4, classes=("cat",))
    write_uci(base / "data" / "sentiment-labelled-sentences")
    write_json(base / "data" / "jsb-chorales", jsb_value())
    write_abc(base / "data" / "nottingham-abc")
    (base / "data" / "spa-eng-tatoeba").mkdir()
    write_zip(base / "data" / "spa-eng-tatoeba" / "spa-eng.zip",
              {"spa-eng/spa.txt": spa_text(animal_pairs()).encode()})  # fmt: skip
    cwd = os.getcwd()
    os.chdir(base)
    try:
        argv = ["train", "run.toml", "--out", "run", "--quiet", "--threads", "1"]
        assert main(argv) == 0
        assert main([*TEXT, "--out", "textrun", "--quiet", "--data-root", "data"]) == 0
        assert main([*TRANSLATION, "--out", "transrun", "--quiet", "--data-root", "data"]) == 0
        assert main([*MUSIC, "--out", "musicrun", "--quiet", "--data-root", "data"]) == 0
    finally:
        os.chdir(cwd)
    return base


# a sentiment run and a translation run, each one epoch on tiny data
TEXT = ["train", "--data", "uci-sentiment", "--set", "data.options.folds=4", "--task", "classify",
        "--set", "task.options.binary=true", "--cell", "gru", "--hidden", "4", "--layers", "1",
        "--set", "model.options.embedding=4", "--epochs", "1", "--batch-size", "8",
        "--threads", "1"]  # fmt: skip
MUSIC = ["train", "--data", "jsb-chorales", "--model", "generator", "--task", "next-step",
         "--set", 'task.options.kind="multi-hot"', "--cell", "gru", "--hidden", "4",
         "--layers", "1", "--set", "model.options.embedding=4", "--monitor", "val_loss",
         "--epochs", "1", "--threads", "1"]  # fmt: skip
TRANSLATION = ["train", "--data", "tatoeba", "--set", "data.options.min_freq=1",
               "--set", "data.options.val_fraction=0.2", "--set", "data.options.test_fraction=0.2",
               "--task", "seq2seq", "--model", "seq2seq", "--cell", "gru", "--hidden", "4",
               "--layers", "1", "--monitor", "val_loss", "--epochs", "1", "--batch-size", "8",
               "--threads", "1"]  # fmt: skip


def write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def flip_weight_byte(name: str) -> Callable[[Path], None]:
    """Flip one byte inside the largest tensor's data record of a torch.save zip (a weight)."""

    def setup(folder: Path) -> None:
        path = folder / name
        with zipfile.ZipFile(path) as archive:  # tensor storages are the records under data/
            storages = [i for i in archive.infolist() if "/data/" in i.filename]
            info = max(storages, key=lambda i: i.file_size)
        data = bytearray(path.read_bytes())
        header = (
            30
            + len(info.filename.encode())
            + int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
        )  # the local header's fixed part, name and extra field
        data[info.header_offset + header + info.file_size // 2] ^= 0x01
        path.write_bytes(bytes(data))

    return setup


def search_with(old: str, new: str) -> Callable[[Path], None]:
    """s0.toml / s1.toml: search.toml with one line changed."""

    def setup(folder: Path) -> None:
        text = (folder / "search.toml").read_text()
        name = "s0.toml" if "trials" in old else "s1.toml"
        (folder / name).write_text(text.replace(old, new))

    return setup


def search_table(body: str) -> Callable[[Path], None]:
    """s2.toml: run.toml with a [search] table holding ``body``."""

    def setup(folder: Path) -> None:
        (folder / "s2.toml").write_text((folder / "run.toml").read_text() + "[search]\n" + body)

    return setup


def nan_in_har(folder: Path) -> None:
    signal = next((folder / "data" / "uci-har").rglob("body_acc_x_train.txt"))
    lines = signal.read_text().splitlines()
    lines[1] = lines[1].replace(lines[1].split()[3], "NaN", 1)
    signal.write_text("\r\n".join(lines) + "\r\n")


def h5_edit(edit: Callable[[Any], None]) -> Callable[[Path], None]:
    """data/catvnoncat/train_catvnoncat.h5 rewritten with ``edit`` applied to its datasets."""

    def setup(folder: Path) -> None:
        import h5py

        path = folder / "data" / "catvnoncat" / "train_catvnoncat.h5"
        with h5py.File(path, "r") as f:
            arrays = {name: f[name][()] for name in f}
        edit(arrays)
        with h5py.File(path, "w") as f:
            for name, value in arrays.items():
                f.create_dataset(name, data=value)

    return setup


def csv_cell(name: str, line: int, column: int, value: str) -> Callable[[Path], None]:
    """One cell of data/<name>/<name>.csv replaced by ``value``."""

    def setup(folder: Path) -> None:
        path = next((folder / "data" / name).glob("*.csv"))
        rows = [row.split(",") for row in path.read_text().splitlines()]
        rows[line][column] = value
        path.write_text("\n".join(",".join(row) for row in rows))

    return setup


def empty_labels(folder: Path) -> None:
    next((folder / "data" / "uci-har").rglob("activity_labels.txt")).write_text("")


def har_file(name: str) -> Path:
    return Path("data") / "uci-har" / "UCI HAR Dataset" / name


def drop_last_line(name: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        path = folder / name
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))

    return setup


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def flip_npz_byte(folder: Path) -> None:
    """flipped.npz: train.npz with one byte of its compressed X flipped (a bad CRC or stream)."""
    data = bytearray((folder / "train.npz").read_bytes())
    data[len(data) // 3] ^= 0xFF
    (folder / "flipped.npz").write_bytes(bytes(data))


def other_class_names(folder: Path) -> None:
    x = np.zeros((4, 8, 3), np.float32)
    save_sequences_npz(folder / "renamed.npz", x, [0, 1, 0, 1], class_names=["cold", "hot"])


def fashion_with_short_labels(folder: Path) -> None:
    root = folder / "fm" / "fashion-mnist"
    make_fashion(root)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01"))


TRAIN = ["train", "run.toml", "--quiet", "--threads", "1", "--out", "new-run"]
PETS = ["train", "--data", "image-folder", "--data-path", "pets", "--quiet", "--out", "pet-run",
        "--set", "data.options.size=8", "--set", "data.options.cache=false",
        "--epochs", "1"]  # fmt: skip
CATS = ["train", "--data", "catvnoncat", "--data-root", "data", "--quiet", "--out", "cat-run",
        "--set", "task.options.binary=true", "--epochs", "1"]  # fmt: skip
HAR = ["train", "--data", "uci-har", "--data-root", "data", "--quiet", "--out", "har-run",
       "--set", "data.options.val_subjects=1", "--epochs", "1"]  # fmt: skip

CASES = [
    # -- config values ---------------------------------------------------------------------------
    Case("hidden too large", [*TRAIN, "--hidden", "10000000"], "parameters", "model.hidden"),
    Case(
        "generated size too large",
        [
            "train",
            "--data",
            "copy-reverse",
            "--model",
            "seq2seq",
            "--task",
            "seq2seq",
            "--quiet",
            "--out",
            "x",
            "--monitor",
            "val_loss",
            "--set",
            "data.options.train_size=1000000000000",
        ],
        "train_size",
        "data.options.train_size",
    ),
    Case(
        "negative weight decay",
        [*TRAIN, "--set", "train.weight_decay=-1"],
        "weight_decay",
        "train.weight_decay",
    ),
    Case(
        "negative momentum", [*TRAIN, "--set", "train.momentum=-0.5"], "momentum", "train.momentum"
    ),
    Case("huge seed", [*TRAIN, "--seed", "99999999999999999999"], "seed", "train.seed"),
    Case(
        "nan step factor",
        [*TRAIN, "--set", "train.lr_step_factor=nan"],
        "lr_step_factor",
        "train.lr_step_factor",
    ),
    Case("nan clip norm", [*TRAIN, "--set", "train.clip_norm=nan"], "clip_norm", "train.clip_norm"),
    Case("cuda without cuda", [*TRAIN, "--set", 'train.device="cuda"'], "cuda", "device"),
    Case("bogus device", [*TRAIN, "--set", 'train.device="bogus"'], "bogus", "device"),
    Case("zero learning rate", [*TRAIN, "--lr", "0"], "lr", "train.lr"),
    Case("negative learning rate", [*TRAIN, "--lr", "-1"], "lr", "train.lr"),
    Case("zero epochs", [*TRAIN, "--epochs", "0"], "epochs", "train.epochs"),
    Case("zero batch", [*TRAIN, "--batch-size", "0"], "batch_size", "train.batch_size"),
    Case("dropout above one", [*TRAIN, "--set", "model.options.dropout=1.5"], "dropout", "dropout"),
    Case("zero layers", [*TRAIN, "--layers", "0"], "layers", "layers"),
    Case("unknown key", [*TRAIN, "--set", "train.lrr=0.1"], "lrr", "expected"),
    Case("unknown section", [*TRAIN, "--set", "trian.lr=0.1"], "trian", "expected"),
    Case("unknown cell", [*TRAIN, "--cell", "lstn"], "lstn", "expected one of"),
    Case("unknown model", [*TRAIN, "--model", "resnet"], "resnet", "expected"),
    Case("unknown optimizer", [*TRAIN, "--optimizer", "adagrad"], "adagrad", "expected"),
    Case("unknown dataset", ["train", "--data", "imagenet", "--quiet"], "imagenet", "expected"),
    Case("a string for an integer", [*TRAIN, "--set", 'train.epochs="ten"'], "epochs", "expected"),
    Case("override without =", [*TRAIN, "--set", "train.lr"], "train.lr", "SECTION.KEY=VALUE"),
    Case(
        "toml syntax error",
        ["train", "bad.toml"],
        "line 1",
        "fix",
        write("bad.toml", "[train\nlr = 0.1\n"),
    ),
    Case("missing config file", ["train", "nothere.toml"], "nothere.toml", "check the path"),
    Case(
        "config is a folder",
        ["train", "cfgdir"],
        "a folder",
        "give a file",
        write("cfgdir/placeholder", "x"),
    ),
    Case("wrong cell option", [*TRAIN, "--cell-option", "window=3"], "window", "expected"),
    Case(
        "heads do not divide",
        [*TRAIN, "--cell", "larnn", "--hidden", "9"],
        "num_heads",
        "--cell-option num_heads=3",
    ),
    # -- data ------------------------------------------------------------------------------------
    Case("missing data file", [*TRAIN, "--data-path", "none.npz"], "none.npz", "--data-path"),
    Case(
        "garbage npz",
        [*TRAIN, "--data-path", "junk.npz"],
        "junk.npz",
        "write one",
        write("junk.npz", b"\x00garbage" * 10),
    ),
    Case(
        "npz without labels",
        [*TRAIN, "--data-path", "nolabels.npz"],
        "no array 'y'",
        "expected",
        lambda f: np.savez(f / "nolabels.npz", x=np.zeros((4, 3, 2), np.float32)),
    ),
    Case("missing test file", [*TRAIN, "--test-path", "gone.npz"], "gone.npz", "pass"),
    Case(
        "csv with too few columns",
        [*TRAIN, "--data-path", "bad.csv"],
        "bad.csv",
        "expected",
        write("bad.csv", "a\n1\n2\n"),
    ),
    Case(
        "features differ from the test file",
        [*TRAIN, "--test-path", "wide.npz"],
        "wide.npz",
        "--test-path",
    ),
    Case("nan in a har signal", HAR, "body_acc_x_train", "line", nan_in_har),
    Case("empty activity labels", HAR, "activity_labels.txt", "activity", empty_labels),
    Case(
        "dataset not in the data root",
        ["train", "--data", "fashion-mnist", "--data-root", "data", "--quiet"],
        "fashion-mnist",
        "nnzoo data download",
    ),
    Case(
        "csv row with a missing field",
        [*TRAIN, "--data-path", "short.csv"],
        "has 4 fields; the header has 5",
        "give every row one field per header column",
        write("short.csv", "sequence,time,label,ax,ay\na,0,up,1,2\na,1,up,1\n"),
    ),
    Case(
        "csv row without a label",
        [*TRAIN, "--data-path", "nolabel.csv"],
        "the label is empty",
        "write a label on every row",
        write("nolabel.csv", "sequence,time,label,ax,ay\na,0,up,1,2\nb,0,,1,2\n"),
    ),
    Case(
        "csv sequence with two labels",
        [*TRAIN, "--data-path", "twolabels.csv"],
        "a sequence has one label",
        "give all its rows the same label",
        write("twolabels.csv", "sequence,time,label,ax,ay\na,0,up,1,2\na,1,down,1,2\n"),
    ),
    Case(
        "csv with only a header",
        [*TRAIN, "--data-path", "header.csv"],
        "no rows after the header",
        "add one row per step",
        write("header.csv", "sequence,time,label,ax,ay\n"),
    ),
    Case(
        "csv without feature columns",
        [*TRAIN, "--data-path", "nofeatures.csv"],
        "no feature columns",
        "add a column per feature",
        write("nofeatures.csv", "sequence,time,label\na,0,up\n"),
    ),
    Case(
        "csv not utf-8",
        [*TRAIN, "--data-path", "latin.csv"],
        "not UTF-8 text",
        "save the file as UTF-8",
        write("latin.csv", "sequence,time,label,ax\na,0,\xe9t\xe9,1\n".encode("latin-1")),
    ),
    Case(
        "test csv with other feature columns",
        [*TRAIN, "--data-path", "ay.csv", "--test-path", "az.csv"],
        "feature columns ax, az differ",
        "give a --test-path file with the training file's feature columns",
        lambda f: (
            write("ay.csv", "sequence,time,label,ax,ay\na,0,up,1,2\nb,0,down,3,4\n")(f),
            write("az.csv", "sequence,time,label,ax,az\nc,0,up,1,2\nd,0,down,3,4\n")(f),
        ),
    ),
    Case(
        "npz with a flipped byte",
        [*TRAIN, "--data-path", "flipped.npz"],
        "corrupt or truncated",
        "write it again (save_sequences_npz)",
        flip_npz_byte,
    ),
    Case(
        "truncated gzip of a csv",
        [*TRAIN, "--data-path", "cut.csv.gz"],
        "corrupt or truncated",
        "replace it with a fresh copy",
        write("cut.csv.gz", gzip.compress(b"sequence,time,label,ax\n" + b"a,0,up,1\n" * 500)[:-30]),
    ),
    Case(
        "test file with other class names",
        [*TRAIN, "--test-path", "renamed.npz"],
        "class_names differ from those in",
        "give both files the same class_names",
        other_class_names,
    ),
    Case(
        "fashion-mnist labels cut inside the header",
        ["train", "--data", "fashion-mnist", "--data-root", "fm", "--quiet", "--out", "fm-run"],
        "shorter than the 8-byte idx header",
        "`nnzoo data download fashion-mnist`",
        fashion_with_short_labels,
    ),
    Case(
        "har subjects one row short",
        HAR,
        "rows but y_train.txt has",
        "replace the dataset's files with a fresh copy",
        drop_last_line(str(har_file("train/subject_train.txt"))),
    ),
    Case(
        "har signal file missing",
        HAR,
        "missing (also looked for .xz and .gz)",
        "restore it from a fresh copy of the dataset",
        remove(str(har_file("test/Inertial Signals/body_gyro_y_test.txt"))),
    ),
    Case(
        "har zip that is not a zip",
        [*HAR[:4], "har-zip", *HAR[5:]],
        "not a readable zip archive",
        "replace it with a fresh copy of the archive",
        write("har-zip/uci-har/UCI HAR Dataset.zip", b"PK\x03\x04 not a zip" * 10),
    ),
    Case(
        "too many validation subjects",
        [*HAR[:-4], "--set", "data.options.val_subjects=9"],
        "hold out 9",
        "val_subjects",
    ),
    # -- run folders and checkpoints ---------------------------------------------------------------
    Case("evaluate a missing folder", ["evaluate", "nowhere"], "nowhere", "nnzoo train"),
    Case("evaluate a folder that is no run", ["evaluate", "data"], "data", "train"),
    Case(
        "evaluate random bytes",
        ["evaluate", "run/checkpoints/best.pt"],
        "best.pt",
        "delete",
        write("run/checkpoints/best.pt", os.urandom(2000)),
    ),
    Case(
        "evaluate a truncated checkpoint",
        ["evaluate", "run"],
        "best.pt",
        "delete",
        lambda f: (f / "run/checkpoints/best.pt").write_bytes(
            (f / "run/checkpoints/best.pt").read_bytes()[:300]
        ),
    ),
    Case(
        "evaluate a flipped byte",
        ["evaluate", "run"],
        "best.pt",
        "delete",
        flip_weight_byte("run/checkpoints/best.pt"),
    ),
    Case("predict a missing file", ["predict", "run", "nothing.npz"], "nothing.npz", "pass"),
    Case("predict the wrong features", ["predict", "run", "wide.npz"], "5 features", "give"),
    Case(
        "predict into a folder",
        ["predict", "run", "test.npz", "--output", "data"],
        "folder",
        "pass another --output",
    ),
    Case("summary of an unknown cell", ["summary", "--cell", "nope"], "nope", "expected one of"),
    Case("summary of a missing path", ["summary", "nothere.pt"], "nothere.pt", "nnzoo train"),
    Case("summary with zero hidden", ["summary", "--hidden", "0"], "hidden", "--set"),
    # -- output paths ------------------------------------------------------------------------------
    Case("out is a file", [*TRAIN[:-1], "train.npz"], "train.npz", "--out"),
    Case("out below a file", [*TRAIN[:-1], "train.npz/run"], "train.npz", "--out"),
    Case("out holds another run", [*TRAIN[:-1], "run", "--lr", "0.5"], "run", "--out"),
    # -- reports -----------------------------------------------------------------------------------
    Case("report a missing folder", ["report", "gone"], "gone", "give"),
    Case("report a folder that is no run", ["report", "data"], "not a run folder", "nnzoo train"),
    Case("report one run with --out", ["report", "run", "--out", "cmp"], "--out", "leave"),
    Case(
        "report a record of another recipe",
        ["report", "rec/larnn-har.json"],
        "larnn-har",
        "run `nnzoo reproduce larnn-har`",
        write("rec/larnn-har.json", json.dumps({"recipe": "larnn-har-search"})),
    ),
    Case(
        "report a run whose metrics have no curves",
        ["report", "run"],
        "no record holds loss",
        "restore the file nnzoo train wrote",
        write("run/metrics.jsonl", '{"epoch": 1, "lr": 0.001}\n'),
    ),
    Case(
        "compare a run with itself", ["report", "run", "./run"], "given twice", "list each run once"
    ),
    # -- search ------------------------------------------------------------------------------------
    Case("search a missing config", ["search", "nope.toml"], "nope.toml", "check the path"),
    Case(
        "search without a search table",
        ["search", "run.toml", "--out", "s"],
        "[search]",
        "see `nnzoo search --help`",
    ),
    Case(
        "search with zero trials",
        ["search", "s0.toml", "--out", "s"],
        "trials",
        "set",
        search_with("trials = 2", "trials = 0"),
    ),
    Case(
        "search with an unknown sampler",
        ["search", "s1.toml", "--out", "s"],
        "anneal",
        "expected",
        search_with('sampler = "random"', 'sampler = "anneal"'),
    ),
    Case(
        "search worker without storage",
        ["search", "search.toml", "--worker"],
        "--worker",
        "--storage",
    ),
    Case(
        "search with a bad storage url",
        ["search", "search.toml", "--storage", "mysql://x"],
        "mysql",
        "sqlite:///",
    ),
    Case(
        "search range with low above high",
        ["search", "s2.toml", "--out", "s"],
        "low 8 > high 4",
        "give [low, high] with low <= high",
        search_table('trials = 2\n[search.space]\n"model.hidden" = { int = [8, 4] }\n'),
    ),
    Case(
        "search range end not a number",
        ["search", "s2.toml", "--out", "s"],
        "is not a number",
        "expected a number such as 0.01",
        search_table('trials = 2\n[search.space]\n"train.lr" = { uniform = ["a", 0.1] }\n'),
    ),
    Case(
        "grid search with more trials than points",
        ["search", "s2.toml", "--out", "s"],
        "more than the grid's 2 points",
        "to at most 2",
        search_table(
            'trials = 5\nsampler = "grid"\n[search.space]\n'
            '"model.cell" = { categorical = ["gru", "lstm"] }\n'
        ),
    ),
    Case(
        "focus from a folder that is no search",
        ["search", "search.toml", "--out", "s", "--focus-from", "data"],
        "is it a search folder?",
        "Give the --out folder of round 1's `nnzoo search`",
    ),
    # -- studies, recipes, lists, data -------------------------------------------------------------
    Case("unknown study", ["study", "lr-swep"], "lr-swep", "expected"),
    Case(
        "study learning rates not numbers",
        ["study", "lr-sweep", "--lrs", "a,b", "--out", "st"],
        "--lrs",
        "expected",
    ),
    Case(
        "study zero epochs",
        ["study", "lr-sweep", "--epochs", "0", "--out", "st"],
        "epochs",
        "--set train.epochs",
    ),
    Case(
        "study negative jobs",
        ["study", "lr-sweep", "--jobs", "-1", "--out", "st"],
        "jobs",
        "expected",
    ),
    Case(
        "study learning rate listed twice",
        ["study", "lr-sweep", "--lrs", "0.1,0.1", "--out", "st"],
        "0.1 is listed twice",
        "list each value once",
    ),
    Case(
        "study cell option given twice",
        ["study", "long-lag", "--cells", "lstm:forget_bias=1;forget_bias=2", "--out", "st"],
        "option 'forget_bias' is given twice",
        "give each option once",
    ),
    Case(
        "capacity unknown model",
        ["study", "capacity", "--models", "vgg99", "--out", "st"],
        "vgg99",
        "expected one of",
    ),
    Case("unknown recipe", ["reproduce", "larnn-har-2"], "larnn-har-2", "expected"),
    Case(
        "recipe zero seeds",
        ["reproduce", "larnn-har", "--seeds", "0", "--out", "r"],
        "seeds",
        "expected",
    ),
    Case(
        "recipe on a device this machine lacks",
        ["reproduce", "larnn-har", "--device", "cuda:7", "--out", "r"],
        "--device='cuda:7'",
        "pass --device",
    ),
    Case(
        "catvnoncat file without its labels",
        [*CATS, "--model", "scratch-logistic"],
        "train_set_y",
        "fresh cop",
        h5_edit(lambda a: a.pop("train_set_y")),
    ),
    Case(
        "catvnoncat images of another size",
        [*CATS, "--model", "scratch-logistic"],
        "train_set_x",
        "fresh cop",
        h5_edit(lambda a: a.update(train_set_x=a["train_set_x"][:, :32, :32])),
    ),
    Case(
        "images into the scratch RNN",
        [*CATS, "--model", "scratch-rnn"],
        "(B, T, F) sequences",
        "use scratch-mlp",
    ),
    Case(
        "a scratch network's dropout out of range",
        [*CATS, "--model", "scratch-mlp", "--set", "model.options.keep_prob=1.5"],
        "keep_prob=1.5",
        "expected a probability in (0, 1]",
    ),
    Case(
        "NaN in the sonar features",
        ["reproduce", "sonar", "--quick", "--out", "r"],
        "sonar.csv",
        "fresh cop",
        csv_cell("sonar", 3, 5, "nan"),
    ),
    Case(
        "a pima label that is not 0 or 1",
        ["reproduce", "pima", "--quick", "--out", "r"],
        "pima-indians-diabetes.csv",
        "0 or 1",
        csv_cell("pima-indians-diabetes", 2, 8, "2"),
    ),
    Case(
        "more folds than a class has examples",
        ["reproduce", "sonar", "--quick", "--folds", "50", "--out", "r"],
        "--folds 50 is more than",
        "use --folds <=",
    ),
    Case(
        "catvnoncat reproduction without the files",
        ["reproduce", "catvnoncat", "--quick", "--data-root", "nowhere", "--out", "r"],
        "catvnoncat",
        "data",
    ),
    Case(
        "an image folder with no images",
        [*PETS[:4], "empty-pets", *PETS[5:]],
        "empty-pets: no image files",
        "put files named <class>.<id>.<ext>",
    ),
    Case(
        "an image folder of one class",
        [*PETS[:4], "cats-only", *PETS[5:]],
        "cats-only",
        "class",
    ),
    Case(
        "images smaller than the backbone takes",
        [*PETS, "--model", "efficientnet-lite0", "--set", "data.options.size=16"],
        "at least 32x32",
        "resize the images",
    ),
    Case("predict an empty text", ["predict", "textrun", ""], "has no tokens", "give it words"),
    Case(
        "token ids into a model without an embedding",
        [*TEXT[:-4], "--set", "model.options.embedding=0", "--out", "r"],
        "token ids",
        "set model.embedding",
    ),
    Case(
        "an unknown UCI sentiment domain",
        [*TEXT, "--set", 'data.options.domain="twitter"', "--out", "r"],
        "domain='twitter'",
        "expected one of amazon, imdb, yelp",
    ),
    Case(
        "a sentiment file line without a tab",
        [*TEXT, "--out", "r"],
        "line 2 has no tab",
        "sentence<TAB>label",
        write("data/sentiment-labelled-sentences/yelp_labelled.txt", "good\t1\nbad 0\n"),
    ),
    Case(
        "an unknown sentiment dataset",
        ["reproduce", "sentiment", "--datasets", "tweets", "--out", "r"],
        "tweets unknown",
        "expected amazon, imdb, yelp, sst2",
    ),
    Case(
        "translate an empty sentence",
        ["translate", "transrun", "  "],
        "sentence 1 is empty",
        "give it words to translate",
    ),
    Case(
        "translate with a classification run",
        ["translate", "run", "Hola."],
        "not a seq2seq one",
        "trained with task seq2seq",
    ),
    Case(
        "an unknown translation run",
        ["reproduce", "translation", "--models", "es-fr", "--out", "r"],
        "es-fr unknown",
        "expected es-en-attention",
    ),
    Case(
        "generate from an empty start",
        ["generate", "musicrun", "--start", " ", "--out", "piece"],
        "--start",
        "C4,E4,G4",
    ),
    Case(
        "generate from a note off the piano",
        ["generate", "musicrun", "--start", "C4,C9", "--out", "piece"],
        "C9",
        "e.g. C4",
    ),
    Case(
        "generate with a classification run",
        ["generate", "run", "--start", "C4", "--out", "piece"],
        "classify",
        "next-step",
    ),
    Case(
        "a chorale file of the wrong shape",
        [*MUSIC, "--out", "r"],
        "expected a JSON object",
        "as published",
        write("data/jsb-chorales/jsb-chorales-quarter.json", "[[60, 64], [67]]"),
    ),
    Case(
        "a chorale note outside the 88 keys",
        [*MUSIC, "--out", "r"],
        "88 keys",
        "21",
        write(
            "data/jsb-chorales/jsb-chorales-quarter.json",
            '{"train": [[[60], [130]]], "valid": [[[60], [62]]], "test": [[[60], [62]]]}',
        ),
    ),
    Case(
        "an ABC file with a byte that is not ASCII",
        [
            "train",
            "--data",
            "nottingham-abc",
            "--model",
            "generator",
            "--task",
            "next-step",
            "--out",
            "r",
        ],
        "not ASCII",
        "give the original files",
        write("data/nottingham-abc/ABC_cleaned/extra.abc", b"X: 9\nT:Caf\xc3\xa9\nK:G\nGAB|\n"),
    ),
    Case("list an unknown kind", ["list", "gadgets"], "gadgets", "choose from"),
    Case(
        "download an unknown dataset",
        ["data", "download", "mnist-plus"],
        "mnist-plus",
        "downloadable:",
    ),
]


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_battery_is_large_and_its_names_unique():
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_status_2_and_changes_nothing(
    case, template, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "work"
    shutil.copytree(template, folder)
    if case.setup is not None:
        case.setup(folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("NNZOO_DATA", str(folder / "data"))
    before = checksums(folder)
    try:
        code = main(case.argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    message = lines[0]
    assert case.problem in message, message
    assert case.action in message, message
    assert checksums(folder) == before
