"""Clipping against torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""

import numpy as np
import pytest
import torch

from nnzoo.scratch import clip_by_norm, clip_by_value


def grads_and_torch_params(seed, scale):
    rng = np.random.default_rng(seed)
    shapes = {"Wax": (5, 3), "Waa": (5, 5), "ba": (5, 1), "Wya": (2, 5), "by": (2, 1)}
    grads = {name: rng.standard_normal(shape) * scale for name, shape in shapes.items()}
    params = []
    for g in grads.values():
        p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        p.grad = torch.from_numpy(g.copy())
        params.append(p)
    return grads, params


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e6])  # clipped, clipped, untouched
def test_clip_by_norm_equals_torch(max_norm):
    grads, params = grads_and_torch_params(0, 1.0)
    ids = {name: id(g) for name, g in grads.items()}
    norm = clip_by_norm(grads, max_norm)
    torch_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm == pytest.approx(torch_norm.item(), rel=1e-14)
    for (name, g), p in zip(grads.items(), params):
        assert id(g) == ids[name]  # in place
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-14, atol=0)
    after = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    assert after == pytest.approx(min(norm, max_norm), rel=1e-6)


@pytest.mark.parametrize("max_value", [0.1, 1.0, 100.0])
def test_clip_by_value_equals_torch(max_value):
    grads, params = grads_and_torch_params(1, 2.0)
    arrays = list(grads.values())
    assert clip_by_value(grads, max_value) is grads
    torch.nn.utils.clip_grad_value_(params, max_value)
    for g, original, p in zip(grads.values(), arrays, params):
        assert g is original
        np.testing.assert_array_equal(g, p.grad.numpy())
        assert np.abs(g).max() <= max_value


def test_clipping_takes_a_list_of_arrays():
    grads, params = grads_and_torch_params(2, 1.0)
    arrays = list(grads.values())
    clip_by_norm(arrays, 1.0)
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    for g, p in zip(arrays, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-14, atol=0)
