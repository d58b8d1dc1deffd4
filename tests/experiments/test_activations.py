"""``nnzoo study activations``: its table against torch's activations and autograd."""

import json

import numpy as np
import pytest
import torch

from nnzoo.experiments import rebuild_report
from nnzoo.experiments.activations import NAMES
from tests.experiments.conftest import study
from tests.scratch.test_activations import TORCH  # torch's functions: the references

# the range as its bounds (low, high); in float64 tanh(-30) is -1.0 itself
RANGES = {
    "(0, 1)": (0, 1),
    "(-1, 1)": (-1, 1),
    "[0, inf)": (0, np.inf),
    "(-inf, inf)": (-np.inf, np.inf),
    "(-1, inf)": (-1, np.inf),
}


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    from nnzoo.cli import main

    out = tmp_path_factory.mktemp("act") / "study"
    results = out.parent / "results" / "activations.md"
    argv = ["study", "activations", "--out", str(out), "--points=-2,-0.5,0,0.5,2",
            "--results", str(results)]  # fmt: skip
    assert main(argv) == 0
    return out, results, json.loads((out / "study.json").read_text())


def autograd(fn, points):
    z = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    y = fn(z)
    (grad,) = torch.autograd.grad(y.sum(), z)
    return y.detach().numpy(), grad.numpy()


def test_values_and_derivatives_are_torchs(record):
    _, _, rec = record
    assert rec["points"] == [-2, -0.5, 0, 0.5, 2]
    assert list(rec["rows"]) == list(TORCH)
    for name, row in rec["rows"].items():
        values, grads = autograd(TORCH[name], rec["points"])
        np.testing.assert_allclose(row["values"], values, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(row["derivatives"], grads, rtol=1e-12, atol=1e-15)
        far = autograd(TORCH[name], [-20.0, 0.0, 20.0])[1]
        assert [row["df_left"], row["df0"], row["df_right"]] == pytest.approx(far, abs=1e-15)


def test_properties_match_the_functions(record):
    _, _, rec = record
    rows = rec["rows"]
    z = torch.linspace(-30, 30, 6001, dtype=torch.float64)
    for name, row in rows.items():
        low, high = RANGES[row["range"]]
        y = TORCH[name](z).numpy()
        assert (y >= low).all() and (y <= high).all()
        if np.isfinite(low):  # the bound is approached (or reached) on the left
            assert y.min() == pytest.approx(low, abs=1e-6)
        odd = np.allclose(TORCH[name](-z).numpy(), -y, atol=1e-12)
        assert row["zero_centred"] == odd
    assert [n for n, r in rows.items() if r["zero_centred"]] == ["tanh"]
    assert rows["sigmoid"]["flat"] == rows["tanh"]["flat"] == ["z -> -inf", "z -> +inf"]
    assert rows["relu"]["flat"] == rows["elu"]["flat"] == ["z -> -inf"]
    assert rows["leaky_relu"]["flat"] == []
    assert {n: r["df0"] for n, r in rows.items()} == {
        "sigmoid": 0.25, "tanh": 1.0, "relu": 0.0, "leaky_relu": 0.01, "elu": 1.0,
    }  # fmt: skip
    assert set(NAMES) == set(rows)


def test_report_plot_results_and_rebuild(record):
    out, results, _ = record
    from matplotlib.image import imread

    image = imread(out / "plots" / "activations.png")
    assert image.shape[1] > 2 * image.shape[0] * 0.9  # two panels side by side
    assert image[..., :3].std() > 0.05
    report = (out / "report.md").read_text()
    assert "| tanh" in report and "g'(0.5)" in report and "(-1, inf)" in report
    assert "](activations-activations.png)" in results.read_text()
    assert not (out / "runs").exists()  # nothing trained
    (out / "report.md").unlink()
    rebuild_report(out)
    assert (out / "report.md").read_text() == report


@pytest.mark.parametrize("points", ["", "1,x", "1,1"])
def test_bad_points_are_one_line(capsys, tmp_path, points):
    code, _, err = study(capsys, "activations", "--out", tmp_path / "s", "--points", points)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "--points" in lines[0], err
