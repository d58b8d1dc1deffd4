"""Tiny run folders written by the real ``train_run``, shared by the report tests."""

import shutil

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.runs.train import train_run
from tests.engine.test_fit import synthetic_splits

# Two runs that differ in their cell and learning rate.
CONFIGS = {
    "lstm": RunConfig(
        model=ModelConfig(cell="lstm", hidden=4, layers=1),
        train=TrainConfig(epochs=3, batch_size=16, lr=0.02, seed=1),
    ),
    "gru": RunConfig(
        model=ModelConfig(cell="gru", hidden=4, layers=1),
        train=TrainConfig(epochs=3, batch_size=16, lr=0.01, seed=1),
    ),
}


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory):
    """{name: run folder} of two finished runs; copy one (`run_copy`) before changing it."""
    base = tmp_path_factory.mktemp("trained")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, config in CONFIGS.items():
            train_run(config, base / name, splits=synthetic_splits(), progress=False)
    finally:
        torch.set_num_threads(threads)
    return {name: base / name for name in CONFIGS}


@pytest.fixture
def run_copies(trained_runs, tmp_path):
    """{name: a private copy of the run folder} under tmp_path/runs."""
    out = {}
    for name, folder in trained_runs.items():
        out[name] = tmp_path / "runs" / name
        shutil.copytree(folder, out[name])
    return out


def snapshot(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
