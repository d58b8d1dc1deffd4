"""Each callback against an independent expectation: hand-made logs, formulas, files."""

import csv
import json
import math

import pytest
import torch
from torch import nn

from nnzoo.config import RunConfig
from nnzoo.engine.callbacks import (
    Callback,
    EarlyStopping,
    GradientClipping,
    MetricsLogger,
    ModelCheckpoint,
    NanGuard,
    NonFiniteLossError,
    ReduceLROnPlateau,
    StepDecay,
    TimeLimit,
)
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.engine.fit import Loop, fit
from nnzoo.errors import ConfigError
from tests.engine.test_fit import new_model, synthetic_splits, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")


class FakeLoop:
    """What a callback touches: an optimizer, the epoch, stop()."""

    def __init__(self, lr=0.1):
        self.optimizer = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=lr)
        self.epoch = 0
        self.stop_reason = ""
        self.stopped_at = None

    def stop(self, reason):
        self.stop_reason, self.stopped_at = reason, self.epoch


def real_loop(model, epoch=0):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return Loop(model, opt, RunConfig(), [], batches_per_epoch=1, epoch=epoch)


def logger(folder):
    """A MetricsLogger writing a run folder's two files in ``folder``."""
    return MetricsLogger(folder / "metrics.jsonl", folder / "metrics.csv")


# -- StepDecay -------------------------------------------------------------------------------------
def test_step_decay_schedule_in_the_history():
    splits = synthetic_splits(32)
    config = tiny_config(epochs=7, lr=0.05, optimizer="sgd")
    loop = fit(new_model(config), splits.train, splits.val, config, callbacks=[StepDecay(3)])
    expected = [0.05 * 0.75 ** ((epoch - 1) // 3) for epoch in range(1, 8)]
    assert [row["lr"] for row in loop.history] == pytest.approx(expected, rel=1e-12)
    assert expected[2] == 0.05 and expected[3] == 0.05 * 0.75 and expected[6] == 0.05 * 0.75**2


def test_step_decay_sets_the_lr_that_the_optimizer_uses():
    model = nn.Linear(1, 1, bias=False)
    loop = real_loop(model)
    loop.optimizer = torch.optim.SGD(model.parameters(), lr=123.0)  # StepDecay overrides it
    loop.optimizer.param_groups[0]["initial_lr"] = 1.0
    decay = StepDecay(every=2, factor=0.5)
    for epoch, lr in [(1, 1.0), (2, 1.0), (3, 0.5), (4, 0.5), (5, 0.25)]:
        loop.epoch = epoch
        decay.on_epoch_begin(loop)
        before = model.weight.detach().clone()
        model.weight.grad = torch.ones_like(model.weight)
        loop.optimizer.step()
        assert (before - model.weight).item() == pytest.approx(lr)  # w <- w - lr * 1


# -- ReduceLROnPlateau -----------------------------------------------------------------------------
def test_reduce_lr_on_plateau_after_patience_flat_epochs():
    loop = FakeLoop(lr=0.1)
    plateau = ReduceLROnPlateau("val_loss", factor=0.5, patience=2)
    #          epoch:  1    2    3     4     5    6    7    8    9
    val_losses = [1.0, 0.9, 0.95, 0.91, 0.8, 0.8, 0.85, 0.7, 0.75]
    # 3: wait 1, 4: wait 2 -> halve; 5 improves; 6 ties (no improvement), 7: wait 2 -> halve
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025]
    seen = []
    for epoch, value in enumerate(val_losses, 1):
        loop.epoch = epoch
        plateau.on_epoch_end(loop, {"epoch": epoch, "val_loss": value})
        seen.append(loop.optimizer.param_groups[0]["lr"])
    assert seen == pytest.approx(expected, rel=1e-12)


def test_reduce_lr_on_plateau_max_mode_min_lr_and_missing_metric():
    loop = FakeLoop(lr=0.1)
    plateau = ReduceLROnPlateau("val_accuracy", factor=0.1, patience=1, min_lr=0.002)
    lrs = []
    for epoch, acc in enumerate([0.5, 0.6, 0.4, 0.6, 0.7, 0.7], 1):
        plateau.on_epoch_end(loop, {"epoch": epoch, "val_accuracy": acc})
        lrs.append(loop.optimizer.param_groups[0]["lr"])
    # 0.4 and the tie 0.6 do not beat 0.6; 0.7 does; then a tie. min_lr floors the third cut
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.002, 0.002, 0.002], rel=1e-12)
    plateau.on_epoch_end(loop, {"epoch": 7})  # no val split: nothing happens
    assert loop.optimizer.param_groups[0]["lr"] == lrs[-1]
    state = plateau.state_dict()
    fresh = ReduceLROnPlateau("val_accuracy", factor=0.1, patience=1)
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state == {"best": 0.7, "wait": 0, "cooling": 0}


# -- EarlyStopping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("monitor", "values", "patience", "stop_epoch"),
    [
        ("val_accuracy", [0.5, 0.6, 0.6, 0.55, 0.6, 0.9], 3, 5),
        ("val_accuracy", [0.5, 0.6, 0.55, 0.7, 0.6, 0.6], 2, 6),
        ("val_loss", [1.0, 0.8, 0.9, 0.7, 0.75, 0.8, 0.9], 3, 7),
        ("val_loss", [1.0, 0.9, 0.8, 0.7], 1, None),
    ],
)
def test_early_stopping_after_patience(monitor, values, patience, stop_epoch):
    loop = FakeLoop()
    stopper = EarlyStopping(monitor, patience=patience)
    for epoch, value in enumerate(values, 1):
        loop.epoch = epoch
        stopper.on_epoch_end(loop, {"epoch": epoch, monitor: value})
        if loop.stop_reason:
            break
    assert loop.stopped_at == stop_epoch
    if stop_epoch is not None:
        assert monitor in loop.stop_reason and str(patience) in loop.stop_reason


def test_early_stopping_ends_fit():
    splits = synthetic_splits(32)
    # an lr far too small to change anything: val_accuracy is flat from epoch 1 on
    config = tiny_config(epochs=20, optimizer="sgd", lr=1e-30)
    stopper = EarlyStopping("val_accuracy", patience=2)
    loop = fit(new_model(config), splits.train, splits.val, config, callbacks=[stopper])
    assert len({row["val_accuracy"] for row in loop.history}) == 1
    assert loop.epoch == len(loop.history) == 3
    assert loop.stop_reason.startswith("early stopping")


# -- TimeLimit -------------------------------------------------------------------------------------
class HistoryLoop(FakeLoop):
    def __init__(self, history):
        super().__init__()
        self.history = history


@pytest.mark.parametrize(
    "seconds, minutes, stop_epoch",
    [
        ([10, 10, 10, 10, 10], 0.5, 3),  # epoch 3 would end at 30 s, allowed; 30 + 10 > 30
        ([10, 10, 10, 10, 10], 0.7, 4),  # 40 + 10 > 42
        ([5, 25, 5, 5, 5], 1.0, None),  # after the long epoch 30 + 25 <= 60; then 35 + 5 ...
        ([5, 25, 30, 5], 1.0, 3),  # 60 + 30 > 60
        ([50, 5, 5], 1.0, 1),  # 50 + 50 > 60 after the first epoch
        ([1, 1, 1], 10.0, None),  # never
    ],
)
def test_time_limit_stops_before_an_epoch_that_would_end_past_the_budget(
    seconds, minutes, stop_epoch
):
    loop = HistoryLoop([])
    limit = TimeLimit(minutes)
    for epoch, s in enumerate(seconds, 1):
        loop.epoch = epoch
        logs = {"epoch": epoch, "seconds": float(s)}
        loop.history.append(logs)
        limit.on_epoch_end(loop, logs)
        if loop.stop_reason:
            break
    assert loop.stopped_at == stop_epoch
    if stop_epoch is not None:
        assert loop.stop_reason.startswith("time limit")
        assert f"{minutes:g} minutes" in loop.stop_reason


def test_time_limit_counts_the_epochs_before_a_resume():
    loop = HistoryLoop([{"epoch": 1, "seconds": 40.0}, {"epoch": 2, "seconds": 40.0}])
    loop.epoch = 3
    logs = {"epoch": 3, "seconds": 1.0}
    loop.history.append(logs)
    TimeLimit(1.4).on_epoch_end(loop, logs)  # 81 s + 1 s <= 84 s: go on
    assert not loop.stop_reason
    logs = {"epoch": 4, "seconds": 2.0}
    loop.history.append(logs)
    loop.epoch = 4
    TimeLimit(1.4).on_epoch_end(loop, logs)  # 83 + 2 > 84
    assert loop.stopped_at == 4


@pytest.mark.parametrize("minutes", [0, -1, float("nan"), True, "5"])
def test_time_limit_rejects_a_budget_that_is_not_positive(minutes):
    with pytest.raises(ConfigError, match="time limit"):
        TimeLimit(minutes)


def test_time_limit_ends_fit_and_is_a_train_option(tmp_path):
    from nnzoo.runs.train import train_run

    # a budget of ~0.6 ms: every epoch takes longer, so training stops after the first
    config = tiny_config(epochs=5, time_limit=1e-5)
    results = train_run(config, tmp_path / "run", splits=synthetic_splits(32), progress=False)
    assert results["epochs_run"] == 1
    assert results["stop_reason"].startswith("time limit")
    with pytest.raises(ConfigError, match="time_limit"):
        tiny_config(time_limit=-1.0)


def test_a_run_two_rules_stop_at_once_names_both(tmp_path):
    from nnzoo.engine.callbacks.base import Callback
    from nnzoo.runs.train import train_run

    class Enough(Callback):
        def on_epoch_end(self, loop, logs):
            loop.stop("enough: asked to stop")
            loop.stop("enough: asked to stop")  # said twice, kept once

    config = tiny_config(epochs=5, time_limit=1e-5)  # the time limit stops after epoch 1 too
    results = train_run(config, tmp_path / "run", splits=synthetic_splits(32), progress=False,
                        extra_callbacks=[Enough()])  # fmt: skip
    assert results["epochs_run"] == 1
    reasons = results["stop_reason"].split("; ")
    assert len(reasons) == 2 and {r.split(":")[0] for r in reasons} == {"time limit", "enough"}


# -- GradientClipping ------------------------------------------------------------------------------
def model_with_grads(scale):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    model(torch.randn(6, 4)).pow(2).sum().mul(scale).backward()
    return model


def grads(model):
    return [p.grad.detach().clone() for p in model.parameters()]


def global_norm(gs):
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in gs))


def test_clip_by_norm_scales_to_the_bound():
    model = model_with_grads(scale=10.0)
    before = grads(model)
    norm = global_norm(before)
    assert norm > 1.0
    reference = [g.clone().requires_grad_() for g in before]
    for r, g in zip(reference, before):
        r.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(reference, 1.0)
    GradientClipping(norm=1.0).on_before_optimizer_step(real_loop(model))
    after = grads(model)
    assert global_norm(after) == pytest.approx(1.0, rel=1e-5)
    for a, b, r in zip(after, before, reference):
        torch.testing.assert_close(a, b / norm, rtol=1e-5, atol=1e-7)  # same direction
        torch.testing.assert_close(a, r.grad)  # torch's own clipping, on a copy


def test_clip_by_norm_leaves_small_gradients_alone():
    model = model_with_grads(scale=1e-3)
    before = grads(model)
    assert global_norm(before) < 1.0
    GradientClipping(norm=1.0).on_before_optimizer_step(real_loop(model))
    for a, b in zip(grads(model), before):
        assert torch.equal(a, b)


def test_clip_by_value_clamps_every_element():
    model = model_with_grads(scale=3.0)
    before = grads(model)
    assert max(float(g.abs().max()) for g in before) > 0.5
    GradientClipping(value=0.5).on_before_optimizer_step(real_loop(model))
    for a, b in zip(grads(model), before):
        assert torch.equal(a, b.clamp(-0.5, 0.5))


class GradNormRecorder(Callback):
    def __init__(self):
        self.norms = []

    def on_before_optimizer_step(self, loop):
        self.norms.append(global_norm([p.grad for p in loop.model.parameters()]))


def test_clipping_runs_before_every_optimizer_step_in_fit():
    splits = synthetic_splits(32)
    config = tiny_config(epochs=2, lr=0.1)
    recorder = GradNormRecorder()
    fit(new_model(config), splits.train, splits.val, config,
        callbacks=[GradientClipping(norm=0.01), recorder])  # fmt: skip
    assert len(recorder.norms) == 2 * 2
    assert all(n == pytest.approx(0.01, rel=1e-4) for n in recorder.norms)


# -- NanGuard --------------------------------------------------------------------------------------
class PoisonAt(Callback):
    """At the start of ``epoch``, remember last.pt's bytes and put a NaN into a weight."""

    def __init__(self, epoch, last):
        self.epoch, self.last, self.saved = epoch, last, None

    def on_epoch_begin(self, loop):
        if loop.epoch == self.epoch:
            self.saved = self.last.read_bytes()
            with torch.no_grad():
                next(loop.model.parameters()).view(-1)[0] = float("nan")


def test_nan_guard_names_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path):
    splits = synthetic_splits(32)
    config = tiny_config(epochs=5)
    last = tmp_path / "checkpoints" / "last.pt"
    poison = PoisonAt(3, last)
    callbacks = [
        NanGuard(last), poison, logger(tmp_path), ModelCheckpoint(last.with_name("best.pt"), last),
    ]  # fmt: skip
    with pytest.raises(NonFiniteLossError) as info:
        fit(new_model(config), splits.train, splits.val, config, callbacks=callbacks)
    message = str(info.value)
    per_epoch = 2  # 32 rows in batches of 16
    assert "loss became nan" in message
    assert f"at epoch 3, step {2 * per_epoch + 1};" in message
    assert f"{last} (epoch 2)" in message
    assert "\n" not in message
    assert last.read_bytes() == poison.saved
    assert load_checkpoint(last)["epoch"] == 2
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_nan_guard_without_a_run_folder():
    splits = synthetic_splits(32)
    config = tiny_config(epochs=2)
    x = splits.train.x.clone()
    x[5, 3, 0] = float("nan")  # the batch holding row 5 has a NaN loss
    train = type(splits.train)(x, splits.train.y)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, step [12];") as info:
        fit(new_model(config), train, splits.val, config, callbacks=[NanGuard()])
    assert "no checkpoint was written" in str(info.value)


# -- MetricsLogger ---------------------------------------------------------------------------------
def test_metrics_logger_files_equal_the_history(tmp_path):
    splits = synthetic_splits(32)
    config = tiny_config(epochs=3)
    loop = fit(new_model(config), splits.train, splits.val, config,
               callbacks=[logger(tmp_path)])  # fmt: skip
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == loop.history  # exact: JSON keeps repr
    with (tmp_path / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for row, logs in zip(rows, loop.history):
        assert list(row) == list(logs)
        assert {k: float(v) for k, v in row.items()} == {k: float(v) for k, v in logs.items()}


def test_metrics_logger_rewrites_from_the_history_on_resume(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n{"epoch": 3}\n')
    loop = real_loop(nn.Linear(1, 1))
    loop.history = [{"epoch": 1, "loss": 0.5}]
    metrics = logger(tmp_path)
    metrics.on_train_begin(loop)
    assert (tmp_path / "metrics.jsonl").read_text() == '{"epoch": 1, "loss": 0.5}\n'
    loop.history.append({"epoch": 2, "loss": 0.25})
    metrics.on_epoch_end(loop, loop.history[-1])
    assert [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == (
        loop.history
    )
    assert (tmp_path / "metrics.csv").read_text().splitlines() == [
        "epoch,loss", "1,0.5", "2,0.25"
    ]  # fmt: skip


# -- ModelCheckpoint -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("monitor", "values", "best_epochs"),
    [
        ("val_accuracy", [0.5, 0.7, 0.6, 0.7, 0.8, 0.2], [1, 2, 2, 2, 5, 5]),
        ("val_loss", [0.9, 0.95, 0.5, 0.5, 0.6, 0.1], [1, 1, 3, 3, 3, 6]),
    ],
)
def test_model_checkpoint_best_only_on_improvement_last_every_epoch(
    tmp_path, monitor, values, best_epochs
):
    model = nn.Linear(2, 1)
    loop = real_loop(model)
    checkpoint = ModelCheckpoint(tmp_path / "best.pt", tmp_path / "last.pt", monitor)
    loop.callbacks = [checkpoint]
    for epoch, (value, best_epoch) in enumerate(zip(values, best_epochs), 1):
        with torch.no_grad():
            model.weight.fill_(float(epoch))  # the weights say which epoch they are from
        loop.epoch, loop.step = epoch, 10 * epoch
        logs = {"epoch": epoch, monitor: value}
        loop.history.append(logs)
        checkpoint.on_epoch_end(loop, logs)

        best, last = load_checkpoint(tmp_path / "best.pt"), load_checkpoint(tmp_path / "last.pt")
        assert last["epoch"] == epoch and last["step"] == 10 * epoch
        assert torch.equal(last["model"]["weight"], torch.full((1, 2), float(epoch)))
        assert best["epoch"] == best_epoch
        assert best["history"][-1][monitor] == values[best_epoch - 1]
        assert torch.equal(best["model"]["weight"], torch.full((1, 2), float(best_epoch)))
        assert last["callbacks"]["ModelCheckpoint"] == {
            "best": values[best_epoch - 1], "best_epoch": best_epoch
        }  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_model_checkpoint_without_the_monitored_metric_writes_only_last(tmp_path):
    loop = real_loop(nn.Linear(2, 1), epoch=1)
    checkpoint = ModelCheckpoint(tmp_path / "best.pt", tmp_path / "last.pt", "val_accuracy")
    checkpoint.on_epoch_end(loop, {"epoch": 1, "loss": 0.3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_step_decay_keeps_the_cuts_of_reduce_lr_on_plateau():
    """Both on (train.lr_step_every and train.plateau_patience): the two factors multiply."""
    model = nn.Linear(2, 1)
    loop = real_loop(model)
    loop.optimizer.param_groups[0]["initial_lr"] = 0.1
    decay = StepDecay(every=3, factor=0.75)
    plateau = ReduceLROnPlateau("val_loss", factor=0.5, patience=1)
    #             epoch:  1    2    3    4    5    6    7
    val_losses = [1.0, 1.1, 0.9, 1.2, 0.8, 0.7, 0.9]  # cuts at the ends of epochs 2, 4, 7
    cuts_before = [0, 0, 1, 1, 2, 2, 2]
    for epoch, value in enumerate(val_losses, 1):
        loop.epoch = epoch
        decay.on_epoch_begin(loop)  # fit's order: epoch begin, batches, epoch end
        expected = 0.1 * 0.75 ** ((epoch - 1) // 3) * 0.5 ** cuts_before[epoch - 1]
        assert loop.optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-12), epoch
        plateau.on_epoch_end(loop, {"epoch": epoch, "val_loss": value})


# -- EpochLine ---------------------------------------------------------------------------------
def test_epoch_line_prints_each_epochs_logged_values(capsys):
    from nnzoo.engine.callbacks import EpochLine

    splits = synthetic_splits(32)
    config = tiny_config(epochs=3)
    loop = fit(new_model(config), splits.train, splits.val, config, callbacks=[EpochLine("m s0")])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line, row in zip(lines, loop.history):
        expected = f"m s0 epoch {row['epoch']}/3: loss {row['loss']:.4f}, "
        assert line.startswith(expected + f"val_accuracy {row['val_accuracy']:.4f} (")


def test_model_checkpoint_every_n_epochs_keeps_the_best_epoch_and_writes_less(
    tmp_path, monkeypatch
):
    """Against checkpoints written every epoch: best.pt holds the same epoch and weights, last.pt
    the final epoch, and only the due epochs (plus the end) are written."""
    import nnzoo.engine.checkpoint as checkpoint_module

    splits = synthetic_splits(64)
    config = tiny_config(epochs=7)
    written = []
    save = checkpoint_module.atomic_save
    monkeypatch.setattr(
        checkpoint_module, "atomic_save", lambda c, p: (written.append(c["epoch"]), save(c, p))
    )
    out = {}
    for every in (1, 3):
        folder = tmp_path / f"every{every}"
        folder.mkdir()
        written.clear()
        checkpoint = ModelCheckpoint(folder / "best.pt", folder / "last.pt", every=every)
        fit(new_model(config), splits.train, splits.val, config, callbacks=[checkpoint])
        out[every] = (load_checkpoint(folder / "best.pt"), load_checkpoint(folder / "last.pt"))
        out[every] += (sorted(set(written)), len(written))
    (best1, last1, _, writes1), (best3, last3, epochs3, writes3) = out[1], out[3]
    assert best3["epoch"] == best1["epoch"] and last3["epoch"] == last1["epoch"] == 7
    for key, value in best1["model"].items():
        assert torch.equal(best3["model"][key], value), key

    def timeless(history):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in history]

    assert timeless(best3["history"]) == timeless(best1["history"])
    assert {3, 6, 7} <= set(epochs3) and writes3 < writes1


def test_metrics_logger_appends_rows_and_rewrites_when_a_column_appears(tmp_path):
    loop = real_loop(nn.Linear(1, 1))
    metrics = logger(tmp_path)
    metrics.on_train_begin(loop)
    rows = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25},
            {"epoch": 3, "loss": 0.2, "test_accuracy": 0.9}]  # fmt: skip
    for row in rows:
        loop.history.append(row)
        metrics.on_epoch_end(loop, row)
    with (tmp_path / "metrics.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert table == [{k: str(v) for k, v in {"test_accuracy": "", **r}.items()} for r in rows]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == "epoch,loss,test_accuracy"
