"""Activations and their derivatives, as pure NumPy functions of the pre-activation Z.

    sigmoid(z)    = 1 / (1 + e^{-z})           sigmoid'(z)    = sigmoid(z) (1 - sigmoid(z))
    tanh(z)       = (e^z - e^{-z}) / (e^z + e^{-z})   tanh'(z) = 1 - tanh(z)^2
    relu(z)       = max(0, z)                  relu'(z)       = [z > 0]
    leaky_relu(z) = z if z > 0 else s z        leaky_relu'(z) = 1 if z > 0 else s   (s = 0.01)
    elu(z)        = z if z > 0 else a (e^z - 1)   elu'(z)     = 1 if z > 0 else a e^z  (a = 1)
    softmax(z)_k  = e^{z_k - max z} / sum_j e^{z_j - max z}   along axis 0 (the classes)

At z = 0 the derivatives take torch.autograd's values: relu'(0) = 0, leaky_relu'(0) = s,
elu'(0) = a. The sigmoid is evaluated from e^{-|z|}, which never overflows, so
sigmoid(-1000) = 0 and sigmoid(1000) = 1 without a warning.

``ACTIVATIONS`` maps each hidden activation's name to ``(f, df)``; every function takes an array
of any shape and returns a new array of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Activation = Callable[[np.ndarray], np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^{-z}), computed from e^{-|z|} so that no exponential overflows."""
    z = np.asarray(z)
    e = np.exp(-np.abs(z))  # in (0, 1]
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def tanh_derivative(z: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(z) ** 2


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))


def leaky_relu(z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, z, slope * z)


def leaky_relu_derivative(z: np.ndarray, slope: float = 0.01) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, 1.0, slope).astype(np.result_type(z, np.float32))


def elu(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_derivative(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(
        np.result_type(z, np.float32)
    )


def softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    """e^{z_k} / sum_j e^{z_j} along ``axis`` (the classes), shifted by the max to stay finite."""
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    """z_k - log sum_j e^{z_j} along ``axis``, without forming e^{z} of a large z."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "elu": (elu, elu_derivative),
}
