"""NNZooClassifier: scikit-learn's estimator checks, its model selection tools, and logistic
regression (scikit-learn's, unpenalised) as the reference for a linear model."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nnzoo.sklearn
from nnzoo.data.base import DataError
from nnzoo.engine.callbacks import NonFiniteLossError
from nnzoo.errors import ConfigError
from nnzoo.sklearn import NNZooClassifier

pytestmark = pytest.mark.usefixtures("one_thread")

# Every check is expected to pass; a check that cannot would be listed here with its reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [NNZooClassifier(model_options={"widths": [16]}, epochs=5, lr=0.05)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def moons(n=200):
    return make_moons(n, noise=0.15, random_state=0)


def net(**kw):
    params = {"model_options": {"widths": [32]}, "epochs": 40, "batch_size": 16, "lr": 0.01}
    return NNZooClassifier(**{**params, **kw})


def test_cross_val_score_of_a_pipeline_learns_the_moons():
    X, y = moons()
    pipe = Pipeline([("scale", StandardScaler()), ("net", net())])
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(5))
    linear = cross_val_score(LogisticRegression(), X, y, cv=StratifiedKFold(5))
    assert scores.mean() > 0.95  # the curved boundary, which a linear model misses
    assert linear.mean() < 0.9


def test_grid_search_over_lr_and_model_options_picks_the_model_that_learns():
    X, y = moons(150)
    pipe = Pipeline([("scale", StandardScaler()), ("net", net(epochs=20))])
    grid = {"net__lr": [1e-6, 0.03], "net__model_options": [{"widths": [2]}, {"widths": [32]}]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_ == {"net__lr": 0.03, "net__model_options": {"widths": [32]}}
    assert search.best_score_ > 0.9
    best = search.best_estimator_[-1]
    assert best.model_.layers[1].out_features == 32  # the options reached the model
    slow = np.array(search.cv_results_["param_net__lr"]) == 1e-6
    assert search.cv_results_["mean_test_score"][slow].max() < 0.9


def test_clone_round_trips_the_parameters_and_no_fitted_state():
    est = NNZooClassifier(
        "mlp", {"widths": [8], "activation": "tanh"}, epochs=3, batch_size=7, lr=0.1,
        optimizer="sgd", weight_decay=1e-4, momentum=0.5, seed=4, binary=False,
    )  # fmt: skip
    X, y = moons(40)
    copy = clone(est.fit(X, y))
    assert copy.get_params() == est.get_params()
    assert copy.model_options is not est.model_options
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")
    assert est.history_[-1]["epoch"] == 3


def test_string_labels_come_back_as_strings_and_auto_binary_uses_one_sigmoid():
    X, y = make_classification(120, 10, class_sep=2.0, random_state=1)
    labels = np.where(y == 1, "R", "M")
    auto = net(epochs=20).fit(X, labels)
    assert list(auto.classes_) == ["M", "R"]
    assert auto.binary_ and auto.model_.layers[-1].out_features == 1
    pred = auto.predict(X)
    assert pred.dtype.kind in "UO" and set(pred) <= {"M", "R"}
    assert auto.score(X, labels) > 0.95
    softmax = net(epochs=20, binary=False).fit(X, labels)
    assert not softmax.binary_ and softmax.model_.layers[-1].out_features == 2
    assert softmax.score(X, labels) > 0.95
    proba = softmax.predict_proba(X)
    assert proba.dtype == np.float64 and np.allclose(proba.sum(1), 1, atol=1e-12)


def test_the_same_seed_gives_the_same_model_and_the_callers_rng_is_untouched():
    X, y = moons(80)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = net(epochs=5, seed=3).fit(X, y).predict_proba(X)
    assert torch.equal(torch.get_rng_state(), before)
    b = net(epochs=5, seed=3).fit(X, y).predict_proba(X)
    c = net(epochs=5, seed=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


@pytest.mark.parametrize("classes", [2, 3])
def test_a_linear_model_trained_to_convergence_is_logistic_regression(classes):
    """mlp with one linear hidden layer (activation none) is an affine map of x: its optimum
    is the unpenalised maximum-likelihood logistic regression, whatever the factorisation
    (a linear network with a hidden width >= min(inputs, outputs) has no other minimum)."""
    rng = np.random.RandomState(0)
    n, f = 200, 3
    X = rng.randn(n, f)
    if classes == 2:  # y from a logistic model: not separable, so the optimum is finite
        y = (rng.rand(n) < 1 / (1 + np.exp(-(X @ [1.0, -1.5, 0.5] + 0.3)))).astype(int)
    else:
        y = np.argmax(X @ rng.randn(f, 3) + rng.gumbel(size=(n, 3)), axis=1)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    est = NNZooClassifier(
        "mlp", {"widths": [classes], "activation": "none"}, epochs=500, batch_size=n,
        optimizer="sgd", lr=0.1, momentum=0.9,
    ).fit(X, y)  # fmt: skip
    assert est.binary_ == (classes == 2)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    ref_loss = -np.mean(np.log(ref.predict_proba(X)[np.arange(n), y]))
    assert est.history_[-1]["loss"] == pytest.approx(ref_loss, abs=1e-5)


def sums(n=160, t=6):
    """Sequences whose class is the sign of the sum of their first feature."""
    rng = np.random.RandomState(2)
    x = rng.randn(n, t, 2)
    return x, (x[:, :, 0].sum(1) > 0).astype(int)


def test_sequences_3d_for_a_recurrent_model():
    X, y = sums()
    gru = {"cell": "gru", "hidden": 8, "layers": 1}
    est = NNZooClassifier("sequence-classifier", gru, epochs=30, lr=0.02).fit(X, y)
    assert est.n_features_in_ == 6 and est.input_shape_ == (6, 2)
    assert est.score(X, y) > 0.95
    with pytest.raises(ValueError, match=r"examples of shape \(6, 3\).*\(6, 2\)"):
        est.predict(np.zeros((2, 6, 3)))


@pytest.mark.parametrize(
    "model, options, layout",
    [("sequence-classifier", {"cell": "gru", "hidden": 4, "layers": 1}, (-1, 6, 1)),
     ("mlp", {"widths": [4]}, (-1, 1, 6))],
)  # fmt: skip
def test_2d_rows_are_read_as_documented(model, options, layout):
    """2-D rows are univariate sequences for a sequence model, 1 x F images for mlp: the same
    estimator given those 3-D arrays makes the same model."""
    X, y = sums()
    X = X[:, :, 0]  # (N, 6)
    rows = NNZooClassifier(model, options, epochs=3).fit(X, y)
    shaped = NNZooClassifier(model, options, epochs=3).fit(X.reshape(layout), y)
    np.testing.assert_array_equal(rows.predict_proba(X), shaped.predict_proba(X.reshape(layout)))


def test_float64_input_trains_as_its_float32_values():
    X, y = moons(60)
    a = net(epochs=3).fit(X, y)
    b = net(epochs=3).fit(X.astype(np.float32), y)
    assert next(a.model_.parameters()).dtype == torch.float32
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X.astype(np.float32)))


def test_history_has_every_epoch_and_no_validation_and_verbose_prints_them(capsys):
    X, y = moons(50)
    est = net(epochs=4, verbose=True).fit(X, y)
    assert [row["epoch"] for row in est.history_] == [1, 2, 3, 4]
    assert not any(key.startswith("val_") for row in est.history_ for key in row)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[-1].startswith("NNZooClassifier epoch 4/4: loss ")


@pytest.mark.parametrize(
    "params, error, message",
    [({"model": "nope"}, ConfigError, "unknown model 'nope'"),
     ({"model_options": {"depth": 3}}, ConfigError, "model.options.depth=3: not an option"),
     ({"lr": -1.0}, ConfigError, r"NNZooClassifier\(lr=-1.0\): expected a finite number > 0"),
     ({"lr": float("nan")}, ConfigError, r"NNZooClassifier\(lr=nan\)"),
     ({"epochs": 0}, ConfigError, r"NNZooClassifier\(epochs=0\): expected an integer >= 1"),
     ({"epochs": 2.5}, ConfigError, r"NNZooClassifier\(epochs=2.5\): expected an integer"),
     ({"optimizer": "lbfgs"}, ConfigError, r"optimizer='lbfgs'\): expected one of 'sgd'"),
     ({"binary": "yes"}, ConfigError, r"binary='yes'\): expected 'auto', True or False"),
     ({"device": "gpu"}, ConfigError, r"device='gpu'\): expected 'auto', 'cpu'"),
     ({"binary": True}, ConfigError, r"y has 3 classes; binary classification needs exactly 2")],
)  # fmt: skip
def test_bad_parameters_are_one_line_errors(params, error, message):
    X, y = make_classification(30, 4, n_informative=3, n_redundant=0, n_classes=3)
    est = NNZooClassifier(**{"epochs": 1, **params})
    with pytest.raises(error, match=message) as info:
        est.fit(X, y)
    assert "\n" not in str(info.value)
    assert not hasattr(est, "classes_")  # a failed fit leaves no fitted state


def test_a_diverging_fit_says_to_lower_the_learning_rate():
    X, y = moons(50)
    est = net(optimizer="sgd", lr=1e30, epochs=5)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan .*; lower lr \(now 1e\+30\)"):
        est.fit(100 * X, y)


def test_bad_data_is_refused():
    X, y = moons(20)
    with pytest.raises(DataError, match=r"y has 1 class \(0\); a classifier needs at least 2"):
        net(epochs=1).fit(X, np.zeros(20, dtype=int))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net(epochs=1).fit(bad, y)
    fitted = net(epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but NNZooClassifier is expecting 2"):
        fitted.predict(np.zeros((2, 3)))


def test_the_docstring_example_runs():
    """The module's sonar example, on sonar-shaped data (208 x 60, "M"/"R"), with 2 epochs."""
    code = nnzoo.sklearn.__doc__.rsplit("::\n", 1)[1]  # the last literal block
    code = re.sub(r"epochs=100", "epochs=2", code)
    X, y = make_classification(208, 60, n_informative=10, random_state=0)
    scope = {"X": X, "y": np.where(y == 1, "M", "R")}
    exec(compile(textwrap.dedent(code), "nnzoo.sklearn example", "exec"), scope)
    assert scope["scores"].shape == (10,) and scope["scores"].mean() > 0.6


def test_without_scikit_learn_the_import_says_how_to_install_it():
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "from nnzoo.errors import ConfigError\n"
        "try:\n    import nnzoo.sklearn\nexcept ConfigError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("install it with pip install scikit-learn")
    assert len(out.stdout.strip().splitlines()) == 1
