"""``nnzoo train`` end to end: the epoch picked on validation, and the test numbers reported for it.

The picked epoch must be the first best epoch of the monitor in metrics.jsonl (a tie keeps the
earlier epoch: ModelCheckpoint only saves on a strict improvement), and results.json's test
accuracy and loss must be what checkpoints/best.pt scores on the test split when it is loaded
and evaluated here by hand.
"""

import json

import pytest
import torch
import torch.nn.functional as F

from nnzoo.cli import main
from nnzoo.data import load_dataset
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.models import create_model

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = {"length": 6, "train_size": 64, "val_size": 32, "test_size": 32}
EPOCHS = 5
# (lr, seed): with these the val accuracy ties at its best (first seen at epoch 1 in one, at
# epoch 4 of 5 in the other), and the val loss is best at the first and at the last epoch
RUNS = [("0.05", 3), ("0.2", 0)]


def train(out, lr, seed, monitor):
    options = [x for k, v in DATA.items() for x in ("--set", f"data.options.{k}={v}")]
    argv = ["train", "--data", "first-symbol", *options, "--cell", "gru", "--hidden", "4",
            "--layers", "1", "--epochs", str(EPOCHS), "--batch-size", "16", "--lr", lr,
            "--set", f"train.seed={seed}", "--monitor", monitor, "--out", str(out),
            "--quiet"]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return rows, json.loads((out / "results.json").read_text())


def first_best(values, mode):
    best = max(values) if mode == "max" else min(values)
    return values.index(best) + 1  # epochs count from 1


def test_the_picked_epoch_is_the_first_best_of_the_monitor(tmp_path, capsys):
    picked = {}
    for lr, seed in RUNS:
        for monitor, mode in (("val_accuracy", "max"), ("val_loss", "min")):
            rows, results = train(tmp_path / f"{lr}-{seed}-{monitor}", lr, seed, monitor)
            assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))
            values = [r[monitor] for r in rows]
            expected = first_best(values, mode)
            assert results["monitor"] == monitor
            assert results["selected_epoch"] == expected, (monitor, values)
            assert results["selected_val"][monitor] == values[expected - 1]
            picked[lr, seed, monitor] = (expected, values.count(values[expected - 1]))
    # the runs tell the rules apart: a tie broken to the earlier epoch, a best epoch before the
    # last one, and the two monitors picking different epochs of the same run
    assert any(ties > 1 and epoch < EPOCHS for epoch, ties in picked.values()), picked
    assert {epoch for epoch, _ in picked.values()} - {1, EPOCHS}, picked
    assert any(
        picked[lr, seed, "val_accuracy"][0] != picked[lr, seed, "val_loss"][0] for lr, seed in RUNS
    ), picked


def evaluate_by_hand(checkpoint, test, num_features, num_classes):
    """(accuracy, mean cross-entropy) of a checkpoint's weights on the test split."""
    ckpt = load_checkpoint(checkpoint)
    model = create_model(ckpt["run_config"].model, num_features, num_classes)
    model.load_state_dict(ckpt["model"])
    model.eval()
    with torch.no_grad():
        logits = model(test.x, test.lengths)  # (B, C)
    correct = int((logits.argmax(-1) == test.y).sum())
    return ckpt["epoch"], correct / len(test.y), F.cross_entropy(logits, test.y).item()


@pytest.mark.parametrize("monitor", ["val_accuracy", "val_loss"])
def test_the_reported_test_numbers_are_those_of_best_pt(tmp_path, capsys, monitor):
    lr, seed = RUNS[1]
    out = tmp_path / "run"
    rows, results = train(out, lr, seed, monitor)
    splits = load_dataset("first-symbol", seed=0, **DATA)  # as `nnzoo train` reads it
    test = splits.test
    assert len(test.y) == DATA["test_size"]
    args = (test, splits.num_features, splits.num_classes)

    epoch, accuracy, loss = evaluate_by_hand(out / "checkpoints" / "best.pt", *args)
    assert epoch == results["selected_epoch"]
    assert results["test"]["accuracy"] == accuracy
    assert results["test"]["loss"] == pytest.approx(loss, abs=1e-6)

    epoch, accuracy, loss = evaluate_by_hand(out / "checkpoints" / "last.pt", *args)
    assert epoch == EPOCHS == len(rows)
    assert results["final_epoch_test"]["accuracy"] == accuracy
    assert results["final_epoch_test"]["loss"] == pytest.approx(loss, abs=1e-6)
