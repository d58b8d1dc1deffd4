"""``nnzoo study long-lag`` end to end on tiny settings, checked against its run folders."""

import argparse
import json
from pathlib import Path

import pytest
import torch

from nnzoo.experiments import long_lag
from nnzoo.experiments.folder import run_study
from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--epochs", 1, "--hidden", 6, "--train-size", 24, "--val-size", 8, "--test-size", 12,
        "--batch-size", 8, "--threads", 1]  # fmt: skip


def test_study_end_to_end_and_a_repeat_trains_nothing(capsys, tmp_path):
    out = tmp_path / "lag"
    results = tmp_path / "results" / "long-lag.md"
    argv = ["long-lag", "--cells", "elman,gru", "--lengths", "5,10", "--seeds", "0,3", *TINY,
            "--data-root", tmp_path / "none", "--out", out, "--results", results]  # fmt: skip
    code, stdout, stderr = study(capsys, *argv)
    assert code == 0, stderr
    assert stdout.count("epoch 1/1") == 8
    record = json.loads((out / "study.json").read_text())
    assert record["chance"] == pytest.approx(25.0)
    assert [(r["cell"], r["length"], r["seed"]) for r in record["rows"]] == [
        (cell, n, seed) for cell in ("elman", "gru") for n in (5, 10) for seed in (0, 3)
    ]
    for r in record["rows"]:
        run = out / "runs" / f"{r['cell']}-T{r['length']}-s{r['seed']}"
        saved = json.loads((run / "results.json").read_text())
        assert r["test_accuracy"] == pytest.approx(100 * saved["test"]["accuracy"])
        config = (run / "config.toml").read_text()
        assert f"length = {r['length']}" in config and f'cell = "{r["cell"]}"' in config
        assert f"seed = {r['seed']}" in config
        assert (run / "plots" / "curves.png").stat().st_size > 0
    for cell, means in record["means"].items():
        for n, mean in zip((5, 10), means):
            seeds = [
                r["test_accuracy"] for r in record["rows"] if (r["cell"], r["length"]) == (cell, n)
            ]
            assert mean == pytest.approx(sum(seeds) / 2)
    assert (out / "plots" / "accuracy.png").stat().st_size > 0

    report = (out / "report.md").read_text()
    assert "| cell  | T = 5 | T = 10 |" in report
    assert "Chance level: **25.0 %**" in report and "![accuracy against length]" in report
    published = results.read_text()
    assert "(long-lag-accuracy.png)" in published
    assert (results.parent / "long-lag-accuracy.png").stat().st_size > 0

    stamp = (out / "runs" / "gru-T10-s3" / "checkpoints" / "last.pt").stat().st_mtime_ns
    code, stdout, _ = study(capsys, *argv)
    assert code == 0 and "epoch 1/1" not in stdout  # nothing was trained again
    assert (out / "runs" / "gru-T10-s3" / "checkpoints" / "last.pt").stat().st_mtime_ns == stamp
    assert json.loads((out / "study.json").read_text())["rows"] == record["rows"]


def test_adding_runs_through_run_study(tmp_path, capsys):
    p = argparse.ArgumentParser()
    long_lag.add_arguments(p)
    args = p.parse_args(
        ["--task", "adding", "--cells", "lstm", "--lengths", "6", *map(str, TINY),
         "--out", str(tmp_path / "adding"), "--data-root", str(tmp_path / "none")]
    )  # fmt: skip
    record = json.loads((run_study(long_lag.EXPERIMENT, args) / "study.json").read_text())
    assert record["chance"] == pytest.approx(50.0) and len(record["rows"]) == 1
    assert (
        "symbols" not in (tmp_path / "adding" / "runs" / "lstm-T6-s0" / "config.toml").read_text()
    )


def test_a_cell_with_options_gets_its_own_runs_and_keeps_its_label(capsys, tmp_path):
    from nnzoo.config import config_from_toml
    from nnzoo.runs.train import build_model, load_splits

    out = tmp_path / "lag"
    argv = ["long-lag", "--cells", "lstm,lstm:forget_bias=1", "--lengths", "5", *TINY,
            "--data-root", tmp_path / "none", "--out", out]  # fmt: skip
    code, stdout, stderr = study(capsys, *argv)
    assert code == 0, stderr
    assert stdout.count("epoch 1/1") == 2
    record = json.loads((out / "study.json").read_text())
    assert record["cells"] == ["lstm", "lstm:forget_bias=1"]
    assert list(record["means"]) == ["lstm", "lstm:forget_bias=1"]
    assert [Path(r["run"]).name for r in record["rows"]] == [
        "lstm-T5-s0",
        "lstm-forget_bias1-T5-s0",
    ]
    assert [r["cell"] for r in record["rows"]] == ["lstm", "lstm:forget_bias=1"]
    plain = config_from_toml((out / "runs" / "lstm-T5-s0" / "config.toml").read_text())
    shifted = config_from_toml(
        (out / "runs" / "lstm-forget_bias1-T5-s0" / "config.toml").read_text()
    )
    assert "cell_options" not in plain.model.options and plain.model.label == "lstm"
    assert shifted.model.options["cell_options"] == {"forget_bias": 1}
    assert shifted.model.label == "lstm"
    assert shifted.replace(model=plain.model) == plain  # nothing else differs
    splits = load_splits(plain, None)  # the study's own data
    a, b = (
        build_model(plain, splits).encoder.layers[0],
        build_model(shifted, splits).encoder.layers[0],
    )
    H = 6
    torch.testing.assert_close(b.bias_ih[H : 2 * H], a.bias_ih[H : 2 * H] + 1)
    assert torch.equal(b.weight_hh, a.weight_hh) and torch.equal(b.bias_hh, a.bias_hh)
    report = (out / "report.md").read_text()
    assert "| lstm:forget_bias=1 |" in report and "`runs/lstm-forget_bias1-T5-s0`" in report


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cells", "lstm,nope"], "--cells: unknown cell 'nope'"),
        (["--cells", "lstm,lstm"], "'lstm' is listed twice"),
        (["--lengths", ""], "--lengths='': expected a comma-separated list"),
        (["--lengths", "10,1"], "--lengths: length 1 is too short"),
        (["--lengths", "10,x"], "expected a comma-separated list of ints"),
        (["--lengths", "10,10"], "--lengths='10,10': 10 is listed twice"),
        (["--seeds", "1,1"], "--seeds='1,1': 1 is listed twice"),
        (["--hidden", 0], "--hidden=0: expected an integer >= 1"),
        (["--epochs", 0], "train.epochs=0: expected an integer >= 1"),
        (["--set", "model.cell_options.colour=1"], "colour"),
        (["--cells", "lstm:colour=1"], "--cells: 'lstm:colour=1': cell 'lstm' has no option"),
        (["--cells", "gru,lstm:forget_bias=x"], "forget_bias='x': expected a finite number"),
        (["--cells", "lstm:bias=false;forget_bias=1"], "forget_bias=1 needs a bias"),
    ],
)
def test_bad_flags_are_one_line_errors(capsys, tmp_path, flags, message):
    code, _, stderr = study(capsys, "long-lag", "--out", tmp_path / "x", *flags)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "x" / "runs").exists()
