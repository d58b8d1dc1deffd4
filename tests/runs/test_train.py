"""Resuming: an interrupted run, resumed, ends EXACTLY where an uninterrupted one does.

In process, a callback interrupts the run mid-epoch (or between the metrics log and the
checkpoint); then a real ``nnzoo train`` process is killed with SIGKILL and the same command is
run again. Only timing fields may differ from an uninterrupted run in another folder.
"""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.errors import ConfigError
from nnzoo.runs import train as run_module
from nnzoo.runs.train import train_run
from tests.engine.test_fit import synthetic_splits

TIMING = {"seconds", "seconds_per_epoch", "run_dir"}


pytestmark = pytest.mark.usefixtures("one_thread")


# Dropout (global RNG), a schedule, a plateau rule and early stopping: everything whose state a
# resumed run must get back.
CONFIG = RunConfig(
    model=ModelConfig(cell="lstm", hidden=6, layers=2, dropout=0.2, readout="mean"),
    train=TrainConfig(
        epochs=4, batch_size=16, lr=0.02, seed=3, lr_step_every=3, plateau_patience=1,
        early_stopping=10, monitor="val_loss", clip_norm=5.0,
    ),
)  # fmt: skip


class Interrupted(Exception):
    pass


class Interrupt(Callback):
    """Raise at ``epoch``: after ``batch`` batches, or at the end of the epoch (``batch=None``)."""

    def __init__(self, epoch, batch=None):
        self.epoch, self.batch, self.seen = epoch, batch, 0

    def on_batch_end(self, loop, loss):
        if loop.epoch == self.epoch:
            self.seen += 1
            if self.seen == self.batch:
                raise Interrupted

    def on_epoch_end(self, loop, logs):
        if loop.epoch == self.epoch and self.batch is None:
            raise Interrupted


class BatchCounter(Callback):
    def __init__(self):
        self.batches = 0

    def on_batch_end(self, loop, loss):
        self.batches += 1


def add_callback(monkeypatch, callback, before_checkpoint=False):
    """Make train_run use ``callback`` too: last, or just before ModelCheckpoint."""
    original = run_module.build_callbacks

    def patched(*args, **kwargs):
        callbacks = original(*args, **kwargs)
        callbacks.insert(len(callbacks) - 1 if before_checkpoint else len(callbacks), callback)
        return callbacks

    monkeypatch.setattr(run_module, "build_callbacks", patched)


def jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def untimed(value):
    """``value`` with the timing fields dropped, at any depth."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def assert_same_run(a, b):
    """Two run folders hold the same results, metrics and weights (timings aside)."""
    results_a = json.loads((a / "results.json").read_text())
    results_b = json.loads((b / "results.json").read_text())
    assert untimed(results_a) == untimed(results_b)
    assert untimed(jsonl(a / "metrics.jsonl")) == untimed(jsonl(b / "metrics.jsonl"))
    assert (a / "config.toml").read_text() == (b / "config.toml").read_text()
    for name in ("best.pt", "last.pt"):
        ca, cb = (
            load_checkpoint(a / "checkpoints" / name),
            load_checkpoint(b / "checkpoints" / name),
        )
        assert (ca["epoch"], ca["step"], ca["stop_reason"]) == (
            cb["epoch"], cb["step"], cb["stop_reason"]
        )  # fmt: skip
        assert untimed(ca["history"]) == untimed(cb["history"])
        assert ca["callbacks"] == cb["callbacks"]
        for key, value in ca["model"].items():
            assert torch.equal(value, cb["model"][key]), (name, key)
        assert ca["optimizer"]["param_groups"] == cb["optimizer"]["param_groups"]
        for index, state in ca["optimizer"]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, cb["optimizer"]["state"][index][key]), (name, key)
    return results_a


@pytest.fixture(scope="module")
def splits():
    return synthetic_splits(64, ragged=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, splits):
    """An uninterrupted run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("reference")
    results = train_run(CONFIG, folder, splits=splits, progress=False, write_report=False)
    torch.set_num_threads(threads)
    return folder, results


@pytest.mark.parametrize(
    ("epoch", "batch"), [(3, 2), (1, 3), (2, None)], ids=["mid-epoch-3", "mid-epoch-1", "log-only"]
)
def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path, monkeypatch, splits, reference, epoch, batch
):
    folder, results = reference
    assert results["epochs_run"] == 4
    lrs = [row["lr"] for row in jsonl(folder / "metrics.jsonl")]
    assert lrs[3] < lrs[0]  # the schedule did act, so its resumed state matters

    with monkeypatch.context() as patch:
        add_callback(patch, Interrupt(epoch, batch), before_checkpoint=batch is None)
        with pytest.raises(Interrupted):
            train_run(CONFIG, tmp_path, splits=splits, progress=False, write_report=False)
    assert not (tmp_path / "results.json").exists()
    last = tmp_path / "checkpoints" / "last.pt"
    done = epoch - 1  # the epochs whose checkpoint was written
    assert (load_checkpoint(last)["epoch"] if last.exists() else 0) == done
    logged = len(jsonl(tmp_path / "metrics.jsonl"))
    assert logged == (epoch if batch is None else done)  # "log-only": one epoch too many

    counter = BatchCounter()
    add_callback(monkeypatch, counter)
    resumed = train_run(CONFIG, tmp_path, splits=splits, progress=False, write_report=False)
    assert counter.batches == (4 - done) * 4  # only the missing epochs ran
    assert untimed(resumed) == untimed(results)
    assert_same_run(folder, tmp_path)
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 and rows[0].startswith("epoch,")


def test_a_finished_run_is_not_trained_again(monkeypatch, splits, reference):
    folder, results = reference
    metrics = (folder / "metrics.jsonl").read_bytes()
    last = (folder / "checkpoints" / "last.pt").read_bytes()
    counter = BatchCounter()
    add_callback(monkeypatch, counter)
    again = train_run(CONFIG, folder, splits=splits, progress=False, write_report=False)
    assert counter.batches == 0
    assert again == results
    assert (folder / "metrics.jsonl").read_bytes() == metrics
    assert (folder / "checkpoints" / "last.pt").read_bytes() == last


def test_a_folder_of_another_config_is_refused_and_fresh_starts_over(tmp_path, monkeypatch, splits):
    small = CONFIG.replace(train=TrainConfig(epochs=1, batch_size=32, seed=1))
    train_run(small, tmp_path, splits=splits, progress=False, write_report=False)
    saved = (tmp_path / "config.toml").read_text()

    other = small.replace(model=ModelConfig(cell="gru", hidden=4, layers=1))
    with pytest.raises(ConfigError, match="different config") as info:
        train_run(other, tmp_path, splits=splits, progress=False, write_report=False)
    assert str(tmp_path) in str(info.value) and "--fresh" in str(info.value)
    assert (tmp_path / "config.toml").read_text() == saved  # nothing was touched

    # --fresh: the old run's files go, and training starts at epoch 1 (interrupted at batch 1)
    with monkeypatch.context() as patch:
        add_callback(patch, Interrupt(1, 1))
        with pytest.raises(Interrupted):
            train_run(other, tmp_path, splits=splits, progress=False, fresh=True,
                      write_report=False)  # fmt: skip
    assert (tmp_path / "config.toml").read_text() == other.to_toml()
    assert not (tmp_path / "checkpoints").exists()
    assert not (tmp_path / "results.json").exists()
    assert (tmp_path / "metrics.jsonl").read_text() == ""

    counter = BatchCounter()
    add_callback(monkeypatch, counter)
    results = train_run(other, tmp_path, splits=splits, progress=False, fresh=True,
                        write_report=False)  # fmt: skip
    assert counter.batches == 2  # 64 rows in batches of 32, from scratch
    assert results["epochs_run"] == 1


def test_bad_train_settings_are_config_errors(tmp_path, splits):
    for train, named in [
        (dict(epochs=0), "train.epochs"),  # refused when the config is built
        (dict(batch_size=0), "train.batch_size"),
        (dict(monitor="val_f1"), "train.monitor"),  # refused by train_run
    ]:
        with pytest.raises(ConfigError, match=named):
            train_run(CONFIG.replace(train=TrainConfig(**train)), tmp_path / "x", splits=splits)
    assert not (tmp_path / "x").exists()


# -- a real process, killed ------------------------------------------------------------------------
def write_data(path):
    from nnzoo.data.sequences import save_sequences_npz

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 6, 3, generator=g)
    y = (x[..., 0].mean(1) > 0).long()
    save_sequences_npz(path, x, y, class_names=["down", "up"])


def train_args(data, out, epochs=3):
    return [
        "train", "--data", "sequences", "--data-path", str(data), "--out", str(out), "--quiet",
        "--epochs", str(epochs), "--batch-size", "8", "--hidden", "6", "--layers", "1",
        "--lr", "0.01", "--threads", "1", "--lr-step-every", "1",
    ]  # fmt: skip


def test_sigkill_mid_epoch_then_the_same_command_finishes_the_run(tmp_path, capsys):
    from nnzoo.cli import main

    data = tmp_path / "data.npz"
    write_data(data)
    killed, uninterrupted = tmp_path / "killed", tmp_path / "uninterrupted"
    last = killed / "checkpoints" / "last.pt"

    process = subprocess.Popen(
        [sys.executable, "-m", "nnzoo", *train_args(data, killed)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not last.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)  # well inside epoch 2
        process.send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    assert not (killed / "results.json").exists()
    epochs_done = load_checkpoint(last)["epoch"]
    assert 1 <= epochs_done < 3, "the process finished before it could be killed"

    assert main(train_args(data, killed)) == 0  # the same command, again
    assert main(train_args(data, uninterrupted)) == 0
    capsys.readouterr()
    results = assert_same_run(uninterrupted, killed)
    assert results["epochs_run"] == 3 and results["stop_reason"] == "reached 3 epochs"
    assert [row["epoch"] for row in jsonl(killed / "metrics.jsonl")] == [1, 2, 3]

    # the finished run, run again: nothing is retrained, nothing is rewritten
    checkpoint = last.read_bytes()
    assert main(train_args(data, killed)) == 0
    assert last.read_bytes() == checkpoint
    assert_same_run(uninterrupted, killed)
    # another config in the same folder is refused with one line and status 2
    assert main(train_args(data, killed, epochs=4)) == 2
    assert "different config" in capsys.readouterr().err


# -- image models --------------------------------------------------------------------------------
def test_an_image_model_trains_on_fashion_mnist_files(tmp_path):
    from tests.data.test_fashion_mnist import make_fashion

    make_fashion(tmp_path / "data" / "fashion-mnist")
    config = RunConfig(
        data=DataConfig(name="fashion-mnist"),
        model=ModelConfig(name="mlp", options={"widths": [16]}),
        train=TrainConfig(epochs=1, batch_size=32),
    )
    run_dir = run_module.default_run_dir(config, tmp_path / "runs")
    assert run_dir.name == f"fashion-mnist-mlp-s0-{config.digest()}"
    results = train_run(config, run_dir, data_root=tmp_path / "data", progress=False,
                        write_report=False)  # fmt: skip
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["params"] == results["params"] == (784 * 16 + 16) + (16 * 10 + 10)
    assert saved["epochs_run"] == 1 and len(saved["test"]["confusion"]) == 10
    ckpt = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    assert ckpt["extra"]["input_shape"] == [28, 28]


def test_image_model_configs_are_checked_before_the_data_is_read(tmp_path):
    for model, named in [
        (dict(name="mlp", cell="gru"), "model.cell='gru': not an option of model 'mlp'"),
        (dict(name="vgg", options={"depth": 3}), "model.options.depth"),
        (dict(name="deeper", options={"dropout": 1.5}), "dropout=1.5"),
    ]:
        data = DataConfig(name="fashion-mnist", path="/nonexistent")
        with pytest.raises(ConfigError, match=named):  # when built, or by train_run
            train_run(RunConfig(data=data, model=ModelConfig(**model)), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_run_folders_keep_the_cell_for_sequence_classifiers():
    config = RunConfig(model=ModelConfig(cell="gru"))
    assert run_module.default_run_dir(config).name == f"uci-har-gru-s0-{config.digest()}"
