"""``nnzoo study capacity``: accuracy and per-layer parameters of several models."""

import json

import pytest

from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


def test_parameters_per_layer_add_up_to_the_published_totals(capsys, tmp_path, fashion_root):
    out = tmp_path / "cap"
    code, _, err = study(capsys, "capacity", "--data-root", fashion_root, "--out", out,
                         "--epochs", 1, "--models", "mlp,deeper,wider")  # fmt: skip
    assert code == 0, err
    record = json.loads((out / "study.json").read_text())
    totals = {r["model"]: (r["params"], r["trainable"]) for r in record["rows"]}
    # the course's counts (and torchinfo's totals, see tests/models/test_image_models.py)
    assert totals == {
        "mlp": (669_706, 669_706),
        "deeper": (1_475_338, 1_475_338),
        "wider": (1_557_330, 1_557_330),
    }
    for name, layers in record["layers"].items():
        assert sum(layer["params"] for layer in layers) == totals[name][0]
    mlp = {layer["name"]: layer["params"] for layer in record["layers"]["mlp"]}
    assert sorted(mlp.values()) == sorted([784 * 512 + 512, 512 * 512 + 512, 512 * 10 + 10])
    report = (out / "report.md").read_text()
    assert "Parameters per layer: deeper" in report and "1,475,338" in report
    assert "≥ 92: " in report  # the deeper CNN's target is stated, met or MISSED
    for name in totals:
        assert (out / "runs" / name / "plots" / "curves.png").exists()
        assert f"](runs/{name}/plots/curves.png)" in report


def test_an_unknown_model_is_named(capsys, tmp_path, fashion_root):
    code, _, err = study(capsys, "capacity", "--data-root", fashion_root, "--out", tmp_path / "c",
                         "--models", "mlp,resnet9000")  # fmt: skip
    assert code == 2 and "resnet9000" in err
