"""``nnzoo study gradient-flow``: dL/dh_t against independent references, then end to end."""

import csv
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.experiments.gradient_flow import hidden_gradients, unroll_states
from nnzoo.models.sequence_classifier import SequenceClassifier
from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


def classifier(cell, layers=1, residual=False, dtype=torch.float64, **options):
    torch.manual_seed(1)
    model = SequenceClassifier(
        3, 4, cell=cell, hidden=5, layers=layers, residual=residual, cell_options=options
    )
    return model.to(dtype)


@pytest.mark.parametrize("cell", ["elman", "gru", "lstm", "peephole-lstm"])
@pytest.mark.parametrize("layers, residual", [(1, False), (2, True)])
def test_the_unrolled_logits_are_the_models(cell, layers, residual):
    model = classifier(cell, layers, residual).eval()
    x = torch.randn(3, 9, 3, dtype=torch.float64)
    hs, logits = unroll_states(model, x)
    assert len(hs) == 9 and hs[0].shape == (3, 5)
    torch.testing.assert_close(logits, model(x), atol=1e-10, rtol=0)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_elman_matches_numpy_bptt_on_torch_nn_rnn_states(nonlinearity):
    """dL/dh_{t-1} = W^T (g'(a_t) * dL/dh_t), from the states of torch.nn.RNN (copied weights)."""
    model = classifier("elman", nonlinearity=nonlinearity)
    B, T = 4, 12
    x = torch.randn(B, T, 3, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 2])
    rnn = model.encoder.to_torch()
    with torch.no_grad():
        h = rnn(x)[0].numpy()  # (B, T, H)
    W = rnn.weight_hh_l0.detach().numpy()
    V, c = model.head.weight.detach().numpy(), model.head.bias.detach().numpy()
    logits = h[:, -1] @ V.T + c
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    delta = (p - np.eye(4)[y.numpy()]) @ V / B  # dL/dh_T, (B, H)
    expected = [np.linalg.norm(delta)]
    for t in range(T - 1, 0, -1):
        slope = 1 - h[:, t] ** 2 if nonlinearity == "tanh" else (h[:, t] > 0).astype(float)
        delta = (delta * slope) @ W
        expected.append(np.linalg.norm(delta))
    got = hidden_gradients(model, x, y).numpy()
    np.testing.assert_allclose(got, expected[::-1], rtol=1e-10, atol=1e-14)


def perturbed_loss(model, x, y, t, e):
    """L with e added to h_t, where it feeds step t + 1 and the readout (one layer)."""
    cell = model.encoder.layers[0]
    state = cell.init_state(x.shape[0], x.device, x.dtype)
    for s in range(x.shape[1]):
        h, state = cell.step(x[:, s], state)
        if s == t:
            h = h + e
            state = state._replace(h=h)
    return F.cross_entropy(model.head(h), y)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_match_finite_differences(cell):
    model = classifier(cell).eval()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y = torch.tensor([1, 2])
    got = hidden_gradients(model, x, y)
    step = 1e-6
    with torch.no_grad():
        for t in range(6):
            grad = torch.zeros(2, 5, dtype=torch.float64)
            for i in range(2):
                for j in range(5):
                    e = torch.zeros(2, 5, dtype=torch.float64)
                    e[i, j] = step
                    up = perturbed_loss(model, x, y, t, e)
                    down = perturbed_loss(model, x, y, t, -e)
                    grad[i, j] = (up - down) / (2 * step)
            assert float(got[t]) == pytest.approx(float(grad.norm()), rel=1e-6)


TINY = ["--task", "first-symbol", "--length", 10, "--epochs", 1, "--hidden", 6,
        "--train-size", 24, "--val-size", 8, "--test-size", 12, "--grad-batch", 12,
        "--batch-size", 8, "--threads", 1]  # fmt: skip


def test_study_end_to_end_and_a_repeat_trains_nothing(capsys, tmp_path):
    out = tmp_path / "flow"
    results = tmp_path / "results" / "gradient-flow.md"
    argv = ["gradient-flow", "--cells", "elman,lstm", "--clip-norm", 0.01, *TINY,
            "--data-root", tmp_path / "none", "--out", out, "--results", results]  # fmt: skip
    code, stdout, stderr = study(capsys, *argv)
    assert code == 0, stderr
    assert stdout.count("epoch 1/1") == 4  # four runs trained
    record = json.loads((out / "study.json").read_text())
    assert record["study"] == "gradient-flow" and record["cells"] == ["elman", "lstm"]
    for name in ("elman.png", "lstm.png", "all-cells.png", "training-grad-norm.png"):
        assert (out / "plots" / name).stat().st_size > 0
    with open(out / "gradient-norms.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 3 * 10
    first = rows[0]
    assert (first["cell"], first["condition"], first["t"]) == ("elman", "init", "1")
    assert float(first["grad_norm"]) == record["curves"]["elman"]["init"][0]
    assert {r["condition"] for r in record["rows"]} == {"init", "trained", "trained-clipped"}

    for r in record["runs"]:
        run = out / "runs" / (r["cell"] if r["clip_norm"] == 0 else f"{r['cell']}-clip0.01")
        assert r["run"] == str(run)
        saved = json.loads((run / "results.json").read_text())
        assert r["test_accuracy"] == pytest.approx(100 * saved["test"]["accuracy"])
        logged = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
        assert logged["grad_norm_max"] >= logged["grad_norm_mean"] > 0
        if r["clip_norm"]:  # the recorded norms are the raw ones, above the clipping norm
            assert "clip_norm = 0.01" in (run / "config.toml").read_text()
            assert logged["grad_norm_max"] > 0.01 and logged["clipped_share"] == 1.0

    report = (out / "report.md").read_text()
    assert "![all cells](plots/all-cells.png)" in report and "ratio h_1 / h_10" in report
    command = "nnzoo " + shlex.join(["study", *map(str, argv)])  # the command as typed
    assert record["provenance"]["command"] == command and command in report
    published = results.read_text()
    assert "![all cells](gradient-flow-all-cells.png)" in published
    assert (results.parent / "gradient-flow-elman.png").stat().st_size > 0

    stamp = (out / "runs" / "lstm" / "checkpoints" / "last.pt").stat().st_mtime_ns
    code, stdout, _ = study(capsys, *argv)
    assert code == 0
    assert "epoch 1/1" not in stdout  # nothing was trained again
    assert (out / "runs" / "lstm" / "checkpoints" / "last.pt").stat().st_mtime_ns == stamp
    assert json.loads((out / "study.json").read_text())["curves"] == record["curves"]


def test_a_cell_with_options_has_its_own_runs_plots_and_label(capsys, tmp_path):
    out = tmp_path / "flow"
    results = tmp_path / "results" / "gradient-flow.md"
    argv = ["gradient-flow", "--cells", "lstm,lstm:forget_bias=1", "--clip-norm", 0.01, *TINY,
            "--data-root", tmp_path / "none", "--out", out, "--results", results]  # fmt: skip
    code, stdout, stderr = study(capsys, *argv)
    assert code == 0, stderr
    assert stdout.count("epoch 1/1") == 4
    record = json.loads((out / "study.json").read_text())
    assert record["cells"] == ["lstm", "lstm:forget_bias=1"]
    assert list(record["curves"]) == ["lstm", "lstm:forget_bias=1"]
    assert [Path(r["run"]).name for r in record["runs"]] == [
        "lstm", "lstm-clip0.01", "lstm-forget_bias1", "lstm-forget_bias1-clip0.01"
    ]  # fmt: skip
    for r in record["runs"][2:]:
        assert r["cell"] == "lstm:forget_bias=1"
        assert "forget_bias = 1" in (Path(r["run"]) / "config.toml").read_text()
    assert "forget_bias" not in (out / "runs" / "lstm" / "config.toml").read_text()
    # same seed, same weights but b_f: the initial curves differ
    assert record["curves"]["lstm"]["init"] != record["curves"]["lstm:forget_bias=1"]["init"]
    with open(out / "gradient-norms.csv") as f:
        assert {r["cell"] for r in csv.DictReader(f)} == {"lstm", "lstm:forget_bias=1"}
    assert (out / "plots" / "lstm-forget_bias1.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "![lstm:forget_bias=1](plots/lstm-forget_bias1.png)" in report
    assert "| lstm:forget_bias=1 | init" in report
    published = results.read_text()
    assert "![lstm:forget_bias=1](gradient-flow-lstm-forget_bias1.png)" in published
    assert (results.parent / "gradient-flow-lstm-forget_bias1.png").stat().st_size > 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cells", "lstm,elman:forget_bias=1"], "cell 'elman' has no option 'forget_bias'"),
        (["--cells", "elman,nope"], "--cells: unknown cell 'nope'"),
        (["--cells", " , "], "--cells=' , ': expected a comma-separated list"),
        (["--length", 1], "--length: length 1 is too short"),
        (["--clip-norm", 0], "--clip-norm=0.0: expected a norm > 0"),
        (["--task", "copy"], "--task='copy': expected one of first-symbol, adding"),
        (["--train-size", 0], "--train-size=0: expected an integer >= 1"),
    ],
)
def test_bad_flags_are_one_line_errors(capsys, tmp_path, flags, message):
    code, _, stderr = study(capsys, "gradient-flow", "--out", tmp_path / "x", *flags)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "x" / "runs").exists()
