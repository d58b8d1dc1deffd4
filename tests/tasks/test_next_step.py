"""The next-step task against NumPy references, sampling, and both kinds end to end."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from nnzoo.cli import main
from nnzoo.config import ModelConfig, TaskConfig
from nnzoo.data import load_dataset
from nnzoo.models import create_model
from nnzoo.tasks import create_task

pytestmark = pytest.mark.usefixtures("one_thread")


def data(kind):
    return load_dataset("cycles", seed=1, kind=kind, min_length=3, max_length=7, train_size=10,
                        val_size=2, test_size=4).train  # fmt: skip


def model_for(kind, seed=0):
    torch.manual_seed(seed)
    config = ModelConfig(
        name="generator", cell="lstm", hidden=5, layers=1, options={"embedding": 4}
    )
    return create_model(config, 12, 12).eval()


def test_the_toys_follow_their_rules():
    cat = data("categorical")
    for i in range(len(cat)):
        x = cat[i].numpy()
        step = (x[1] - x[0]) % 12
        assert step in (1, 2) and all((x[t + 1] - x[t]) % 12 == step for t in range(len(x) - 1))
    hot = data("multi-hot")
    for i in range(len(hot)):
        x = hot[i].numpy()
        assert (x.sum(-1) == 3).all()
        roots = [
            next(r for r in range(12) if {r, (r + 4) % 12, (r + 7) % 12} == set(np.nonzero(s)[0]))
            for s in x
        ]
        assert all((roots[t + 1] - roots[t]) % 12 == 5 for t in range(len(x) - 1))


def test_categorical_nll_and_accuracy_match_numpy():
    seqs, task, model = (
        data("categorical"),
        create_task(TaskConfig("next-step")),
        model_for("categorical"),
    )
    metrics = task.evaluate(model, seqs)
    nll, right, steps = 0.0, 0, 0
    with torch.no_grad():
        for i in range(len(seqs)):
            x = seqs[i]
            z = model(x[None, :-1])[0].double().numpy()
            z = z - z.max(-1, keepdims=True)
            lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
            target = x[1:].numpy()
            nll -= lp[np.arange(len(target)), target].sum()
            right += int((z.argmax(-1) == target).sum())
            steps += len(target)
    assert metrics["loss"] == pytest.approx(nll / steps, abs=1e-5)
    assert metrics["accuracy"] == right / steps


def test_multi_hot_nll_is_the_frame_level_nll_per_step():
    seqs = data("multi-hot")
    task = create_task(TaskConfig("next-step", {"kind": "multi-hot"}))
    model = model_for("multi-hot", seed=1)
    metrics = task.evaluate(model, seqs)
    total, steps = 0.0, 0
    with torch.no_grad():
        for i in range(len(seqs)):
            x = seqs[i]
            p = 1 / (1 + np.exp(-model(x[None, :-1])[0].double().numpy()))  # (T-1, K)
            y = x[1:].double().numpy()
            total -= (y * np.log(p) + (1 - y) * np.log(1 - p)).sum()  # summed over keys
            steps += len(y)
    assert set(metrics) == {"loss"}
    assert metrics["loss"] == pytest.approx(total / steps, abs=1e-5)


class Constant(nn.Module):
    """Logits that ignore the input: sampling must draw from softmax(logits / temperature)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x, lengths=None):
        return self.logits.expand(x.shape[0], x.shape[1], -1)


def test_sampling_draws_from_the_tempered_softmax_and_is_seeded():
    task = create_task(TaskConfig("next-step"))
    logits = [0.0, 1.0, 2.0]
    prompt = torch.zeros(4000, 1, dtype=torch.long)
    for temperature in (1.0, 2.0):
        drawn = task.sample(Constant(logits), prompt, 1, temperature=temperature,
                            generator=torch.Generator().manual_seed(0))[:, 1]  # fmt: skip
        freq = np.bincount(drawn.numpy(), minlength=3) / len(drawn)
        p = np.exp(np.array(logits) / temperature)
        np.testing.assert_allclose(freq, p / p.sum(), atol=0.03)
    seeded = [torch.Generator().manual_seed(7) for _ in range(2)]
    again = [task.sample(Constant(logits), prompt[:5], 6, generator=g) for g in seeded]
    assert torch.equal(*again) and again[0].shape == (5, 7)
    hot = create_task(TaskConfig("next-step", {"kind": "multi-hot"}))
    keys = hot.sample(Constant([-30.0, 30.0, 0.0]), torch.zeros(3000, 1, 3), 1,
                      generator=torch.Generator().manual_seed(0))[:, 1]  # fmt: skip
    assert keys[:, 0].sum() == 0 and keys[:, 1].sum() == 3000
    assert keys[:, 2].mean().item() == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("kind", ["categorical", "multi-hot"])
def test_both_kinds_train_from_the_cli_with_their_nll_in_the_report(tmp_path, capsys, kind):
    out = tmp_path / kind
    argv = ["train", "--set", "task.name=next-step", "--set", f'task.options.kind="{kind}"',
            "--data", "cycles", "--set", f'data.options.kind="{kind}"', "--set",
            "data.options.train_size=300", "--model", "generator", "--cell", "gru",
            "--hidden", "24", "--layers", "1", "--epochs", "6", "--batch-size", "16",
            "--lr", "0.01", "--monitor", "val_loss", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "nats per step" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert results["task"] == "next-step"
    assert history[-1]["val_loss"] < 0.5 * history[0]["val_loss"]  # it learns the cycles
    assert results["test"]["loss"] < history[0]["val_loss"]
    report = (out / "report.md").read_text()
    assert "test NLL per step, nats (selected epoch)" in report and "## Samples" in report
    assert len(results["test"]["samples"]) == 4


def test_a_kind_that_does_not_fit_the_data_is_one_line(tmp_path, capsys):
    code = main(["train", "--set", "task.name=next-step", "--set", 'task.options.kind="multi-hot"',
                 "--data", "cycles", "--model", "generator", "--monitor", "val_loss",
                 "--out", str(tmp_path / "r")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "set task.options.kind='categorical'" in err
