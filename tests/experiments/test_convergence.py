"""``nnzoo study convergence``: the stop rule, the cap, and the table."""

import itertools
import json

import pytest

from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_wide_band_converges_and_a_narrow_one_reaches_the_cap(capsys, tmp_path, fashion_root):
    wide, narrow = tmp_path / "wide", tmp_path / "narrow"
    common = ["--data-root", fashion_root, "--epochs", 4, "--lrs", "0.1", "--patience", 2]
    assert study(capsys, "convergence", *common, "--out", wide, "--threshold", 2)[0] == 0
    assert study(capsys, "convergence", *common, "--out", narrow, "--threshold", 1e-9)[0] == 0
    (w,) = json.loads((wide / "study.json").read_text())["rows"]
    (n,) = json.loads((narrow / "study.json").read_text())["rows"]
    # any accuracy stays inside a band of width 2, so the rule fires after `patience` epochs
    assert w["converged"] and w["epochs"] == 2 and w["stop_reason"].startswith("converged")
    # a band of 1e-9 only holds if accuracy is exactly flat; otherwise the cap stops it
    h = [
        json.loads(x)
        for x in (narrow / "runs" / "lr0.1" / "metrics.jsonl").read_text().splitlines()
    ]
    flat = [abs(a["val_accuracy"] - b["val_accuracy"]) < 1e-9 for a, b in itertools.pairwise(h)]
    assert n["converged"] == any(flat) and (n["epochs"] == 4 or any(flat))
    report = (narrow / "report.md").read_text()
    assert "moved less than 1e-09" in report and "over the last 2 epochs" in report
    if not n["converged"]:
        assert "not by 4" in report


@pytest.mark.parametrize(
    "argv, needle",
    [(["--threshold", "0"], "threshold"), (["--patience", "1"], "patience"),
     (["--monitor", "loss"], "--monitor")],
)  # fmt: skip
def test_bad_rules_fail_before_training(capsys, tmp_path, fashion_root, argv, needle):
    code, _, err = study(capsys, "convergence", "--data-root", fashion_root, "--out",
                         tmp_path / "c", *argv)  # fmt: skip
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c" / "runs").exists()
