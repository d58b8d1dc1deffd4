"""The NumPy models against torch modules with copied weights, float64 throughout.

The twins: nnzoo's ``mlp`` model for `DeepNetwork`, built by
``create_model(ModelConfig("mlp", {...}), n_x, n_y, input_shape=(1, n_x))``: mlp is an image
model, whose input_shape must be (H, W) or (C, H, W), so one example is a 1 x n_x image;
``torch.nn.Linear(n_x, 1)`` for `LogisticRegression`, and for `ElmanRNN` both
``torch.nn.RNN`` and nnzoo's own ``elman`` cell run by ``unroll``, each with a
``torch.nn.Linear`` head. Each test compares the logits, the gradients of the same loss (and L2
penalty), and the parameters after ten SGD steps (NumPy: ``p -= lr * g`` in place; torch:
``torch.optim.SGD``).

Dropout: torch's ``nn.Dropout`` draws its own masks, so the ``mlp`` twin is built without
dropout and the NumPy model's masks (from its cache) are applied by hand after each hidden
activation, ``A * D / keep_prob``, exactly where the NumPy model applies them. Dropout is also
covered by the gradient check with fixed masks and by the statistical test in test_dropout.py.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnzoo import unroll
from nnzoo.cells import create_cell
from nnzoo.config import ModelConfig
from nnzoo.models import create_model
from nnzoo.scratch import ACTIVATIONS, DeepNetwork, ElmanRNN, LogisticRegression

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = {"atol": 1e-10, "rtol": 0}
LR = 0.5
STEPS = 10


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def close(numpy_value, torch_value):
    np.testing.assert_allclose(numpy_value, torch_value.detach().numpy(), **TOL)


def labels(rng, output, n_y, shape):
    if output == "sigmoid":
        return (rng.random((1, *shape)) < 0.5).astype(np.int64)
    return rng.integers(0, n_y, size=shape)


def torch_loss(logits, Y, output):
    """The loss nnzoo's torch side uses: logits (..., n_y), Y as the NumPy model takes it,
    already in the torch layout (examples first)."""
    if output == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, t(Y).to(logits.dtype))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t(Y).reshape(-1))


def l2(weights, lambd, m):
    return 0.5 * lambd / m * sum((W**2).sum() for W in weights)


def numpy_step(model, grads):
    for name, p in model.params.items():
        p -= LR * grads[name]


def close_all(arrays, pairs, grad=False):
    """Each NumPy array (by name) against its torch twin parameter, or that parameter's grad."""
    for name, p in pairs.items():
        close(arrays[name].reshape(p.shape), p.grad if grad else p)


def assert_twins_train_alike(model, X, Y, torch_cost, pairs, parameters):
    """The NumPy model's cost and gradients on (X, Y) equal ``torch_cost()`` and the grads of
    its twin parameters ``pairs`` (NumPy name -> parameter); after `STEPS` steps of
    ``p -= LR * g`` against ``torch.optim.SGD(parameters)``, so do the parameters."""
    cost, grads = model.gradients(X, Y)
    J = torch_cost()
    J.backward()
    assert cost == pytest.approx(J.item(), abs=1e-12)
    close_all(grads, pairs, grad=True)
    opt = torch.optim.SGD(parameters, lr=LR)
    for _ in range(STEPS):
        _, grads = model.gradients(X, Y)
        numpy_step(model, grads)
        opt.zero_grad()
        torch_cost().backward()
        opt.step()
    close_all(model.params, pairs)


# -- DeepNetwork vs nnzoo's mlp --------------------------------------------------------------


def mlp_twin(net):
    n_x, *widths, n_y = net.layer_dims
    config = ModelConfig("mlp", {"widths": widths, "activation": net.hidden})
    model = create_model(config, n_x, n_y, input_shape=(1, n_x)).double()
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    assert len(linears) == net.num_layers
    with torch.no_grad():
        for l, linear in enumerate(linears, start=1):
            linear.weight.copy_(t(net.params[f"W{l}"]))
            linear.bias.copy_(t(net.params[f"b{l}"].ravel()))
    return model, linears


def linear_pairs(linears):
    """W1, b1, W2, ... -> the weight and bias of each Linear."""
    pairs = {}
    for l, linear in enumerate(linears, start=1):
        pairs[f"W{l}"], pairs[f"b{l}"] = linear.weight, linear.bias
    return pairs


def mlp_forward(model, X, masks=None, keep_prob=1.0):
    """logits (m, n_y) of the mlp on X (n_x, m); ``masks`` (n_l, m) after hidden activations."""
    x = t(X.T).unsqueeze(1)  # (m, 1, n_x): one 1 x n_x image per example
    if masks is None:
        return model(x)
    h = model.images(x)
    hidden = 0
    for module in model.layers:
        h = module(h)
        if not isinstance(module, nn.Linear | nn.Flatten) and hidden < len(masks):
            h = h * t(masks[hidden].T).to(h.dtype) / keep_prob  # the NumPy model's mask
            hidden += 1
    assert hidden == len(masks)
    return h


def deep_case(hidden, output, lambd, keep_prob=1.0, seed=0):
    rng = np.random.default_rng(seed)
    n_y = 1 if output == "sigmoid" else 4
    net = DeepNetwork(
        [5, 7, 6, n_y], hidden=hidden, output=output, lambd=lambd, keep_prob=keep_prob, rng=rng
    )
    for name, p in net.params.items():
        if name.startswith("b"):
            p[:] = 0.1 * rng.standard_normal(p.shape)
    X = rng.standard_normal((5, 9))
    Y = labels(rng, output, n_y, (9,))
    return net, X, Y


def y_torch(Y, output):
    return Y.T if output == "sigmoid" else Y  # (m, 1) or (m,)


@pytest.mark.parametrize("hidden", list(ACTIVATIONS))
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("lambd", [0.0, 0.3])
def test_deep_network_equals_nnzoo_mlp(hidden, output, lambd):
    net, X, Y = deep_case(hidden, output, lambd)
    model, linears = mlp_twin(net)
    m = X.shape[1]

    def torch_cost():
        loss = torch_loss(mlp_forward(model, X), y_torch(Y, output), output)
        return loss + l2([lin.weight for lin in linears], lambd, m)

    Z, _ = net.forward(X)
    close(Z.T, mlp_forward(model, X))
    assert_twins_train_alike(net, X, Y, torch_cost, linear_pairs(linears), model.parameters())
    assert net.cost(X, Y) == pytest.approx(torch_cost().item(), abs=1e-12)


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_deep_network_with_dropout_equals_mlp_with_the_same_masks(output):
    keep_prob = 0.7
    net, X, Y = deep_case("relu", output, 0.2, keep_prob=keep_prob, seed=1)
    model, linears = mlp_twin(net)
    pairs = linear_pairs(linears)
    m = X.shape[1]
    rng = np.random.default_rng(11)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for step in range(STEPS):
        Z, cache = net.forward(X, train=True, rng=rng)  # new masks every step
        masks = [layer.mask for layer in cache.layers[:-1]]
        assert all(mask is not None for mask in masks) and not masks[0].all()
        logits = mlp_forward(model, X, masks, keep_prob)
        close(Z.T, logits)
        loss, dZ = net.loss_and_dZ(Z, Y)
        grads = net.backward(dZ, cache)
        opt.zero_grad()
        J = torch_loss(logits, y_torch(Y, output), output)
        J = J + l2([lin.weight for lin in linears], 0.2, m)
        J.backward()
        assert loss + net.penalty(m) == pytest.approx(J.item(), abs=1e-12)
        if step == 0:
            close_all(grads, pairs, grad=True)
        numpy_step(net, grads)
        opt.step()
    close_all(net.params, pairs)


# -- LogisticRegression vs torch.nn.Linear -----------------------------------------------------


@pytest.mark.parametrize("lambd", [0.0, 0.5])
def test_logistic_regression_equals_torch_linear(lambd):
    rng = np.random.default_rng(2)
    model = LogisticRegression(6, lambd=lambd)
    model.params["w"][:] = rng.standard_normal((6, 1))
    model.params["b"][:] = -0.2
    X = rng.standard_normal((6, 11))
    Y = labels(rng, "sigmoid", 1, (11,))
    linear = nn.Linear(6, 1).double()
    with torch.no_grad():
        linear.weight.copy_(t(model.params["w"].T))
        linear.bias.copy_(t(model.params["b"].ravel()))

    def torch_cost():
        loss = F.binary_cross_entropy_with_logits(linear(t(X.T)), t(Y.T).double())
        return loss + l2([linear.weight], lambd, 11)

    Z, _ = model.forward(X)
    close(Z.T, linear(t(X.T)))
    pairs = {"w": linear.weight, "b": linear.bias}  # w (6, 1) is weight (1, 6) transposed
    assert_twins_train_alike(model, X, Y, torch_cost, pairs, linear.parameters())
    close(model.predict_proba(X).T, torch.sigmoid(linear(t(X.T))))


# -- ElmanRNN vs torch.nn.RNN and nnzoo's elman cell -------------------------------------------


def copy_elman(model, weight_ih, weight_hh, bias_ih, bias_hh):
    """The NumPy model's Wax, Waa and ba into a torch Elman layer's weights, bias_hh frozen at 0
    (ba is one vector; keep the second at 0). Returns the NumPy name -> parameter pairs."""
    p = model.params
    with torch.no_grad():
        weight_ih.copy_(t(p["Wax"]))
        weight_hh.copy_(t(p["Waa"]))
        bias_ih.copy_(t(p["ba"].ravel()))
        bias_hh.zero_()
    bias_hh.requires_grad_(False)
    return {"Wax": weight_ih, "Waa": weight_hh, "ba": bias_ih}


class TorchRNNTwin(nn.Module):
    """torch.nn.RNN (time first) with bias_hh frozen at 0, and a Linear head."""

    def __init__(self, model):
        super().__init__()
        self.rnn = nn.RNN(model.n_x, model.n_a, nonlinearity="tanh").double()
        self.head = nn.Linear(model.n_a, model.n_y).double()
        rnn = self.rnn
        self.pairs = copy_elman(
            model, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
        )

    def hidden(self, x):
        """x (n_x, m, T) -> h (m, T, n_a)."""
        out, _ = self.rnn(t(x.transpose(2, 1, 0)))  # (T, m, n_a)
        return out.transpose(0, 1)


class NnzooElmanTwin(nn.Module):
    """nnzoo's ``elman`` cell run by ``unroll`` (batch first), bias_hh frozen at 0."""

    def __init__(self, model):
        super().__init__()
        self.cell = create_cell("elman", model.n_x, model.n_a).double()
        self.head = nn.Linear(model.n_a, model.n_y).double()
        cell = self.cell
        self.pairs = copy_elman(model, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)

    def hidden(self, x):
        out, _ = unroll(self.cell, t(x.transpose(1, 2, 0)))  # (m, T, n_a)
        return out


def rnn_pairs(twin, model):
    with torch.no_grad():
        twin.head.weight.copy_(t(model.params["Wya"]))
        twin.head.bias.copy_(t(model.params["by"].ravel()))
    return {**twin.pairs, "Wya": twin.head.weight, "by": twin.head.bias}


@pytest.mark.parametrize("twin_type", [TorchRNNTwin, NnzooElmanTwin])
@pytest.mark.parametrize("many_to_many", [False, True])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_elman_rnn_equals_torch(twin_type, many_to_many, output):
    rng = np.random.default_rng(3)
    n_y = 1 if output == "sigmoid" else 3
    lambd = 0.2 if many_to_many else 0.0
    model = ElmanRNN(
        4, 6, n_y, many_to_many=many_to_many, output=output, init="xavier", lambd=lambd, rng=rng
    )
    for name in ("ba", "by"):
        model.params[name][:] = 0.1 * rng.standard_normal(model.params[name].shape)
    m, T = 5, 7
    x = rng.standard_normal((4, m, T))
    Y = labels(rng, output, n_y, (m, T) if many_to_many else (m,))
    twin = twin_type(model)
    pairs = rnn_pairs(twin, model)
    # Y in the torch layout: (m, T, 1) / (m, T) many-to-many, (m, 1) / (m,) many-to-one
    Yt = (Y.transpose(1, 2, 0) if many_to_many else Y.T) if output == "sigmoid" else Y

    def logits():
        h = twin.hidden(x)  # (m, T, n_a)
        return twin.head(h if many_to_many else h[:, -1])  # (m, T, n_y) or (m, n_y)

    def torch_cost():
        weights = [pairs["Wax"], pairs["Waa"], pairs["Wya"]]
        return torch_loss(logits(), Yt, output) + l2(weights, lambd, m)

    Z, _ = model.forward(x)
    close(Z.transpose(1, 2, 0) if many_to_many else Z.T, logits())
    trained = [p for p in twin.parameters() if p.requires_grad]
    assert_twins_train_alike(model, x, Y, torch_cost, pairs, trained)
