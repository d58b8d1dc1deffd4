"""Initialisation: shapes, scales, generators and dtypes (the course's numbers are in
test_course_numbers.py)."""

import numpy as np
import pytest

from nnzoo.scratch import ElmanRNN, initialize
from nnzoo.scratch.init import METHODS


@pytest.mark.parametrize("method", METHODS)
def test_shapes_and_zero_biases(method):
    p = initialize([4, 3, 2], method, rng=np.random.default_rng(0))
    assert list(p) == ["W1", "b1", "W2", "b2"]
    assert p["W1"].shape == (3, 4) and p["W2"].shape == (2, 3)
    assert p["b1"].shape == (3, 1) and p["b2"].shape == (2, 1)
    assert not p["b1"].any() and not p["b2"].any()
    assert p["W1"].any() == (method != "zeros")


@pytest.mark.parametrize(
    "method, std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(1 / 400)), ("random", 0.05)]
)
def test_the_standard_deviation_of_each_method(method, std):
    W = initialize([400, 500], method, rng=np.random.default_rng(1), scale=0.05)["W1"]
    # 200,000 draws: the sample std is within 1% of the true one
    assert W.std() == pytest.approx(std, rel=0.01)
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)


def test_generator_and_random_state_give_their_own_draws():
    g = initialize([3, 2], "random", rng=np.random.default_rng(2), scale=1.0)["W1"]
    r = initialize([3, 2], "random", rng=np.random.RandomState(2), scale=1.0)["W1"]
    np.testing.assert_array_equal(g, np.random.default_rng(2).standard_normal((2, 3)))
    np.testing.assert_array_equal(r, np.random.RandomState(2).randn(2, 3))


def test_float32_is_the_float64_draw_rounded():
    p32 = initialize([3, 2], "he", rng=np.random.default_rng(3), dtype=np.float32)
    p64 = initialize([3, 2], "he", rng=np.random.default_rng(3))
    assert p32["W1"].dtype == np.float32 and p32["b1"].dtype == np.float32
    np.testing.assert_array_equal(p32["W1"], p64["W1"].astype(np.float32))


def test_rnn_weights_follow_the_course_order_and_scale():
    r = np.random.RandomState(1)
    expected = [r.randn(5, 3) * 0.01, r.randn(5, 5) * 0.01, r.randn(2, 5) * 0.01]
    model = ElmanRNN(3, 5, 2, rng=np.random.RandomState(1))
    for name, W in zip(("Wax", "Waa", "Wya"), expected):
        np.testing.assert_array_equal(model.params[name], W)
    assert not model.params["ba"].any() and not model.params["by"].any()
