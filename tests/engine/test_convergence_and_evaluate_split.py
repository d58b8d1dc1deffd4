"""Convergence (a band rule, not an improvement rule) and EvaluateSplit (extra curves)."""

import pytest
import torch

from nnzoo.config import ModelConfig, RunConfig
from nnzoo.engine.callbacks import Convergence, EvaluateSplit
from nnzoo.engine.fit import fit
from nnzoo.errors import ConfigError
from nnzoo.tasks.classify import Classify
from tests.engine.test_fit import new_model, synthetic_splits, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


class HistoryLoop:
    def __init__(self):
        self.history, self.epoch, self.stop_reason, self.stopped_at = [], 0, "", None

    def stop(self, reason):
        self.stop_reason, self.stopped_at = reason, self.epoch


@pytest.mark.parametrize(
    ("values", "threshold", "patience", "stop_epoch"),
    [
        # max - min over the last 3 epochs: .2, .1, .05, .03 (< .04 at epoch 6)
        ([0.5, 0.7, 0.8, 0.85, 0.87, 0.88], 0.04, 3, 6),
        # a slow steady creep counts as converged once each window is narrower than the band
        ([0.80, 0.801, 0.802, 0.803], 0.0025, 3, 3),
        # improvements of exactly the threshold do not
        ([0.0, 0.25, 0.5, 0.75, 1.0], 0.25, 2, None),
        # a noisy but flat metric: every window has a band of .25
        ([0.75, 0.5, 0.75, 0.5, 0.75], 0.25, 3, None),
    ],
)
def test_stops_when_the_window_is_narrower_than_the_threshold(
    values, threshold, patience, stop_epoch
):
    loop, rule = HistoryLoop(), Convergence("val_accuracy", threshold, patience)
    for epoch, value in enumerate(values, 1):
        loop.epoch = epoch
        logs = {"epoch": epoch, "val_accuracy": value}
        loop.history.append(logs)
        rule.on_epoch_end(loop, logs)
        if loop.stop_reason:
            break
    assert loop.stopped_at == stop_epoch
    if stop_epoch:
        assert loop.stop_reason.startswith("converged") and str(patience) in loop.stop_reason


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"patience": 1}, {"patience": 2.5}])
def test_bad_rules_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        Convergence(**kwargs)


def test_evaluate_split_logs_the_split_as_evaluate_sees_it():
    splits = synthetic_splits(32)
    config = tiny_config(epochs=2)
    model = new_model(config)
    loop = fit(model, splits.train, splits.val, config, callbacks=[EvaluateSplit(splits.test)])
    metrics = Classify().evaluate(model, splits.test)
    assert loop.history[-1]["test_accuracy"] == metrics["accuracy"]
    assert loop.history[-1]["test_loss"] == pytest.approx(metrics["loss"])
    assert all("test_accuracy" in row for row in loop.history)


def test_the_test_curve_leaves_training_and_the_weights_bit_identical():
    """Evaluating one more split after each epoch changes nothing training sees or logs."""
    splits = synthetic_splits(48)
    model_config = ModelConfig(cell="lstm", hidden=8, layers=2, dropout=0.3)
    config = RunConfig(model=model_config, train=tiny_config(epochs=3).train)
    runs = []
    for callbacks in ([], [EvaluateSplit(splits.test)]):
        model = new_model(config)
        loop = fit(model, splits.train, splits.val, config, callbacks=callbacks)
        runs.append(({k: v.clone() for k, v in model.state_dict().items()}, loop.history))
    (plain_weights, plain), (curve_weights, curve) = runs
    model.train()  # dropout is live: training draws random masks
    x = splits.train.x[:8]
    assert not torch.equal(model(x, None), model(x, None))
    assert all({"test_loss", "test_accuracy"} <= set(row) for row in curve)

    def training_keys(history):  # all but the test curve and the wall-clock seconds
        return [{k: v for k, v in row.items() if not k.startswith("test_") and k != "seconds"}
                for row in history]  # fmt: skip

    assert training_keys(curve) == training_keys(plain)  # compared with ==
    assert plain_weights.keys() == curve_weights.keys()
    for name, tensor in plain_weights.items():
        assert torch.equal(tensor, curve_weights[name]), name
