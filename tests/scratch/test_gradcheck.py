"""Every model's backward against centred differences of its cost (`gradient_check`).

Dropout: the cost is random, so ``gradient_check(..., seed=s)`` draws the masks from a fresh
``np.random.default_rng(s)`` at every evaluation; each J(theta +- eps e_i) and the analytic
gradient then use the same masks, and J is a smooth function of the parameters.
"""

import numpy as np
import pytest

from nnzoo.scratch import (
    ACTIVATIONS,
    DeepNetwork,
    ElmanRNN,
    LogisticRegression,
    gradient_check,
)

TOL = 1e-7


def labels(rng, output, n_y, shape):
    if output == "sigmoid":
        return (rng.random((1, *shape)) < 0.5).astype(int)
    return rng.integers(0, n_y, size=shape)


@pytest.mark.parametrize("lambd", [0.0, 0.5])
def test_logistic_regression(lambd):
    rng = np.random.default_rng(0)
    model = LogisticRegression(4, lambd=lambd)
    model.params["w"][:] = rng.standard_normal((4, 1))
    model.params["b"][:] = 0.3
    X = rng.standard_normal((4, 7))
    Y = labels(rng, "sigmoid", 1, (7,))
    assert gradient_check(model, X, Y) < TOL


@pytest.mark.parametrize("hidden", list(ACTIVATIONS))
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_deep_network(hidden, output, lambd):
    rng = np.random.default_rng(1)
    n_y = 1 if output == "sigmoid" else 3
    net = DeepNetwork([4, 5, 3, n_y], hidden=hidden, output=output, lambd=lambd, rng=rng)
    for name, p in net.params.items():  # nonzero biases too, so every term is exercised
        if name.startswith("b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    X = rng.standard_normal((4, 6))
    Y = labels(rng, output, n_y, (6,))
    assert gradient_check(net, X, Y) < TOL


@pytest.mark.parametrize("hidden", ["relu", "tanh"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_deep_network_with_dropout_and_fixed_masks(hidden, output):
    rng = np.random.default_rng(2)
    n_y = 1 if output == "sigmoid" else 3
    net = DeepNetwork(
        [4, 6, 5, n_y], hidden=hidden, output=output, lambd=0.3, keep_prob=0.6, rng=rng
    )
    X = rng.standard_normal((4, 8))
    Y = labels(rng, output, n_y, (8,))
    assert gradient_check(net, X, Y, seed=5) < TOL
    # the masks do act: the training cost differs from the test-time cost
    assert net.cost(X, Y, train=True, rng=np.random.default_rng(5)) != pytest.approx(net.cost(X, Y))


@pytest.mark.parametrize("many_to_many", [False, True])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("lambd", [0.0, 0.4])
def test_elman_rnn(many_to_many, output, lambd):
    rng = np.random.default_rng(3)
    n_y = 1 if output == "sigmoid" else 3
    model = ElmanRNN(
        3, 5, n_y, many_to_many=many_to_many, output=output, init="xavier", lambd=lambd, rng=rng
    )
    for name in ("ba", "by"):
        model.params[name][:] = 0.1 * rng.standard_normal(model.params[name].shape)
    x = rng.standard_normal((3, 4, 5))  # (n_x, m, T)
    Y = labels(rng, output, n_y, (4, 5) if many_to_many else (4,))
    assert gradient_check(model, x, Y) < TOL


class WrongBackward(DeepNetwork):
    """dW1 off by 1%: the check must see it."""

    def _backward(self, dZ, cache):
        grads = super()._backward(dZ, cache)
        grads["W1"] = grads["W1"] * 1.01
        return grads


def test_gradient_check_finds_a_wrong_backward():
    rng = np.random.default_rng(4)
    net = WrongBackward([3, 4, 1], hidden="tanh", rng=rng)
    X = rng.standard_normal((3, 5))
    Y = labels(rng, "sigmoid", 1, (5,))
    assert gradient_check(net, X, Y) > 1e-4


def test_gradient_check_restores_every_parameter_exactly():
    rng = np.random.default_rng(5)
    net = DeepNetwork([3, 4, 2], hidden="elu", output="softmax", rng=rng)
    before = {name: p.copy() for name, p in net.params.items()}
    ids = {name: id(p) for name, p in net.params.items()}
    gradient_check(net, rng.standard_normal((3, 4)), np.array([0, 1, 1, 0]))
    for name, p in net.params.items():
        assert id(p) == ids[name]
        np.testing.assert_array_equal(p, before[name])
