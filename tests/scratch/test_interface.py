"""The ScratchModel contract: the loss at the output against torch, in-place parameters that
torch tensors can share, shapes, dtypes and prediction."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.scratch import DeepNetwork, ElmanRNN, LogisticRegression


def models(rng):
    return [
        LogisticRegression(3),
        DeepNetwork([3, 4, 2], output="softmax", lambd=0.1, rng=rng),
        DeepNetwork([3, 4, 1], hidden="tanh", rng=np.random.RandomState(0)),
        ElmanRNN(3, 4, 2, rng=rng),
        ElmanRNN(3, 4, 1, output="sigmoid", many_to_many=True, rng=rng),
    ]


def batch(model, rng, m=5, T=4):
    if isinstance(model, ElmanRNN):
        x = rng.standard_normal((3, m, T))
        shape = (m, T) if model.many_to_many else (m,)
    else:
        x = rng.standard_normal((3, m))
        shape = (m,)
    n_y = model.params["Wya" if isinstance(model, ElmanRNN) else list(model.params)[-1]].shape[0]
    if model.output == "sigmoid":
        return x, (rng.random((1, *shape)) < 0.5).astype(int)
    return x, rng.integers(0, n_y, size=shape)


def test_parameters_are_float64_c_contiguous_in_a_fixed_order():
    rng = np.random.default_rng(0)
    assert list(models(rng)[0].params) == ["w", "b"]
    assert list(models(rng)[1].params) == ["W1", "b1", "W2", "b2"]
    assert list(models(rng)[3].params) == ["Wax", "Waa", "ba", "Wya", "by"]
    for model in models(rng):
        for p in model.params.values():
            assert p.dtype == np.float64 and p.flags.c_contiguous


@pytest.mark.parametrize("index", range(5))
def test_backward_returns_new_arrays_and_leaves_the_parameters(index):
    rng = np.random.default_rng(1)
    model = models(rng)[index]
    X, Y = batch(model, rng)
    before = {name: p.copy() for name, p in model.params.items()}
    _, grads = model.gradients(X, Y)
    assert list(grads) == list(model.params)
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])
        g = grads[name]
        assert g.shape == p.shape and g.dtype == np.float64 and g.flags.c_contiguous
        assert not np.shares_memory(g, p)


@pytest.mark.parametrize("index", range(5))
def test_torch_sgd_on_shared_tensors_updates_the_numpy_model(index):
    """The adapter's contract: params wrapped by torch.from_numpy, updated in place."""
    rng = np.random.default_rng(2)
    model, twin = models(np.random.default_rng(3))[index], models(np.random.default_rng(3))[index]
    tensors = {name: torch.from_numpy(p) for name, p in model.params.items()}
    opt = torch.optim.SGD(list(tensors.values()), lr=0.3, momentum=0.0)
    X, Y = batch(model, rng)
    for _ in range(3):
        _, grads = model.gradients(X, Y)
        for name, tensor in tensors.items():
            tensor.grad = torch.from_numpy(grads[name])
        opt.step()
        _, grads = twin.gradients(X, Y)
        for name, p in twin.params.items():
            p -= 0.3 * grads[name]
    for name, p in model.params.items():
        assert np.shares_memory(p, tensors[name].numpy())
        np.testing.assert_allclose(p, twin.params[name], rtol=0, atol=1e-15)


@pytest.mark.parametrize("shape", [(1, 6), (1, 4, 3)])
def test_sigmoid_loss_and_dZ_equal_torch(shape):
    rng = np.random.default_rng(4)
    model = LogisticRegression(2)
    Z = rng.standard_normal(shape) * 5
    Z.flat[0], Z.flat[1] = 800.0, -800.0  # stable far out
    Y = (rng.random(shape) < 0.5).astype(int)
    Zt = torch.tensor(Z, requires_grad=True)
    loss_t = F.binary_cross_entropy_with_logits(Zt, torch.tensor(Y, dtype=torch.float64))
    loss_t.backward()
    loss, dZ = model.loss_and_dZ(Z, Y)
    assert np.isfinite(loss) and loss == pytest.approx(loss_t.item(), rel=1e-14)
    np.testing.assert_allclose(dZ, Zt.grad.numpy(), rtol=0, atol=1e-16)
    # Y given without the leading 1
    assert model.loss_and_dZ(Z, Y[0])[0] == loss


@pytest.mark.parametrize("shape", [(4, 6), (4, 5, 3)])
def test_softmax_loss_and_dZ_equal_torch(shape):
    rng = np.random.default_rng(5)
    model = DeepNetwork([2, shape[0]], output="softmax", rng=rng)
    Z = rng.standard_normal(shape) * 5
    Z.flat[0] = 900.0
    Y = rng.integers(0, shape[0], size=shape[1:])
    Zt = torch.tensor(Z, requires_grad=True)  # torch: (N, C) or (N, C, T); ours (C, N, ...)
    loss_t = F.cross_entropy(Zt.movedim(0, 1), torch.tensor(Y))
    loss_t.backward()
    loss, dZ = model.loss_and_dZ(Z, Y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-14)
    np.testing.assert_allclose(dZ, Zt.grad.numpy(), rtol=0, atol=1e-16)
    one_hot = np.moveaxis(np.eye(shape[0])[Y], -1, 0)
    loss_1h, dZ_1h = model.loss_and_dZ(Z, one_hot)
    assert loss_1h == pytest.approx(loss, rel=1e-15)
    np.testing.assert_allclose(dZ_1h, dZ, rtol=0, atol=1e-18)


def test_predict_and_predict_proba():
    rng = np.random.default_rng(6)
    net = DeepNetwork([3, 5, 4], output="softmax", rng=rng)
    X = rng.standard_normal((3, 7))
    P = net.predict_proba(X)
    Z, _ = net.forward(X)
    np.testing.assert_allclose(P, torch.softmax(torch.tensor(Z), 0).numpy(), rtol=1e-14)
    np.testing.assert_array_equal(net.predict(X), np.argmax(Z, axis=0))
    assert net.predict(X).shape == (7,)

    binary = DeepNetwork([3, 5, 1], rng=rng)
    Z, _ = binary.forward(X)
    np.testing.assert_allclose(binary.predict_proba(X), torch.sigmoid(torch.tensor(Z)).numpy())
    np.testing.assert_array_equal(binary.predict(X), (Z > 0).astype(int))  # a > 0.5 <=> z > 0

    rnn = ElmanRNN(3, 4, 2, many_to_many=True, rng=rng)
    assert rnn.predict(rng.standard_normal((3, 5, 6))).shape == (5, 6)


def test_cost_is_the_loss_plus_the_penalty():
    rng = np.random.default_rng(7)
    net = DeepNetwork([3, 4, 2], output="softmax", lambd=0.8, rng=rng)
    X, Y = rng.standard_normal((3, 6)), rng.integers(0, 2, 6)
    loss, _ = net.loss_and_dZ(net.forward(X)[0], Y)
    squares = np.sum(net.params["W1"] ** 2) + np.sum(net.params["W2"] ** 2)
    assert net.penalty(6) == pytest.approx(0.8 / 12 * squares, rel=1e-14)
    assert net.cost(X, Y) == pytest.approx(loss + 0.8 / 12 * squares, rel=1e-14)
    assert DeepNetwork([3, 4, 2], output="softmax", rng=rng).penalty(6) == 0.0


def test_float32_models_stay_float32():
    rng = np.random.default_rng(8)
    net = DeepNetwork([3, 4, 2], output="softmax", rng=np.random.default_rng(9), dtype="float32")
    ref = DeepNetwork([3, 4, 2], output="softmax", rng=np.random.default_rng(9))
    X, Y = rng.standard_normal((3, 6)), rng.integers(0, 2, 6)
    Z, _ = net.forward(X)
    _, grads = net.gradients(X, Y)
    assert Z.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    _, grads64 = ref.gradients(X, Y)
    for name in grads:
        np.testing.assert_allclose(grads[name], grads64[name], rtol=1e-4, atol=1e-6)
    rnn = ElmanRNN(3, 4, 2, rng=rng, dtype=np.float32)
    assert rnn.forward(rng.standard_normal((3, 2, 5)))[0].dtype == np.float32
