"""The 2-D datasets against scikit-learn's make_moons / make_circles and the course's flower."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_circles, make_moons

from nnzoo.data import DEFAULTS, GENERATED, load_dataset
from nnzoo.data.planar import circles_points, flower_points, load_planar_dataset, moons_points
from nnzoo.errors import ConfigError
from nnzoo.models import MODELS
from nnzoo.tasks.classify import Classify


def course_load_planar_dataset():
    """The course's planar_utils.load_planar_dataset, as written there."""
    np.random.seed(1)
    m = 400  # number of examples
    N = int(m / 2)  # number of points per class
    D = 2  # dimensionality
    X = np.zeros((m, D))  # data matrix where each row is a single example
    Y = np.zeros((m, 1), dtype="uint8")  # labels vector (0 for red, 1 for blue)
    a = 4  # maximum ray of the flower

    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j

    X = X.T
    Y = Y.T

    return X, Y


@pytest.mark.parametrize("n", [7, 300])
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_moons_are_make_moons_exactly_with_its_random_state(n, noise):
    x, y = moons_points(np.random.RandomState(3), n, noise)
    x_ref, y_ref = make_moons(n, noise=noise, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("n", [7, 300])
@pytest.mark.parametrize(("noise", "factor"), [(0.05, 0.8), (0.3, 0.5)])
def test_circles_are_make_circles_exactly_with_its_random_state(n, noise, factor):
    x, y = circles_points(np.random.RandomState(4), n, noise, factor)
    x_ref, y_ref = make_circles(
        n, noise=noise, factor=factor, random_state=np.random.RandomState(4)
    )
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_flower_is_the_course_planar_dataset_exactly():
    state = np.random.get_state()
    try:
        X_ref, Y_ref = course_load_planar_dataset()
    finally:
        np.random.set_state(state)
    X, Y = load_planar_dataset()
    assert X.shape == (2, 400) and Y.shape == (1, 400) and Y.dtype == np.uint8
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, Y_ref)


def rows(part):
    return part.x[:, 0].double().numpy(), part.y.numpy()


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_noise_free_sets_are_scikit_learns_points(name):
    splits = load_dataset(name, noise=0, train_size=41, val_size=3, test_size=2)
    x, y = rows(splits.train)
    make = make_moons if name == "moons" else make_circles
    x_ref, y_ref = make(41, shuffle=False)
    assert y.tolist() != sorted(y.tolist())  # shuffled
    x, x_ref = np.round(x, 5), np.round(x_ref, 5)  # float32 against float64: sort on 5 places
    order, order_ref = np.lexsort(x.T), np.lexsort(x_ref.T)
    np.testing.assert_allclose(x[order], x_ref[order_ref], atol=1e-5)
    np.testing.assert_array_equal(y[order], y_ref[order_ref])


def radial_deviation(x, y, name):
    """Distance from each point's own curve (radius 1 around its centre, or 0.8 inside)."""
    if name == "moons":
        centre = np.where(y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
        return np.linalg.norm(x - centre, axis=1) - 1.0
    return np.linalg.norm(x, axis=1) - np.where(y == 0, 1.0, 0.8)


@pytest.mark.parametrize(("name", "noise"), [("moons", 0.05), ("circles", 0.05)])
def test_noise_scale_and_balance_match_scikit_learn(name, noise):
    splits = load_dataset(name, noise=noise, train_size=4001, val_size=1, test_size=1, seed=2)
    x, y = rows(splits.train)
    make = make_moons if name == "moons" else make_circles
    x_ref, y_ref = make(4001, noise=noise, random_state=0)
    assert np.bincount(y).tolist() == np.bincount(y_ref).tolist() == [2000, 2001]
    ours, theirs = radial_deviation(x, y, name), radial_deviation(x_ref, y_ref, name)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.06)
    assert ours.std() == pytest.approx(noise, rel=0.1)
    assert abs(ours.mean()) < 0.01 and abs(theirs.mean()) < 0.01


def test_flower_points_lie_on_the_petals():
    splits = load_dataset("flower", noise=0, train_size=101, val_size=2, test_size=2)
    x, y = rows(splits.train)
    assert np.bincount(y).tolist() == [50, 51]
    t = np.arctan2(x[:, 0], x[:, 1])  # x = (r sin t, r cos t); r < 0 turns t by pi
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 4 * np.abs(np.sin(4 * t)), atol=1e-5)
    noisy = load_dataset("flower", train_size=2000, val_size=1, test_size=1)
    x, y = rows(noisy.train)
    ref, _ = flower_points(np.random.RandomState(0), 2000)
    assert np.abs(x).max() == pytest.approx(np.abs(ref).max(), rel=0.1)
    assert x.std(0) == pytest.approx(ref.std(0), rel=0.1)


@pytest.mark.parametrize("name", ["moons", "circles", "flower"])
def test_registered_seeded_and_trainable(name):
    assert name in GENERATED and DEFAULTS[name].split == "given"
    splits = load_dataset(name, seed=5)
    sizes = {"flower": [400, 100, 100]}.get(name, [300, 100, 100])
    assert [len(splits.train), len(splits.val), len(splits.test)] == sizes
    assert splits.train.x.shape[1:] == (1, 2) and splits.train.x.dtype == torch.float32
    assert splits.num_classes == 2 and splits.info["chance"] == 0.5
    again, other = load_dataset(name, seed=5), load_dataset(name, seed=6)
    assert torch.equal(again.train.x, splits.train.x) and torch.equal(again.test.y, splits.test.y)
    assert not torch.equal(other.train.x, splits.train.x)
    assert not torch.equal(splits.val.x[:50], splits.test.x[:50])  # parts from their own streams
    model = MODELS.create("mlp", list(splits.train.x.shape[1:]), 2, widths=(3,))
    x, _, lengths = Classify().collate(splits.train, torch.arange(6))
    assert model(x, lengths).shape == (6, 2)


@pytest.mark.parametrize(
    ("name", "options", "needle"),
    [
        ("moons", {"noise": -0.1}, "data.options.noise=-0.1: expected a number >= 0"),
        ("moons", {"noise": float("nan")}, "data.options.noise=nan: expected a number >= 0"),
        ("circles", {"noise": "a"}, "data.options.noise='a': expected a number >= 0"),
        ("circles", {"factor": 1.0}, "data.options.factor=1.0: expected a number in [0, 1)"),
        ("flower", {"radius": True}, "data.options.radius=True: expected a number >= 0"),
        ("flower", {"train_size": 0}, "data.options.train_size=0: expected an integer >= 1"),
    ],
)
def test_bad_options_are_one_line(name, options, needle):
    with pytest.raises(ConfigError) as info:
        load_dataset(name, **options)
    assert str(info.value) == needle
