"""Output paths: a run folder that cannot be written, a disk that fills, stale temporary files.

Every case is one line on stderr and exit status 2 from ``nnzoo``, with nothing damaged: no
half-made run folder when the run cannot start, the last good checkpoint kept when the disk
fills mid-run. A full disk is simulated by files whose write raises ENOSPC, as the kernel's do.
"""

import errno
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch

from nnzoo import cli
from nnzoo import io as nnzoo_io
from nnzoo.config import RunConfig, TrainConfig
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.errors import ConfigError
from nnzoo.io import atomic, clean_temporaries, stale_temporary
from nnzoo.runs import train as run_module
from nnzoo.runs.rundir import RunDir
from nnzoo.runs.train import train_run
from tests.engine.test_fit import synthetic_splits

pytestmark = pytest.mark.usefixtures("one_thread")


def write_data(path):
    from nnzoo.data.sequences import save_sequences_npz

    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 5, 3, generator=g)
    save_sequences_npz(path, x, (x[..., 0].mean(1) > 0).long(), class_names=["down", "up"])
    return path


@pytest.fixture
def data(tmp_path):
    return write_data(tmp_path / "data.npz")


def train_args(data, out, epochs=2):
    return [
        "train", "--data", "sequences", "--data-path", str(data), "--out", str(out), "--quiet",
        "--epochs", str(epochs), "--batch-size", "16", "--hidden", "3", "--layers", "1",
        "--threads", "1",
    ]  # fmt: skip


def one_line_error(capsys, argv):
    """Run ``nnzoo argv``: it must exit 2 with one line on stderr, no traceback; the line."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnzoo: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


class FullDisk(io.FileIO):
    """What os.fdopen gives once the disk is full: every write raises ENOSPC."""

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def fill_disk(monkeypatch):
    """From now on every file `nnzoo.io.atomic` writes meets a full disk."""
    monkeypatch.setattr(nnzoo_io.os, "fdopen", lambda fd, mode="wb": FullDisk(fd, "wb"))


# -- --out that cannot be a run folder ----------------------------------------------------------
def test_out_that_is_an_existing_file(tmp_path, data, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("keep me")
    err = one_line_error(capsys, train_args(data, out))
    assert f"{out}: cannot write it (it is a file, not a folder)" in err and "--out" in err
    assert out.read_text() == "keep me"


def test_out_below_a_file(tmp_path, data, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    out = blocker / "run" / "inner"
    err = one_line_error(capsys, train_args(data, out))
    assert f"{out}: cannot write it ({blocker} is a file, not a folder)" in err
    assert "pass another --out" in err
    assert blocker.read_text() == "keep me" and listing(tmp_path) == ["data.npz", "file"]


def test_out_in_a_read_only_folder(tmp_path, data, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: chmod does not stop this process writing")
        err = one_line_error(capsys, train_args(data, locked / "run"))
        assert f"{locked / 'run'}: cannot write it ({locked} is not writable)" in err
        assert "--out" in err and list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_read_only_file_system_met_when_writing_leaves_no_run_folder(
    tmp_path, data, capsys, monkeypatch
):
    """The folder passes the access check but writing fails (EROFS), as on a read-only mount
    that reports itself writable, or as root in a read-only folder."""

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(nnzoo_io.tempfile, "mkstemp", read_only)
    out = tmp_path / "runs" / "run"
    err = one_line_error(capsys, train_args(data, out))
    assert "cannot write it (read-only file system)" in err and "--out" in err
    assert not (tmp_path / "runs").exists()  # the folders this call made are gone


def test_a_full_disk_before_training_leaves_no_run_folder(tmp_path, data, capsys, monkeypatch):
    fill_disk(monkeypatch)
    out = tmp_path / "run"
    err = one_line_error(capsys, train_args(data, out))
    assert f"{out / 'config.toml'}: cannot write it (no space left on the disk)" in err
    assert "free some space" in err and "--out" in err
    assert not out.exists()
    assert listing(tmp_path) == ["data.npz"]


def fill_disk_for_appends(monkeypatch):
    """From now on appending to a file (metrics.jsonl) meets a full disk: the error, raised by
    write on an open file, names no file."""
    original = pathlib.Path.open

    def opened(self, mode="r", *args, **kwargs):
        if "a" in mode:
            return FullDisk(os.open(self, os.O_WRONLY | os.O_APPEND), "wb")
        return original(self, mode, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", opened)


class FillDiskAt(Callback):
    """Fill the disk at the start of epoch ``epoch``."""

    def __init__(self, monkeypatch, epoch, fill):
        self.monkeypatch, self.epoch, self.fill = monkeypatch, epoch, fill

    def on_epoch_begin(self, loop):
        if loop.epoch == self.epoch:
            self.fill(self.monkeypatch)


@pytest.mark.parametrize(
    ("fill", "where"),
    [(fill_disk, "/checkpoints/"), (fill_disk_for_appends, ": cannot write it")],
    ids=["checkpoint", "metrics"],
)
def test_a_full_disk_mid_run_stops_with_one_line_and_keeps_the_last_checkpoint(
    tmp_path, data, capsys, monkeypatch, fill, where
):
    out = tmp_path / "run"
    original = run_module.build_callbacks
    with monkeypatch.context() as patch:
        patch.setattr(
            run_module, "build_callbacks",
            lambda *a, **k: [*original(*a, **k), FillDiskAt(patch, 2, fill)],
        )  # fmt: skip
        err = one_line_error(capsys, train_args(data, out, epochs=3))
    last = out / "checkpoints" / "last.pt"
    assert err.startswith(f"nnzoo: error: {out}{where}")  # best.pt or last.pt, or the folder
    assert "cannot write it (no space left on the disk)" in err
    assert f"the run stopped and {last} (epoch 1) is kept" in err
    assert "free some space on that disk, then run the same command to resume" in err
    kept = load_checkpoint(last)
    assert kept["epoch"] == 1 and kept["verified"]
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temporary file left
    assert not (out / "results.json").exists()

    # the disk has room again: the same command resumes at epoch 2 and finishes
    assert cli.main(train_args(data, out, epochs=3)) == 0
    capsys.readouterr()
    assert load_checkpoint(last)["epoch"] == 3
    assert (out / "results.json").is_file()


# -- a run that cannot start leaves nothing half-made -------------------------------------------
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "empty-folder"])
def test_a_run_that_cannot_start_leaves_no_half_made_folder(tmp_path, existing):
    out = tmp_path / "runs" / "run"
    if existing:
        out.mkdir(parents=True)
    config = RunConfig(train=TrainConfig(epochs=1))
    splits = synthetic_splits(16)

    def refuse(*args, **kwargs):  # a failure after the folder is made, before training
        raise ConfigError("model: refused")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "build_model", refuse)
        with pytest.raises(ConfigError, match="refused"):
            train_run(config, out, splits=splits, progress=False, write_report=False)
    if existing:
        assert list(out.iterdir()) == []  # no config.toml alone
    else:
        assert not (tmp_path / "runs").exists()


def test_a_corrupt_last_checkpoint_removes_nothing_of_the_existing_run(tmp_path):
    splits = synthetic_splits(16)
    config = RunConfig(train=TrainConfig(epochs=1, batch_size=8, seed=1))
    train_run(config, tmp_path, splits=splits, progress=False, write_report=False)
    before = listing(tmp_path)
    last = tmp_path / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    from nnzoo.engine.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train_run(config, tmp_path, splits=splits, progress=False, write_report=False)
    assert listing(tmp_path) == before


# -- a run folder another process trains -------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="folders are held with flock (POSIX)")
def test_a_second_command_on_a_folder_being_trained_stops_with_one_line(tmp_path, data, capsys):
    out, log = tmp_path / "run", tmp_path / "first.log"
    with log.open("wb") as stderr:  # a file, not a pipe that could fill and stall the run
        first = subprocess.Popen(
            [sys.executable, "-m", "nnzoo", *train_args(data, out, epochs=100000)],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.time() + 120
        while not (out / "checkpoints" / "last.pt").is_file():  # it is training
            assert first.poll() is None, log.read_text()
            assert time.time() < deadline, "the first run did not start"
            time.sleep(0.05)
        assert (out / ".training.lock").read_text().strip() == str(first.pid)
        err = one_line_error(capsys, train_args(data, out, epochs=100000))
        assert err == (
            f"nnzoo: error: {out} is being trained by process {first.pid}; wait for it to end, "
            "or pass another --out (a new folder, or a run folder of the same config)"
        )
        # nor does --fresh clear it meanwhile
        assert one_line_error(capsys, [*train_args(data, out, epochs=1), "--fresh"]) == err
        assert (out / "checkpoints" / "last.pt").is_file() and (out / "metrics.jsonl").is_file()
        # the second command wrote nothing: the first one's epochs go on, one line each
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
        first.wait()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    epochs = [json.loads(line)["epoch"] for line in lines]
    assert epochs == list(range(1, len(epochs) + 1))
    # a killed holder holds nothing: the folder trains again, and is let go when it ends
    assert (out / ".training.lock").exists()
    assert cli.main([*train_args(data, out, epochs=2), "--fresh"]) == 0
    assert not (out / ".training.lock").exists()
    assert json.loads((out / "results.json").read_text())["epochs_run"] == 2


@pytest.mark.skipif(sys.platform == "win32", reason="folders are held with flock (POSIX)")
def test_hold_retries_when_its_holder_removes_the_lock_file_meanwhile(tmp_path, monkeypatch):
    from nnzoo.runs import rundir

    lock = tmp_path / ".training.lock"
    real_flock = rundir.fcntl.flock
    calls = []

    def flock_after_release(fd, op):  # the holder released (and removed) the file we opened
        if not calls:
            lock.unlink()
        calls.append(op)
        return real_flock(fd, op)

    lock.write_text("123\n")
    monkeypatch.setattr(rundir.fcntl, "flock", flock_after_release)
    held = rundir.hold(tmp_path, lock)
    assert len(calls) == 2  # the removed file, then a new one
    assert lock.read_text() == f"{os.getpid()}\n"
    assert os.fstat(held.fileno()).st_ino == os.stat(lock).st_ino
    rundir.release(lock, held)
    assert held.closed and not lock.exists()


# -- predict --output ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    data = write_data(folder / "data.npz")
    assert cli.main(train_args(data, folder / "run", epochs=1)) == 0
    return folder / "run", data


def test_predict_output_that_is_a_folder(trained, tmp_path, capsys):
    run, data = trained
    capsys.readouterr()
    folder = tmp_path / "predictions"
    folder.mkdir()
    (folder / "old.csv").write_text("keep me")
    err = one_line_error(capsys, ["predict", str(run), str(data), "--output", str(folder)])
    assert f"{folder}: cannot write it (it is a folder, not a file)" in err
    assert "pass another --output" in err
    assert listing(folder) == ["old.csv"] and (folder / "old.csv").read_text() == "keep me"


def test_predict_output_below_a_file_and_on_a_full_disk(trained, tmp_path, capsys, monkeypatch):
    run, data = trained
    capsys.readouterr()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = one_line_error(capsys, ["predict", str(run), str(data), "--output", str(blocker / "p")])
    assert f"({blocker} is a file, not a folder)" in err and "--output" in err
    target = tmp_path / "p.csv"
    target.write_text("the old predictions")
    fill_disk(monkeypatch)
    err = one_line_error(capsys, ["predict", str(run), str(data), "--output", str(target)])
    assert f"{target}: cannot write it (no space left on the disk)" in err and "--output" in err
    assert target.read_text() == "the old predictions"
    assert listing(tmp_path) == ["file", "p.csv"]


# -- stale temporary files ----------------------------------------------------------------------
def dead_pid():
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_atomic_names_its_temporary_with_the_writer_pid(tmp_path):
    with atomic(tmp_path / "last.pt") as f:
        names = [p.name for p in tmp_path.iterdir()]
        f.write(b"x")
    assert len(names) == 1 and names[0].startswith(f".last.pt.tmp{os.getpid()}.")
    assert not stale_temporary(tmp_path / names[0])  # (gone now, and was ours)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_a_killed_write_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    run = RunDir(tmp_path / "run")
    target = run.checkpoint("last")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"the last good checkpoint")
    code = (
        "import os, signal, sys\n"
        "from nnzoo.io import atomic\n"
        "with atomic(sys.argv[1], sync=True) as f:\n"
        "    f.write(b'half of a checkpoint'); f.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(target)], check=False)
    assert killed.returncode == -signal.SIGKILL
    left = [p for p in target.parent.iterdir() if p != target]
    assert len(left) == 1 and left[0].name.startswith(".last.pt.tmp")  # what a kill leaves
    assert stale_temporary(left[0])

    config = RunConfig(train=TrainConfig(epochs=1))
    run.prepare(config)
    assert [p.name for p in target.parent.iterdir()] == ["last.pt"]
    assert target.read_bytes() == b"the last good checkpoint"


def test_only_stale_temporaries_are_removed(tmp_path):
    now = time.time()
    dead, mine = dead_pid(), os.getpid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.1)
        files = {
            f".last.pt.tmp{dead}.abc123": (now, True),  # its writer is gone
            f".best.pt.tmp{dead}": (now, True),
            f".metrics.json.tmp{mine}.x1y2z3": (now - 3600, True),  # older than this process
            f".metrics.json.tmp{mine}.q9w8e7": (now, False),  # this process, writing now
            f".last.pt.tmp{sleeper.pid}.live01": (now, False),  # a live writer
            ".config.toml.a1b2c3d4.tmp": (now - 3600, True),  # older nnzoo, older than us
            ".config.toml.e5f6g7h8.tmp": (now + 60, False),  # no pid, not older than us
            "last.pt": (now - 3600, False),  # not a temporary
            ".last.pt.tmp": (now - 3600, False),
            "notes.tmp123": (now - 3600, False),
        }
        sub = tmp_path / "checkpoints"
        sub.mkdir()
        for name, (mtime, _) in files.items():
            path = (sub if "pt" in name else tmp_path) / name
            path.write_bytes(b"x")
            os.utime(path, (mtime, mtime))
        removed = clean_temporaries(tmp_path)
        expected = {n for n, (_, stale) in files.items() if stale}
        assert {p.name for p in removed} == expected
        left = {p.name for p in tmp_path.rglob("*") if p.is_file()}
        assert left == set(files) - expected
    finally:
        sleeper.kill()
        sleeper.wait()
