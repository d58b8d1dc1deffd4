"""``nnzoo study init`` at a tiny budget, checked against its run folders and against the NumPy
network trained by hand (``DeepNetwork.gradients`` and ``p -= lr * g``)."""

import json
import math

import numpy as np
import pytest

from nnzoo.experiments.scratch_runs import model_grid
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

ITERATIONS = 30
DIMS = [2, 10, 5, 1]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    return run_study(tmp_path_factory, "init", ITERATIONS)


def circles():
    """The training, validation and test points, read here independently of the study."""
    return split_arrays("circles", train_size=300, val_size=100, test_size=100, noise=0.05)


def hand_trained(init, rng, lr=0.01, iterations=ITERATIONS, **kw):
    X, Y = circles()["train"]
    net = DeepNetwork(DIMS, hidden="relu", output="sigmoid", init=init, rng=rng, **kw)
    costs = []
    for _ in range(iterations):
        cost, grads = net.gradients(X, Y[None])
        costs.append(cost)
        for name, p in net.params.items():
            p -= lr * grads[name]
    return net, costs


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_table_comes_from_the_run_folders(done):
    out, _, record = done
    data = circles()
    assert list(record["rows"]) == ["zeros", "random", "he"]
    for key, row in record["rows"].items():
        run = out / "runs" / key
        h = history(run)
        results = json.loads((run / "results.json").read_text())
        assert row["iterations"] == len(h) == ITERATIONS == results["epochs_run"]
        # the final model, not the one validation picked: test from results.json's final-epoch
        # evaluation, validation from the last epoch's log line ...
        assert row["test_accuracy"] == pytest.approx(100 * results["final_epoch_test"]["accuracy"])
        assert row["val_accuracy"] == pytest.approx(100 * h[-1]["val_accuracy"])
        # ... and all three from the NumPy network holding the final weights (a > 1/2 is class 1)
        net = numpy_net(DIMS, final_arrays(run))
        for part, (X, Y) in data.items():
            assert row[f"{part}_accuracy"] == pytest.approx(100 * np.mean(net.predict(X)[0] == Y))
        assert row["costs"] == [[0, h[0]["loss"]], [ITERATIONS - 1, h[-1]["loss"]]]
    report = (out / "report.md").read_text()
    he = record["rows"]["he"]
    assert f"{he['test_accuracy']:.2f}" in report and "stands in" in report
    assert "Not the course's budget" in report and "99.33 / 96" not in report
    for name in ("costs", "costs-log", "boundaries"):
        assert (out / "plots" / f"{name}.png").stat().st_size > 5000


def test_zeros_keep_every_hidden_unit_identical_at_ln2(done):
    out, _, record = done
    arrays = final_arrays(out / "runs" / "zeros")
    net, costs = hand_trained("zeros", None)
    for name, array in arrays.items():  # b3 moves by rounding only: the classes are balanced
        np.testing.assert_allclose(array, net.params[name], rtol=0, atol=1e-15)
        assert len(np.unique(array, axis=0)) == 1  # all rows (units) alike
    assert all(not array.any() for name, array in arrays.items() if name.startswith("W"))
    h = history(out / "runs" / "zeros")
    assert [e["loss"] for e in h] == pytest.approx(costs, abs=1e-12)
    assert costs[-1] == pytest.approx(math.log(2), abs=1e-12)
    zeros = record["rows"]["zeros"]["weights"]
    assert zeros["rows"] == {"W1": [1, 10], "W2": [1, 5], "W3": [1, 1]}
    assert zeros["units"] == {"layer 1": [1, 10], "layer 2": [1, 5]}
    assert record["rows"]["he"]["weights"]["units"] == {"layer 1": [10, 10], "layer 2": [5, 5]}
    assert "every hidden unit of a layer is identical" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "key, init, kw", [("he", "he", {}), ("random", "random", {"scale": 10.0})]
)  # fmt: skip
def test_random_runs_are_the_course_draws_trained_by_hand(done, key, init, kw):
    out, _, _ = done
    net, costs = hand_trained(init, np.random.RandomState(3), **kw)
    for name, array in final_arrays(out / "runs" / key).items():
        np.testing.assert_allclose(array, net.params[name], rtol=1e-9, atol=1e-10)
    assert [e["loss"] for e in history(out / "runs" / key)] == pytest.approx(costs, rel=1e-9)


def test_the_decision_grid_is_the_numpy_models_prediction_at_each_node(done):
    out, _, _ = done
    X, _ = circles()["train"]
    grid = model_grid(out / "runs" / "he", X.T, steps=21)
    assert grid.xx.shape == grid.yy.shape == grid.labels.shape == (21, 21)
    assert grid.xx.min() == pytest.approx(X[0].min() - 1) and grid.yy.max() == pytest.approx(
        X[1].max() + 1
    )
    net = numpy_net(DIMS, final_arrays(out / "runs" / "he"))
    node = np.stack([grid.xx.ravel(), grid.yy.ravel()])  # (2, 441)
    # the study's model reads float32 points (as the data), so compare on those
    expected = net.predict(node.astype(np.float32).astype(np.float64))[0].reshape(21, 21)
    np.testing.assert_array_equal(grid.labels, expected)
    assert 0 < grid.labels.mean() < 1  # both classes drawn


def test_results_copy_and_rebuild(done):
    out, results, record = done
    assert json.loads(results.with_suffix(".json").read_text())["rows"] == record["rows"]
    figures = ["boundaries", "costs", "costs-log", "zeros-curves"]
    assert_results_and_rebuild(out, results, "init", figures)


@pytest.mark.parametrize(
    "argv, needle",
    [(["--iterations", "0"], "--iterations=0"), (["--lr", "-1"], "--lr=-1"),
     (["--iterations", "x"], "--iterations")],
)  # fmt: skip
def test_bad_options_are_one_line_before_any_training(capsys, tmp_path, argv, needle):
    assert_one_line_before_training(capsys, tmp_path, "init", argv, needle)
