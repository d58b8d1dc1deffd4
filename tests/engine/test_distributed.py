"""Data-parallel training under torchrun (gloo, 2 CPU processes) against one process.

The same config, seed and global batch must give the same parameters after training whether
one process or two train it (each rank takes half of every global batch; DDP averages the
gradients); only rank 0 writes the run folder; a SIGKILL of one rank, then the same command,
resumes from the last checkpoint, with two processes or with one.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nnzoo.engine.checkpoint import load_checkpoint

# Float rounding differs between one process and two (the gradient is summed in another
# order). Adam amplifies it (it divides by the root of the second moment: 1e-7 after an epoch,
# 1e-2 after a few hundred steps), so the runs here take plain SGD, which does not.
EPOCHS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A learnable 3-class problem: 2400 sequences of 20 steps, 2 features, in an .npz file
    (big enough that an epoch lasts a second, so that a rank can be killed mid-run)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 800)
    x = rng.normal(size=(2400, 20, 2)) + 0.3 * y[:, None, None]
    path = tmp_path_factory.mktemp("ddp") / "train.npz"
    np.savez(path, X=x.astype(np.float32), y=y)
    return path


def train_argv(data: Path, out: Path, epochs: int = EPOCHS, batch: int = 16) -> list[str]:
    return ["train", "--data", "sequences", "--data-path", str(data), "--cell", "lstm",
            "--hidden", "16", "--epochs", str(epochs), "--batch-size", str(batch), "--optimizer",
            "sgd", "--lr", "0.05", "--threads", "1", "--quiet", "--out", str(out)]  # fmt: skip


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    out["OMP_NUM_THREADS"] = "1"
    return out


def one_process(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnzoo", *argv], env=env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def torchrun(argv: list[str], nproc: int = 2, **kw) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
           "--master-port", str(free_port()), "-m", "nnzoo", *argv]  # fmt: skip
    return subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)  # fmt: skip


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def params(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "last.pt")["model"]


def assert_same_params(a: Path, b: Path) -> None:
    pa, pb = params(a), params(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        torch.testing.assert_close(pa[name], pb[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    single = one_process(train_argv(data, base / "one"))
    assert single.returncode == 0, single.stderr
    code, out, err = finish(torchrun(train_argv(data, base / "two")))
    assert code == 0, err
    return base, out, err


def test_two_processes_train_the_same_parameters_as_one(runs):
    base, _, _ = runs
    assert_same_params(base / "one", base / "two")
    one = [json.loads(line) for line in (base / "one" / "metrics.jsonl").read_text().splitlines()]
    two = [json.loads(line) for line in (base / "two" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in two] == list(range(1, EPOCHS + 1))  # written once, by rank 0
    for a, b in zip(one, two):  # the training metrics are summed over both ranks
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["accuracy"] == pytest.approx(a["accuracy"])
        assert b["val_accuracy"] == pytest.approx(a["val_accuracy"])


def test_only_rank_zero_reports(runs):
    _, out, _ = runs
    assert out.count("report:") == 1


def test_a_killed_rank_then_the_same_command_resumes_with_two_or_one_process(data, runs, tmp_path):
    base, _, _ = runs
    argv = train_argv(data, tmp_path / "killed")
    proc = torchrun(argv, start_new_session=True)
    last = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists(), finish(proc)[2]
    workers = subprocess.run(
        ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()  # torchrun's workers, ranks 0 and 1
    assert workers, "no worker process found"
    os.kill(int(workers[-1]), signal.SIGKILL)
    code, _, _ = finish(proc)
    assert code != 0 and load_checkpoint(last)["epoch"] < EPOCHS  # killed mid-run
    # a copy resumes in ONE process; the original with two
    resumed = tmp_path / "resumed-one"
    subprocess.run(["cp", "-r", str(tmp_path / "killed"), str(resumed)], check=True)
    single = one_process(train_argv(data, resumed))
    assert single.returncode == 0, single.stderr
    assert_same_params(resumed, base / "two")
    code, _, err = finish(torchrun(argv))
    assert code == 0, err
    assert_same_params(tmp_path / "killed", base / "two")
    metrics = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in metrics] == list(range(1, EPOCHS + 1))


def test_a_ddp_checkpoint_evaluates_in_one_process(runs):
    base, _, _ = runs
    done = subprocess.run([sys.executable, "-m", "nnzoo", "evaluate", str(base / "two")],
                          env=env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((base / "two" / "results.json").read_text())
    assert f"{results['test']['accuracy']:.4f}" in done.stdout


def test_more_processes_than_the_batch_is_one_line_per_rank(data, tmp_path):
    code, _, err = finish(torchrun(train_argv(data, tmp_path / "tiny", batch=1)))
    assert code != 0
    lines = [line for line in err.splitlines() if line.startswith("nnzoo: error:")]
    assert len(lines) == 2  # one per rank
    assert all("train.batch_size=1 is smaller than the 2 processes" in x for x in lines)
    assert "src/nnzoo" not in err  # no traceback from nnzoo (torchrun prints its own summary)
    assert not (tmp_path / "tiny" / "checkpoints").exists()


def test_a_rendezvous_that_never_completes_times_out_with_one_line(data, tmp_path):
    """Rank 1 of 2 with no rank 0 anywhere: the process group never forms."""
    extra = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
             "MASTER_PORT": str(free_port()), "NNZOO_DIST_TIMEOUT": "3"}  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nnzoo", *train_argv(data, tmp_path / "lonely")],
                          env={**env(), **extra}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "rank 1 of 2: the process group at 127.0.0.1:" in err and "did not form" in err
    assert time.monotonic() - started < 60
    assert not (tmp_path / "lonely").exists()


def test_16_mixed_on_cpu_is_one_line(data, tmp_path):
    done = one_process([*train_argv(data, tmp_path / "half"), "--precision", "16-mixed"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "nnzoo: error: train.precision='16-mixed' needs a CUDA device (float16 autocast with "
        "gradient scaling), and this run is on cpu; use --precision bf16 or --precision 32 on "
        "a CPU"
    ]
    assert not (tmp_path / "half").exists()


def test_bf16_on_cpu_trains(data, tmp_path):
    done = one_process([*train_argv(data, tmp_path / "bf16", epochs=2), "--precision", "bf16"])
    assert done.returncode == 0, done.stderr
    p = params(tmp_path / "bf16")
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in p.values())


def _sync_worker(rank: int, port: int, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})  # fmt: skip
    from nnzoo.engine.runtime import Runtime

    runtime = Runtime("cpu")
    runtime.join()
    bn = torch.nn.BatchNorm1d(3)
    bn.running_mean.fill_(rank + 1.0)
    runtime.sync_buffers(bn)
    torch.save(bn.running_mean, Path(out) / f"{rank}.pt")
    runtime.leave()


def test_every_rank_takes_rank_zeros_batch_norm_statistics(tmp_path):
    """Before validating, so that every rank evaluates (and rank 0 saves) the same model."""
    import torch.multiprocessing as mp

    mp.spawn(_sync_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        assert torch.equal(torch.load(tmp_path / f"{rank}.pt"), torch.ones(3))


def test_batch_norm_under_ddp_with_early_stopping_runs_to_its_end(data, tmp_path):
    """bn-lstm under torchrun with early stopping: the ranks decide alike (one rank stopping
    alone would leave the other waiting), and the checkpoint holds the epochs logged."""
    argv = [*train_argv(data, tmp_path / "bn", epochs=6), "--cell", "bn-lstm",
            "--early-stopping", "1", "--set", "train.monitor='val_loss'"]  # fmt: skip
    code, _, err = finish(torchrun(argv))
    assert code == 0, err
    history = [json.loads(x) for x in (tmp_path / "bn" / "metrics.jsonl").read_text().split("\n")
               if x]  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "bn" / "checkpoints" / "last.pt")
    assert ckpt["epoch"] == len(history) and ckpt["history"][-1]["val_loss"] == pytest.approx(
        history[-1]["val_loss"]
    )
