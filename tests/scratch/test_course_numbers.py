"""The published outputs of the course's notebooks, reproduced from the same seeds and inputs.

Every expected value below is printed in the "Expected output" cells of the deep-learning
specialisation's assignments (Neural Networks and Deep Learning weeks 2 and 4, Improving Deep
Neural Networks week 1 "Initialization", Sequence Models week 1 "Building your RNN step by step"
and "Dinosaur island" ``clip``), which draw with ``np.random.seed(s)`` = ``RandomState(s)``.
"""

import numpy as np
import pytest

from nnzoo.scratch import DeepNetwork, LogisticRegression, clip_by_value, initialize, softmax
from nnzoo.scratch.rnn import rnn_backward, rnn_cell_forward, rnn_forward


def test_initialize_parameters_deep_random_times_001_seed_3():
    p = initialize([5, 4, 3], "random", rng=np.random.RandomState(3), scale=0.01)
    np.testing.assert_allclose(
        p["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388], atol=5e-9
    )
    np.testing.assert_allclose(
        p["W2"],
        [
            [-0.01185047, -0.0020565, 0.01486148, 0.00236716],
            [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
            [-0.00768836, -0.00230031, 0.00745056, 0.01976111],
        ],
        atol=5e-9,
    )
    assert p["b1"].shape == (4, 1) and not p["b1"].any()
    assert p["b2"].shape == (3, 1) and not p["b2"].any()


def test_initialize_parameters_deep_course_seed_1():
    # the application notebook's version: randn(n_l, n_{l-1}) / sqrt(n_{l-1}) after seed(1)
    p = initialize([5, 4, 3], "course", rng=np.random.RandomState(1))
    assert p["W1"][0, 0] == pytest.approx(1.62434536 / np.sqrt(5), abs=1e-8)
    assert p["W1"][0, 0] == pytest.approx(0.72642933, abs=5e-9)


def test_initialize_parameters_he_seed_3():
    p = initialize([2, 4, 1], "he", rng=np.random.RandomState(3))
    np.testing.assert_allclose(
        p["W1"],
        [
            [1.78862847, 0.43650985],
            [0.09649747, -1.8634927],
            [-0.2773882, -0.35475898],
            [-0.08274148, -0.62700068],
        ],
        atol=5e-9,
    )
    np.testing.assert_allclose(
        p["W2"], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], atol=5e-9
    )


def test_initialize_parameters_random_large_seed_3():
    p = initialize([3, 2, 1], "random", rng=np.random.RandomState(3), scale=10)
    np.testing.assert_allclose(
        p["W1"],
        [[17.88628473, 4.36509851, 0.96497468], [-18.63492703, -2.77388203, -3.54758979]],
        atol=5e-8,
    )
    np.testing.assert_allclose(p["W2"], [[-0.82741481, -6.27000677]], atol=5e-8)


def logistic(w, b):
    model = LogisticRegression(len(w))
    model.params["w"][:] = np.array(w, dtype=float).reshape(-1, 1)
    model.params["b"][:] = b
    return model


@pytest.mark.parametrize(
    "X, Y, cost, dw, db",
    [
        ([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]], [[1, 0, 1]], 5.801545319394553,
         [0.99845601, 2.39507239], 0.00145557813678),
        ([[1.0, 2.0], [3.0, 4.0]], [[1, 0]], 6.000064773192205,
         [0.99993216, 1.99980262], 0.499935230625),
    ],
)  # fmt: skip
def test_logistic_propagate(X, Y, cost, dw, db):
    value, grads = logistic([1.0, 2.0], 2.0).gradients(np.array(X), np.array(Y))
    assert value == pytest.approx(cost, abs=1e-11)
    np.testing.assert_allclose(grads["w"].ravel(), dw, atol=5e-9)
    assert grads["b"][0, 0] == pytest.approx(db, abs=1e-11)


@pytest.mark.parametrize(
    "X, Y, w, b, dw, db",
    [
        ([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]], [[1, 0, 1]], [0.19033591, 0.12259159],
         1.92535983008, [0.67752042, 1.41625495], 0.219194504541),
        ([[1.0, 2.0], [3.0, 4.0]], [[1, 0]], [0.1124579, 0.23106775],
         1.55930492484, [0.90158428, 1.76250842], 0.430462071679),
    ],
)  # fmt: skip
def test_logistic_optimize_100_iterations_lr_0009(X, Y, w, b, dw, db):
    model = logistic([1.0, 2.0], 2.0)
    for _ in range(100):
        _, grads = model.gradients(np.array(X), np.array(Y))
        for name, p in model.params.items():
            p -= 0.009 * grads[name]
    np.testing.assert_allclose(model.params["w"].ravel(), w, atol=5e-9)
    assert model.params["b"][0, 0] == pytest.approx(b, abs=1e-11)
    np.testing.assert_allclose(grads["w"].ravel(), dw, atol=5e-9)  # the last iteration's
    assert grads["b"][0, 0] == pytest.approx(db, abs=1e-11)


def test_logistic_predict():
    model = logistic([0.1124579, 0.23106775], -0.3)
    X = np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    np.testing.assert_array_equal(model.predict(X), [[1, 1, 0]])


def test_compute_cost():
    # AL = [[.8, .9, .4]], Y = [[1, 1, 0]] -> 0.2797765635793422, given here as logits
    AL = np.array([[0.8, 0.9, 0.4]])
    net = DeepNetwork([2, 1], init="zeros", rng=None)
    loss, _ = net.loss_and_dZ(np.log(AL / (1 - AL)), np.array([[1, 1, 0]]))
    assert loss == pytest.approx(0.2797765635793422, abs=1e-13)


def test_rnn_cell_forward():
    r = np.random.RandomState(1)
    xt, a_prev = r.randn(3, 10), r.randn(5, 10)
    p = {"Waa": r.randn(5, 5), "Wax": r.randn(5, 3), "Wya": r.randn(2, 5)}
    p["ba"], p["by"] = r.randn(5, 1), r.randn(2, 1)
    a_next, _ = rnn_cell_forward(xt, a_prev, p)
    yt = softmax(p["Wya"] @ a_next + p["by"])
    np.testing.assert_allclose(
        a_next[4],
        [0.59584544, 0.18141802, 0.61311866, 0.99808218, 0.85016201,
         0.99980978, -0.18887155, 0.99815551, 0.6531151, 0.82872037],
        atol=5e-9,
    )  # fmt: skip
    np.testing.assert_allclose(
        yt[1],
        [0.9888161, 0.01682021, 0.21140899, 0.36817467, 0.98988387,
         0.88945212, 0.36920224, 0.9966312, 0.9982559, 0.17746526],
        atol=5e-9,
    )  # fmt: skip


def rnn_test_case(order):
    r = np.random.RandomState(1)
    x, a0 = r.randn(3, 10, 4), r.randn(5, 10)
    shapes = {"Waa": (5, 5), "Wax": (5, 3), "Wya": (2, 5)}
    p = {name: r.randn(*shapes[name]) for name in order}
    p["ba"], p["by"] = r.randn(5, 1), r.randn(2, 1)
    return r, x, a0, p


def test_rnn_forward():
    _, x, a0, p = rnn_test_case(("Waa", "Wax", "Wya"))
    a, caches = rnn_forward(x, a0, p)
    y = softmax(np.einsum("ya,amt->ymt", p["Wya"], a) + p["by"][:, :, None])
    assert a.shape == (5, 10, 4) and len(caches) == 4
    np.testing.assert_allclose(a[4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267],
                               atol=5e-9)  # fmt: skip
    np.testing.assert_allclose(y[1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947],
                               atol=5e-9)  # fmt: skip


def test_rnn_backward():
    r, x, a0, p = rnn_test_case(("Wax", "Waa", "Wya"))
    _, caches = rnn_forward(x, a0, p)
    g = rnn_backward(r.randn(5, 10, 4), caches, p)
    np.testing.assert_allclose(g["dx"][1][2], [-2.07101689, -0.59255627, 0.02466855, 0.01483317],
                               atol=5e-9)  # fmt: skip
    assert g["da0"][2][3] == pytest.approx(-0.314942375127, abs=1e-11)
    assert g["dWax"][3][1] == pytest.approx(11.2641044965, abs=1e-9)
    assert g["dWaa"][1][2] == pytest.approx(2.30333312658, abs=1e-10)
    assert g["dba"][4] == pytest.approx(-0.74747722, abs=5e-9)
    assert g["dx"].shape == (3, 10, 4) and g["da0"].shape == (5, 10)


def test_clip_dinosaur_island():
    r = np.random.RandomState(3)
    g = {
        "dWax": r.randn(5, 3) * 10,
        "dWaa": r.randn(5, 5) * 10,
        "dWya": r.randn(2, 5) * 10,
        "db": r.randn(5, 1) * 10,
        "dby": r.randn(2, 1) * 10,
    }
    clip_by_value(g, 10)
    assert g["dWaa"][1][2] == 10.0
    assert g["dWax"][3][1] == -10.0
    assert g["dWya"][1][2] == pytest.approx(0.29713815361, abs=1e-10)
    assert g["db"][4] == 10.0
    assert g["dby"][1] == pytest.approx(8.45833407, abs=5e-9)
