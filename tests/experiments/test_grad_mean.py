"""``nnzoo study grad-mean``: gradient statistics against a NumPy softmax-regression reference."""

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

from nnzoo.config import RunConfig, TrainConfig
from nnzoo.data.base import SequenceSet
from nnzoo.engine.fit import epoch_seed
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
    config = RunConfig(train=TrainConfig(optimizer="sgd", lr=0.5, batch_size=8, seed=3))  # 1 batch
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


class Dropped(nn.Module):
    """Dropout (so the masks must match), and a layer the loss never reaches (zeros)."""

    def __init__(self):
        super().__init__()
        self.linear, self.unused = nn.Linear(6, 3), nn.Linear(2, 2)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x, lengths=None):
        return self.linear(self.dropout(x.reshape(len(x), -1)))


def plain_loop(model, data, config, steps):
    """The reference: a loop written out, seeded as ``fit`` documents (per epoch: the dropout
    masks from ``torch.manual_seed``, the order from a generator of the same seed)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    params = [p for p in model.parameters() if p.requires_grad]
    rows, epoch = [], 0
    while len(rows) < steps:
        epoch += 1
        seed = epoch_seed(config.seed, epoch)
        torch.manual_seed(seed)
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
        model.train()
        for start in range(0, len(data), config.batch_size):
            index = order[start : start + config.batch_size]
            x, y = data.x[index], data.y[index]
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=False)
            loss.backward()
            grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
            g = torch.cat([grad.reshape(-1) for grad in grads]).double()  # unreached: zeros
            rows.append({
                "step": len(rows) + 1, "loss": loss.item(),
                "accuracy": (logits.argmax(-1) == y).double().mean().item(),
                "grad_mean": g.mean().item(), "grad_abs_mean": g.abs().mean().item(),
                "grad_norm": g.norm().item(),
            })  # fmt: skip
            optimizer.step()
            if len(rows) == steps:
                break
    return rows


def test_the_steps_of_fit_are_those_of_a_plain_loop_exactly():
    """Across epochs, a short last batch (10 rows in batches of 4) and dropout: equal floats."""
    gen = torch.Generator().manual_seed(2)
    data = SequenceSet(
        torch.randn(10, 2, 3, generator=gen), torch.randint(0, 3, (10,), generator=gen)
    )
    train = TrainConfig(optimizer="sgd", lr=0.3, momentum=0.5, batch_size=4, seed=5)
    torch.manual_seed(0)
    model = Dropped()
    reference = Dropped()
    reference.load_state_dict(model.state_dict())
    got = gradient_stats(model, data, RunConfig(train=train), steps=7)
    assert got == plain_loop(reference, data, train, steps=7)
    assert len({r["accuracy"] for r in got}) > 1 and got[0]["grad_mean"] != got[1]["grad_mean"]
    torch.testing.assert_close(model.linear.weight, reference.linear.weight, rtol=0, atol=0)


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
