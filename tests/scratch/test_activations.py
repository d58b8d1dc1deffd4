"""Activations and their derivatives against torch's functions and torch.autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.scratch.activations import ACTIVATIONS, log_softmax, sigmoid, softmax

# the independent references: torch's functions (leaky slope 0.01, ELU alpha 1); the
# activations study's test reads them too
TORCH = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": lambda z: F.elu(z, 1.0),
}
# many points, 0 included (the derivatives at the kink take autograd's values)
POINTS = np.concatenate([np.linspace(-8, 8, 401), [0.0, -1e-12, 1e-12, -30.0, 30.0]])


def test_every_activation_has_a_torch_reference():
    assert set(ACTIVATIONS) == set(TORCH)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_and_derivative_equal_torch_autograd(name):
    f, df = ACTIVATIONS[name]
    z = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    out = TORCH[name](z)
    (grad,) = torch.autograd.grad(out.sum(), z)
    np.testing.assert_allclose(f(POINTS), out.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(df(POINTS), grad.numpy(), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_keep_the_shape_and_do_not_change_their_input(name):
    f, df = ACTIVATIONS[name]
    Z = np.random.default_rng(0).standard_normal((3, 4, 2))
    before = Z.copy()
    assert f(Z).shape == Z.shape and df(Z).shape == Z.shape
    np.testing.assert_array_equal(Z, before)


def test_sigmoid_is_stable_at_large_inputs():
    z = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 745.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
    expected = torch.sigmoid(torch.tensor(z, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-15, atol=1e-300)
    assert s[0] == 0.0 and s[-1] == 1.0


def test_softmax_and_log_softmax_equal_torch_along_the_class_axis():
    Z = np.random.default_rng(1).standard_normal((5, 7)) * 30
    Z[:, 0] += 1000  # would overflow without the shift
    t = torch.tensor(Z)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(softmax(Z), torch.softmax(t, 0).numpy(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(log_softmax(Z), torch.log_softmax(t, 0).numpy(), rtol=1e-12)
