"""NumPy from-scratch models, written as the deep-learning course teaches them.

Examples are columns: X (n_x, m), W[l] (n_l, n_{l-1}), b[l] (n_l, 1); an RNN's input is
x (n_x, m, T_x). Every model is a `ScratchModel`: ``forward(X) -> (logits, cache)``,
``backward(dZ, cache) -> grads`` from the gradient of the loss w.r.t. the logits,
``loss_and_dZ``, ``penalty``, ``cost``, ``gradients``, ``predict_proba``, ``predict``; its
``params`` are arrays an optimizer updates in place.

Public names:
    ScratchModel                    the interface (`nnzoo.scratch.base`)
    LogisticRegression(n_x)         logistic regression as a one-neuron network
    DeepNetwork(layer_dims, ...)    the L-layer network with L2 and inverted dropout
    ElmanRNN(n_x, n_a, n_y, ...)    the basic RNN with BPTT, many-to-one or many-to-many
    initialize(layer_dims, method, rng=...)   zeros, random, he, xavier, course
    ACTIVATIONS                     name -> (f, df): sigmoid, tanh, relu, leaky_relu, elu
    sigmoid, softmax                the output activations
    clip_by_value, clip_by_norm     gradient clipping in place
    gradient_check(model, X, Y)     centred differences against ``model.gradients``
"""

from nnzoo.scratch.activations import ACTIVATIONS, sigmoid, softmax
from nnzoo.scratch.base import ScratchModel
from nnzoo.scratch.clip import clip_by_norm, clip_by_value
from nnzoo.scratch.gradcheck import gradient_check
from nnzoo.scratch.init import initialize
from nnzoo.scratch.logistic import LogisticRegression
from nnzoo.scratch.mlp import DeepNetwork
from nnzoo.scratch.rnn import ElmanRNN

__all__ = [
    "ACTIVATIONS",
    "DeepNetwork",
    "ElmanRNN",
    "LogisticRegression",
    "ScratchModel",
    "clip_by_norm",
    "clip_by_value",
    "gradient_check",
    "initialize",
    "sigmoid",
    "softmax",
]
