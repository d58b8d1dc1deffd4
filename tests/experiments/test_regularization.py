"""``nnzoo study regularization`` at a tiny budget: its numbers against the run folders and
the NumPy network trained by hand (with the L2 term in its gradient)."""

import json

import numpy as np
import pytest

from nnzoo.experiments.regularization import DATA, DATA_OPTIONS
from nnzoo.scratch import DeepNetwork
from tests.experiments.scratch_helpers import (
    assert_one_line_before_training,
    assert_results_and_rebuild,
    final_arrays,
    numpy_net,
    run_study,
    split_arrays,
)

pytestmark = pytest.mark.usefixtures("one_thread")

ITERATIONS = 20
DIMS = [2, 20, 3, 1]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    return run_study(tmp_path_factory, "regularization", ITERATIONS)


def parts():
    return split_arrays(DATA, **DATA_OPTIONS)


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
        net = numpy_net(DIMS, final_arrays(run))  # keep_prob 1: no units dropped
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
    figures = ["boundaries", "costs", "costs-log", "l2-curves"]
    assert_results_and_rebuild(out, results, "regularization", figures)


def test_bad_iterations_are_one_line_before_any_training(capsys, tmp_path):
    argv = ["--iterations", "-3"]
    assert_one_line_before_training(capsys, tmp_path, "regularization", argv, "--iterations=-3")
