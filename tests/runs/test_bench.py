"""``nnzoo bench``: the throughput it prints is the one it measured, and bad input is one line."""

import re

import numpy as np
import pytest

import nnzoo.runs.bench as bench_module
from nnzoo.cli import main
from nnzoo.config import load_config


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 40)
    path = tmp_path / "train.npz"
    np.savez(path, X=rng.normal(size=(80, 7, 3)).astype(np.float32), y=y)
    return path


def argv(npz, *extra):
    return ["bench", "--data", "sequences", "--data-path", str(npz), "--cell", "gru",
            "--hidden", "8", "--layers", "2", "--batch-size", "16", "--threads", "1",
            "--steps", "3", "--warmup", "1", *extra]  # fmt: skip


def test_prints_the_measured_throughput_and_the_ratio(npz, capsys, monkeypatch):
    measured = []
    real = bench_module.timed_steps

    def spy(step_fn, steps, warmup, device):
        times = real(step_fn, steps, warmup, device)
        measured.append(sorted(times)[len(times) // 2])  # the median of 3
        return times

    monkeypatch.setattr(bench_module, "timed_steps", spy)
    assert main(argv(npz)) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    ours, lstm = measured
    assert first.startswith("gru: batch 16 x 7 steps x 3 features on cpu (32, 1 thread(s)): ")
    assert f"{16 / ours:.1f} sequences/s ({1000 * ours:.1f} ms per training step" in first
    assert second.startswith("torch.nn.LSTM(3, 8, 2 layer(s)) at the same shape: ")
    assert f"{16 / lstm:.1f} sequences/s" in second
    assert re.search(rf"ratio {ours / lstm:.2f}x$", second)


def test_it_times_a_full_batch_of_the_configs_data(npz):
    """The config's batch size (32 by default) and the data's sequence length."""
    config = load_config(None, values=[("data.name", "sequences"), ("data.path", str(npz)),
                                        ("model.options.hidden", 4)])  # fmt: skip
    result = bench_module.bench(config, None, steps=1, warmup=0)
    assert result["batch"] == 32 and result["steps_per_sequence"] == 7
    assert result["seconds_per_step"] > 0 and result["ratio"] > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps=0: expected an integer >= 1"),
        (["--precision", "16-mixed"], "train.precision='16-mixed' needs a CUDA device"),
        (["--device", "cuda:99"], "train.device='cuda:99': this machine has "),
    ],
)
def test_bad_input_is_one_line(npz, capsys, extra, message):
    assert main(argv(npz, *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
