"""Inverted dropout: the masks, E[A_dropped] = A, and that only training and hidden layers drop."""

import numpy as np
import pytest

from nnzoo.scratch import DeepNetwork
from nnzoo.scratch.mlp import activation_forward, dropout_backward, dropout_forward


@pytest.mark.parametrize("keep_prob", [0.5, 0.8])
def test_inverted_dropout_keeps_the_expectation(keep_prob):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 1))
    n = 200_000
    A_wide = np.repeat(A, n, axis=1)  # (6, n): n independent draws of each unit
    dropped, mask = dropout_forward(A_wide, keep_prob, rng)
    # kept units scaled by 1/keep_prob exactly, dropped ones exactly 0
    np.testing.assert_array_equal(dropped[mask], (A_wide / keep_prob)[mask])
    assert not dropped[~mask].any()
    assert mask.mean() == pytest.approx(keep_prob, abs=5 * np.sqrt(keep_prob / (6 * n)))
    # E[A * D / keep_prob] = A; the standard error of the mean is |A| sqrt((1-p)/p) / sqrt(n)
    se = np.abs(A[:, 0]) * np.sqrt((1 - keep_prob) / keep_prob / n)
    assert np.all(np.abs(dropped.mean(axis=1) - A[:, 0]) < 5 * se)


def test_dropout_backward_passes_gradient_only_through_kept_units():
    rng = np.random.default_rng(1)
    dA = rng.standard_normal((4, 5))
    mask = rng.random((4, 5)) < 0.6
    np.testing.assert_array_equal(dropout_backward(dA, mask, 0.6), np.where(mask, dA / 0.6, 0))


def test_dropout_acts_on_hidden_layers_in_training_only():
    rng = np.random.default_rng(2)
    net = DeepNetwork([3, 8, 8, 2], output="softmax", keep_prob=0.5, rng=rng)
    X = rng.standard_normal((3, 10))
    Z_test, cache = net.forward(X)
    assert all(layer.mask is None for layer in cache.layers)
    Z_train, cache = net.forward(X, train=True, rng=np.random.default_rng(3))
    hidden, last = cache.layers[:-1], cache.layers[-1]
    assert last.mask is None
    assert all(layer.mask.shape == layer.Z.shape for layer in hidden)
    assert not np.allclose(Z_test, Z_train)
    # the next layer's input is the dropped activation of the layer below
    A1 = activation_forward(hidden[0].Z, "relu") * hidden[0].mask / 0.5
    np.testing.assert_array_equal(cache.layers[1].A_prev, A1)
    # the same seed gives the same masks
    Z_again, _ = net.forward(X, train=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(Z_train, Z_again)


def test_keep_prob_one_needs_no_rng_in_training():
    rng = np.random.default_rng(4)
    net = DeepNetwork([3, 4, 1], rng=rng)
    X = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(net.forward(X, train=True)[0], net.forward(X)[0])
