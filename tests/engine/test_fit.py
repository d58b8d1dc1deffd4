"""fit and make_optimizer on a tiny synthetic problem; the classify task's evaluate and batches."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.data.base import DataSplits, SequenceSet
from nnzoo.engine.callbacks import Callback
from nnzoo.engine.fit import fit, make_optimizer
from nnzoo.errors import ConfigError
from nnzoo.models import create_model
from nnzoo.tasks.classify import Classify

N, T, FEATURES = 64, 8, 3


pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic_set(n=N, seed=0, steps=T, ragged=False):
    """Class = whether the mean of feature 0 over a sequence's own steps is positive."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, FEATURES, generator=g)
    lengths = torch.randint(2, steps + 1, (n,), generator=g) if ragged else None
    if lengths is not None:
        x = x * (torch.arange(steps)[None, :] < lengths[:, None]).unsqueeze(-1)
        mean = x[..., 0].sum(1) / lengths
    else:
        mean = x[..., 0].mean(1)
    return SequenceSet(x, (mean > 0).long(), lengths)


def synthetic_splits(n=N, ragged=False):
    return DataSplits(
        "synthetic",
        synthetic_set(n, seed=0, ragged=ragged),
        synthetic_set(n // 4, seed=1, ragged=ragged),
        synthetic_set(n // 4, seed=2, ragged=ragged),
        ["negative", "positive"],
        {"source": "synthetic"},
    )


def tiny_config(**train):
    options = {"epochs": 6, "batch_size": 16, "lr": 0.02, "seed": 0, **train}
    return RunConfig(
        model=ModelConfig(cell="lstm", hidden=8, layers=1),
        train=TrainConfig(**options),
    )


def new_model(config, num_features=FEATURES, num_classes=2):
    torch.manual_seed(config.train.seed)
    return create_model(config.model, num_features, num_classes)


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("ragged", [False, True])
def test_training_reduces_the_loss(ragged):
    splits = synthetic_splits(ragged=ragged)
    config = tiny_config(epochs=12)
    model = new_model(config)
    before = Classify().evaluate(model, splits.train)
    loop = fit(model, splits.train, splits.val, config)
    after = Classify().evaluate(model, splits.train)
    assert [row["epoch"] for row in loop.history] == list(range(1, 13))
    assert loop.step == 12 * math.ceil(N / 16) == loop.batches_per_epoch * 12
    assert loop.history[-1]["loss"] < 0.7 * loop.history[0]["loss"]
    assert after["loss"] < 0.7 * before["loss"]
    assert after["accuracy"] >= 0.85
    assert set(loop.history[0]) == {
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"
    }  # fmt: skip


def test_same_config_twice_gives_identical_history():
    splits = synthetic_splits(ragged=True)
    config = tiny_config(epochs=3).replace(
        model=ModelConfig(cell="gru", hidden=6, layers=2, dropout=0.3)
    )
    runs = []
    for _ in range(2):
        torch.manual_seed(1234)  # any global RNG state before the run must not matter
        torch.rand(17)
        model = new_model(config)
        loop = fit(model, splits.train, splits.val, config)
        runs.append((without_seconds(loop.history), model.state_dict()))
    assert runs[0][0] == runs[1][0]  # exact float equality
    for key, value in runs[0][1].items():
        assert torch.equal(value, runs[1][1][key]), key


def test_evaluate_matches_cross_entropy_by_hand():
    data = synthetic_set(20, ragged=True)
    model = new_model(tiny_config()).eval()
    task = Classify()
    task.eval_batch_size = 7
    metrics, probs = task.evaluate(model, data), task.predict(model, data)
    with torch.no_grad():
        logits = torch.cat(
            [model(data.x[i : i + 1, : data.lengths[i]]) for i in range(len(data))]
        )  # each sequence alone, no padding
    torch.testing.assert_close(probs, logits.softmax(-1), atol=1e-6, rtol=0)
    assert metrics["loss"] == pytest.approx(F.cross_entropy(logits, data.y).item(), abs=1e-6)
    assert metrics["accuracy"] == (logits.argmax(-1) == data.y).float().mean().item()
    empty = task.evaluate(model, data.subset(torch.tensor([], dtype=torch.long)))
    assert math.isnan(empty["loss"]) and math.isnan(empty["accuracy"])


def test_batches_cover_every_row_once_and_trim_padding():
    data = synthetic_set(23, ragged=True)
    g = torch.Generator().manual_seed(5)
    seen = []
    for x, y, lengths in Classify().batches(data, 5, g):
        assert x.shape[1] == int(lengths.max())
        seen.extend(y.tolist())
        assert len(y) <= 5
    assert sorted(seen) == sorted(data.y.tolist()) and len(seen) == 23
    ordered = torch.cat([y for _, y, _ in Classify().batches(data, 5)])
    assert torch.equal(ordered, data.y)  # no generator: the file's order


@pytest.mark.parametrize(
    ("name", "cls", "extra"),
    [
        ("sgd", torch.optim.SGD, {"momentum": 0.9}),
        ("adam", torch.optim.Adam, {}),
        ("adamw", torch.optim.AdamW, {}),
        ("rmsprop", torch.optim.RMSprop, {"momentum": 0.5}),
    ],
)
def test_make_optimizer(name, cls, extra):
    model = torch.nn.Linear(3, 2)
    config = TrainConfig(optimizer=name, lr=0.03, weight_decay=0.01, **extra)
    opt = make_optimizer(model, config)
    assert type(opt) is cls
    (group,) = opt.param_groups
    assert group["lr"] == 0.03 and group["initial_lr"] == 0.03
    assert group["weight_decay"] == 0.01
    for key, value in extra.items():
        assert group[key] == value
    assert {id(p) for p in group["params"]} == {id(p) for p in model.parameters()}


def test_sgd_step_applies_l2_weight_decay():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(2.0)
    opt = make_optimizer(model, TrainConfig(optimizer="sgd", lr=0.1, weight_decay=0.5))
    model.weight.grad = torch.ones_like(model.weight)
    opt.step()
    # w - lr * (g + wd * w) = 2 - 0.1 * (1 + 0.5 * 2)
    torch.testing.assert_close(model.weight, torch.full((1, 2), 1.8))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"optimizer": "adagrad"}, "train.optimizer"),
        ({"lr": 0.0}, "train.lr"),
        ({"lr": -1e-3}, "train.lr"),
        ({"lr": float("nan")}, "train.lr"),
    ],
)
def test_make_optimizer_rejects_bad_settings(options, named):
    with pytest.raises(ConfigError, match=named):
        make_optimizer(torch.nn.Linear(3, 2), TrainConfig(**options))


def subnormal_times_one() -> float:
    """float32's subnormal 1e-39 (built by NumPy) times 1 in torch: 0 when flushing."""
    x = torch.from_numpy(np.array([1e-39], dtype=np.float32))
    assert np.float32(1e-39) < np.finfo(np.float32).tiny  # subnormal indeed
    return float(x * 1.0)


class RecordsDenormals(Callback):
    def __init__(self):
        self.seen = []

    def on_batch_end(self, loop, loss):
        self.seen.append(subnormal_times_one())


@pytest.mark.parametrize("before", [False, True])
def test_fit_flushes_subnormals_while_training_and_restores_the_mode(before):
    splits = synthetic_splits()
    config = tiny_config(epochs=2)
    record = RecordsDenormals()
    torch.set_flush_denormal(before)
    try:
        assert (subnormal_times_one() == 0.0) is before
        fit(new_model(config), splits.train, splits.val, config, callbacks=[record])
        assert (subnormal_times_one() == 0.0) is before  # the caller's mode again
    finally:
        torch.set_flush_denormal(False)
    assert len(record.seen) == 2 * math.ceil(N / 16)
    assert record.seen == [0.0] * len(record.seen)
