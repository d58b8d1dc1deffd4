"""`nnzoo reproduce catvnoncat` on tiny generated HDF5 files of the course's format.

Reference: the course's own logistic-regression algorithm (``propagate`` / ``optimize`` /
``predict``) written out here in NumPy on ``train_set_x_orig.reshape(m, -1).T / 255``, and the
course's ``initialize_parameters_deep``; the recipe's numbers must be theirs.
"""

import json

import numpy as np
import pytest

from nnzoo.cli import main
from nnzoo.experiments.catvnoncat import printed_match
from tests.data.test_catvnoncat import make_course

pytestmark = pytest.mark.usefixtures("one_thread")
ITERATIONS = 25


def course_logistic(X, Y, lr, iterations):
    """The assignment's optimize(): zero init, full-batch gradient descent; costs before each
    update, then predict() with a > 0.5."""
    w, b = np.zeros((X.shape[0], 1)), 0.0
    costs = []
    m = X.shape[1]
    for _ in range(iterations):
        A = 1 / (1 + np.exp(-(w.T @ X + b)))
        costs.append(float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m))
        w -= lr * (X @ (A - Y).T) / m
        b -= lr * float(np.sum(A - Y)) / m
    return w, b, costs


def course_accuracy(w, b, X, Y):
    predicted = (1 / (1 + np.exp(-(w.T @ X + b))) > 0.5).astype(float)
    return 100 - np.mean(np.abs(predicted - Y)) * 100


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    data = make_course(root / "catvnoncat", sizes=(10, 4))
    out = tmp_path_factory.mktemp("out")
    argv = ["reproduce", "catvnoncat", "--epochs", str(ITERATIONS), "--data-root", str(root),
            "--out", str(out), "--runs", str(out / "runs")]  # fmt: skip
    assert main(argv) == 0
    return data, out, json.loads((out / "catvnoncat.json").read_text())


def flat(x):
    return x.reshape(len(x), -1).T / 255.0  # the course's matrix


def test_logistic_runs_are_the_course_algorithm(reproduced):
    data, _, record = reproduced
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    X, Y, Xt, Yt = flat(x_train), y_train[None, :], flat(x_test), y_test[None, :]
    for key, lr in [("logistic-lr0.005", 0.005), ("logistic-lr0.01", 0.01),
                    ("logistic-lr0.001", 0.001), ("logistic-lr0.0001", 0.0001)]:  # fmt: skip
        w, b, costs = course_logistic(X, Y, lr, ITERATIONS)
        row = record["runs"][key]
        np.testing.assert_allclose(row["costs"], costs, rtol=1e-12)
        assert row["train accuracy %"] == pytest.approx(course_accuracy(w, b, X, Y))
        assert row["test accuracy %"] == pytest.approx(course_accuracy(w, b, Xt, Yt))


def test_the_deep_network_starts_from_the_courses_initialisation(reproduced):
    data, _, record = reproduced
    x, y = data["train"]
    X, Y = flat(x), y[None, :]
    rng = np.random.RandomState(1)  # initialize_parameters_deep: np.random.seed(1)
    A = X
    dims = [X.shape[0], 20, 7, 5, 1]
    for layer in range(1, len(dims)):
        W = rng.randn(dims[layer], dims[layer - 1]) / np.sqrt(dims[layer - 1])
        Z = W @ A
        A = np.maximum(Z, 0) if layer < len(dims) - 1 else 1 / (1 + np.exp(-Z))
    cost = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    assert record["runs"]["deep-4-layer"]["costs"][0] == pytest.approx(cost, rel=1e-6)
    assert record["runs"]["deep-4-layer"]["params"] == sum(
        dims[i] * dims[i - 1] + dims[i] for i in range(1, 5)
    )


def test_report_tables_gallery_and_rebuild(reproduced):
    _, out, record = reproduced
    text = (out / "catvnoncat.md").read_text()
    probabilities = record["runs"]["logistic-lr0.005"]["test_probabilities"]
    wrong = [i for i, (p, y) in enumerate(zip(probabilities, record["test_labels"]))
             if int(p > 0.5) != y]  # fmt: skip
    if wrong:
        assert f"Misclassified test images ({len(wrong)} of 4)" in text
        assert (out / "catvnoncat-misclassified.png").exists()
    assert "| cost at iteration 0    | 0.693147" in text  # ln 2 for any zero-initialised run
    assert (out / "catvnoncat.html").exists() and (out / "catvnoncat-costs.png").exists()
    before = text
    (out / "catvnoncat.md").unlink()
    assert main(["report", str(out / "catvnoncat.json")]) == 0
    assert (out / "catvnoncat.md").read_text() == before


@pytest.mark.parametrize(
    ("value", "published", "how", "expected"),
    [
        (0.6931471805599453, "0.693147", "round", True),
        (0.1408720691969, "0.140872", "round", True),
        (0.1408725, "0.140872", "round", False),
        (99.04306220095694, "99.04306220095694", "prefix", True),
        (88.99521531100478, "88.99", "prefix", True),  # the text cuts, it does not round
        (89.0, "88.99", "prefix", False),
        (70.0, "70.0", "prefix", True),
        (68.0, "70.0", "prefix", False),
    ],
)
def test_printed_digits(value, published, how, expected):
    assert printed_match(value, published, how) is expected


def test_bad_flags_and_missing_files_are_one_line(tmp_path, capsys):
    assert main(["reproduce", "catvnoncat", "--epochs", "0", "--data-root", str(tmp_path)]) == 2
    assert "--epochs=0" in capsys.readouterr().err
    code = main(["reproduce", "catvnoncat", "--data-root", str(tmp_path), "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "catvnoncat" in err
