"""Arguments a user can get wrong: each is a ConfigError with one line naming the argument."""

import numpy as np
import pytest

from nnzoo.errors import ConfigError
from nnzoo.scratch import (
    DeepNetwork,
    ElmanRNN,
    LogisticRegression,
    clip_by_norm,
    clip_by_value,
    initialize,
)

rng = np.random.default_rng(0)


def net(**kw):
    return DeepNetwork(kw.pop("layer_dims", [3, 4, 1]), **{"rng": rng, **kw})


def rnn(**kw):
    return ElmanRNN(*kw.pop("sizes", (3, 4, 2)), **{"rng": rng, **kw})


CASES = [
    (lambda: net(layer_dims=[3]), "layer_dims"),
    (lambda: net(layer_dims=[3, 0, 1]), "layer_dims"),
    (lambda: net(layer_dims=[3, 2.5, 1]), "layer_dims"),
    (lambda: net(layer_dims="34"), "layer_dims"),
    (lambda: net(keep_prob=0), "keep_prob"),
    (lambda: net(keep_prob=1.5), "keep_prob"),
    (lambda: net(keep_prob=True), "keep_prob"),
    (lambda: net(lambd=-1.0), "lambd"),
    (lambda: net(lambd=float("nan")), "lambd"),
    (lambda: net(hidden="swish"), "hidden"),
    (lambda: net(output="tanh"), "output"),
    (lambda: net(layer_dims=[3, 2], output="sigmoid"), "output='sigmoid'"),
    (lambda: net(init="orthogonal"), "init"),
    (lambda: net(rng=None), "rng"),
    (lambda: net(rng=42), "rng"),
    (lambda: net(init="random", scale=0), "scale"),
    (lambda: net(dtype=np.int64), "dtype"),
    (lambda: net().forward(np.zeros((2, 5))), "X"),
    (lambda: net().forward(np.zeros(3)), "X"),
    (lambda: net().forward(np.array([["a"] * 2] * 3)), "X"),
    (lambda: net().forward(np.zeros((3, 0))), "X"),
    (lambda: net(keep_prob=0.5).forward(np.zeros((3, 2)), train=True), "rng"),
    (lambda: net().loss_and_dZ(np.zeros((1, 4)), np.zeros((1, 3))), "Y"),
    (lambda: net().loss_and_dZ(np.zeros((1, 4)), np.full((1, 4), 2)), "Y"),
    (lambda: net(layer_dims=[3, 3], output="softmax").loss_and_dZ(np.zeros((3, 2)), [0, 3]), "Y"),
    (lambda: net(layer_dims=[3, 3], output="softmax").loss_and_dZ(np.zeros((3, 2)), [0.0, 1]), "Y"),
    (lambda: net().backward(np.zeros((1, 3)), net().forward(np.zeros((3, 2)))[1]), "dZ"),
    (lambda: net().penalty(0), "m"),
    (lambda: LogisticRegression(0), "n_x"),
    (lambda: LogisticRegression(2, lambd=-0.1), "lambd"),
    (lambda: rnn(sizes=(3, 0, 2)), "n_a"),
    (lambda: rnn(many_to_many="yes"), "many_to_many"),
    (lambda: rnn(init="he"), "init"),
    (lambda: rnn(output="sigmoid"), "output='sigmoid'"),
    (lambda: rnn(rng=None), "rng"),
    (lambda: rnn().forward(np.zeros((3, 5))), "x"),
    (lambda: rnn().forward(np.zeros((2, 5, 4))), "x"),
    (lambda: initialize([3, 2], "orthogonal", rng=rng), "method"),
    (lambda: initialize([3, 2], "he", rng=None), "rng"),
    (lambda: clip_by_norm({"W": np.ones(3)}, 0), "max_norm"),
    (lambda: clip_by_norm({"W": np.ones(3)}, float("inf")), "max_norm"),
    (lambda: clip_by_value({"W": np.ones(3)}, -1.0), "max_value"),
    (lambda: clip_by_value([[1, 2]], 1.0), "grads"),
]


@pytest.mark.parametrize("make, name", CASES, ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)])
def test_bad_arguments_raise_one_line(make, name):
    with pytest.raises(ConfigError) as info:
        make()
    message = str(info.value)
    assert "\n" not in message and message.startswith(name), message


def test_zeros_needs_no_rng():
    p = initialize([3, 2], "zeros", rng=None)
    assert not p["W1"].any()
    assert not DeepNetwork([3, 2, 1], init="zeros", rng=None).params["W2"].any()
