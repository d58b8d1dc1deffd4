"""Shared machinery of the NumPy-network studies' tests (``init``, ``regularization``): a study
at a tiny budget, the data read independently of it, the final weights as a NumPy network,
and the checks on the results copy, the rebuilt report and the one-line failures."""

import json

import numpy as np

from nnzoo.cli import main
from nnzoo.data import load_dataset
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.experiments import rebuild_report
from nnzoo.scratch import DeepNetwork
from tests.experiments.conftest import study


def run_study(tmp_path_factory, name, iterations):
    """``nnzoo study NAME --iterations N`` on one torch thread, its results copy beside the
    study folder. Returns (the study folder, the results page, study.json)."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp(name) / "study"
    results = out.parent / "results" / f"{name}.md"
    argv = ["study", name, "--out", str(out), "--iterations", str(iterations),
            "--results", str(results)]  # fmt: skip
    assert main(argv) == 0
    return out, results, json.loads((out / "study.json").read_text())


def split_arrays(name, **options):
    """The training, validation and test points of dataset ``name`` (seed 0), read here
    independently of the study, as the course's arrays: X (2, m) float64, Y (m,)."""
    parts = load_dataset(name, seed=0, **options)
    return {
        part: (split.x[:, 0].numpy().astype(np.float64).T, split.y.numpy())  # (2, m), (m,)
        for part, split in (("train", parts.train), ("val", parts.val), ("test", parts.test))
    }


def final_arrays(run_dir):
    """The run's final weights (checkpoints/last.pt), name -> array."""
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
    return {name: t.numpy() for name, t in state.items()}


def numpy_net(dims, arrays):
    """A NumPy `DeepNetwork` of layer sizes ``dims`` holding ``arrays``."""
    net = DeepNetwork(dims, init="zeros", rng=None)
    for name, array in arrays.items():
        net.params[name][...] = array
    return net


def assert_results_and_rebuild(out, results, name, figures):
    """The results page links each figure ``NAME-FIGURE.png`` copied beside it, and the
    study's report.md is rebuilt the same from study.json."""
    text = results.read_text()
    for figure in figures:
        assert f"]({name}-{figure}.png)" in text
        assert (results.parent / f"{name}-{figure}.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    (out / "report.md").unlink()
    rebuild_report(out)
    assert (out / "report.md").read_text() == report


def assert_one_line_before_training(capsys, tmp_path, name, argv, needle):
    """``nnzoo study NAME ARGV`` exits 2 with one line holding ``needle`` and trains no run."""
    code, _, err = study(capsys, name, "--out", tmp_path / "s", *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert not (tmp_path / "s" / "runs").exists()
