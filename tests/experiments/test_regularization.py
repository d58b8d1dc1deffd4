"""``nnzoo study regularization`` at a tiny budget: its numbers against the run folders and
the NumPy network trained by hand (with the L2 term in its gradient)."""

import json

import numpy as np
import pytest

from nnzoo.cli import main
from nnzoo.data import load_dataset
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.experiments import rebuild_report
from nnzoo.experiments.regularization import DATA, DATA_OPTIONS
from nnzoo.scratch import DeepNetwork
from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")

ITERATIONS = 20
DIMS = [2, 20, 3, 1]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("reg") / "study"
    results = out.parent / "results" / "regularization.md"
    argv = ["study", "regularization", "--out", str(out), "--iterations", str(ITERATIONS),
            "--results", str(results)]  # fmt: skip
    assert main(argv) == 0
    return out, results, json.loads((out / "study.json").read_text())


def parts():
    data = load_dataset(DATA, seed=0, **DATA_OPTIONS)
    return {
        name: (part.x[:, 0].numpy().astype(np.float64).T, part.y.numpy())  # (2, m), (m,)
        for name, part in (("train", data.train), ("val", data.val), ("test", data.test))
    }


def final_arrays(run_dir):
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
    return {name: t.numpy() for name, t in state.items()}


def numpy_net(arrays):
    net = DeepNetwork(DIMS, init="zeros", rng=None)
    for name, array in arrays.items():
        net.params[name][...] = array
    return net


@pytest.mark.parametrize("key, lambd", [("none", 0.0), ("l2", 0.7)])
def test_runs_are_the_course_network_trained_by_hand(done, key, lambd):
    out, _, record = done
    X, Y = parts()["train"]
    # the notebook's initialize_parameters: np.random.seed(3), randn / sqrt(n_prev)
    net = DeepNetwork(DIMS, init="course", lambd=lambd, rng=np.random.RandomState(3))
    for _ in range(ITERATIONS):
        _, grads = net.gradients(X, Y[None])  # + (lambd / m) W for L2
        for name, p in net.params.items():
            p -= 0.3 * grads[name]
    arrays = final_arrays(out / "runs" / key)
    for name, array in arrays.items():
        np.testing.assert_allclose(array, net.params[name], rtol=1e-9, atol=1e-10)
    squares = sum(np.sum(arrays[f"W{l}"] ** 2) for l in (1, 2, 3))
    assert record["rows"][key]["l2_penalty"] == pytest.approx(lambd / (2 * len(Y)) * squares)


def test_accuracies_are_the_final_models_without_dropout(done):
    out, _, record = done
    data = parts()
    assert list(record["rows"]) == ["none", "l2", "dropout"]
    for key, row in record["rows"].items():
        run = out / "runs" / key
        results = json.loads((run / "results.json").read_text())
        assert row["test_accuracy"] == pytest.approx(100 * results["final_epoch_test"]["accuracy"])
        net = numpy_net(final_arrays(run))  # keep_prob 1: no units dropped
        for part, (X, Y) in data.items():
            assert row[f"{part}_accuracy"] == pytest.approx(100 * np.mean(net.predict(X)[0] == Y))
    config = (out / "runs" / "dropout" / "config.toml").read_text()
    assert "keep_prob = 0.86" in config and 'init = "course"' in config
    assert "lambd = 0.7" in (out / "runs" / "l2" / "config.toml").read_text()
    dropped = final_arrays(out / "runs" / "dropout")["W1"]
    assert not np.allclose(dropped, final_arrays(out / "runs" / "none")["W1"])


def test_report_results_and_rebuild(done):
    out, results, record = done
    report = (out / "report.md").read_text()
    none = record["rows"]["none"]
    assert f"{none['val_accuracy']:.2f}" in report and "football" in report
    assert "test split was not looked at" in report and "94.8 / 91.5" not in report
    text = results.read_text()
    for name in ("boundaries", "costs", "costs-log", "l2-curves"):
        assert f"](regularization-{name}.png)" in text
        assert (results.parent / f"regularization-{name}.png").stat().st_size > 0
    (out / "report.md").unlink()
    rebuild_report(out)
    assert (out / "report.md").read_text() == report


def test_bad_iterations_are_one_line(capsys, tmp_path):
    code, _, err = study(capsys, "regularization", "--out", tmp_path / "s", "--iterations", "-3")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "--iterations=-3" in lines[0], err
