"""``nnzoo study grad-mean``: gradient statistics against a NumPy softmax-regression reference."""

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from nnzoo.config import TrainConfig
from nnzoo.data.base import SequenceSet
from nnzoo.experiments.grad_mean import gradient_stats
from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


class Softmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x, lengths=None):
        return self.linear(x.reshape(len(x), -1))


def reference(W, b, x, y):
    """Cross-entropy gradients of softmax regression by hand: dZ = (softmax - onehot) / B."""
    z = x @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = (p - np.eye(3)[y]) / len(y)
    g = np.concatenate([(dz.T @ x).ravel(), dz.sum(0)])
    loss = -np.log(p[np.arange(len(y)), y]).mean()
    return g, loss


def test_statistics_match_hand_computed_gradients_at_every_step():
    gen = torch.Generator().manual_seed(1)
    data = SequenceSet(
        torch.randn(8, 2, 3, generator=gen), torch.randint(0, 3, (8,), generator=gen)
    )
    model = Softmax().double()
    data = SequenceSet(data.x.double(), data.y)
    config = TrainConfig(optimizer="sgd", lr=0.5, batch_size=8, seed=3)  # one batch: every row
    W, b = model.linear.weight.detach().numpy().copy(), model.linear.bias.detach().numpy().copy()
    rows = gradient_stats(model, data, config, steps=3)
    assert [r["step"] for r in rows] == [1, 2, 3]
    x, y = data.x.reshape(8, -1).numpy(), data.y.numpy()
    for r in rows:  # the batch is the whole set, so order does not matter
        g, loss = reference(W, b, x, y)
        assert r["loss"] == pytest.approx(loss, abs=1e-12)
        assert r["grad_mean"] == pytest.approx(g.mean(), abs=1e-12)
        assert r["grad_abs_mean"] == pytest.approx(np.abs(g).mean(), abs=1e-12)
        assert r["grad_norm"] == pytest.approx(np.linalg.norm(g), abs=1e-12)
        W, b = W - 0.5 * g[:18].reshape(3, 6), b - 0.5 * g[18:]  # plain SGD by hand


def test_steps_span_epochs_and_the_csv_holds_every_step(capsys, tmp_path, fashion_root):
    out = tmp_path / "gm"
    # 110 training images in batches of 64: 2 steps per epoch, so 5 steps span 3 epochs
    code, _, err = study(capsys, "grad-mean", "--data-root", fashion_root, "--out", out,
                         "--steps", 5, "--lrs", "0.1,0.01")  # fmt: skip
    assert code == 0, err
    with open(out / "grad-mean.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["mlp-lr0.1"] * 5 + ["mlp-lr0.01"] * 5
    assert [int(r["step"]) for r in rows[:5]] == [1, 2, 3, 4, 5]
    assert rows[0]["grad_mean"] == rows[5]["grad_mean"]  # same init and batch, before any step
    assert rows[1]["grad_mean"] != rows[6]["grad_mean"]  # different lr after one step
    record = json.loads((out / "study.json").read_text())
    assert record["rows"][0]["last"]["step"] == 5
    assert (out / "plots" / "grad-mean.png").stat().st_size > 0
    assert (out / "runs" / "mlp-lr0.1" / "plots" / "curves.png").exists()
    code, stdout, _ = study(capsys, "grad-mean", "--data-root", fashion_root, "--out", out,
                            "--steps", 5, "--lrs", "0.1,0.01")  # fmt: skip
    assert code == 0 and "steps, loss" not in stdout  # picked up, not recomputed


def test_zero_steps_is_an_error(capsys, tmp_path, fashion_root):
    code, _, err = study(capsys, "grad-mean", "--data-root", fashion_root, "--out", tmp_path,
                         "--steps", 0)  # fmt: skip
    assert code == 2 and "--steps" in err
