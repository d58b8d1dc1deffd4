"""``nnzoo study convergence``: the stop rule, the cap, and the table."""

import json

import pytest

from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


def metrics_rows(run):
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_band_wider_than_any_accuracy_move_converges_after_patience_epochs(
    capsys, tmp_path, fashion_root
):
    out = tmp_path / "wide"
    argv = ["--data-root", fashion_root, "--epochs", 5, "--lrs", "0.1", "--patience", 3,
            "--threshold", 1.5, "--out", out]  # fmt: skip
    code, _, err = study(capsys, "convergence", *argv)
    assert code == 0, err
    (row,) = json.loads((out / "study.json").read_text())["rows"]
    # accuracies lie in [0, 1], so every window's max - min is <= 1 < 1.5: the rule fires at
    # the first epoch with a full window of 3, well before the cap of 5
    assert row["converged"] is True and row["epochs"] == 3
    assert row["stop_reason"] == "converged: val_accuracy moved less than 1.5 over 3 epochs"
    run = out / "runs" / "lr0.1"
    assert [r["epoch"] for r in metrics_rows(run)] == [1, 2, 3]
    results = json.loads((run / "results.json").read_text())
    assert results["epochs_run"] == 3 and results["stop_reason"] == row["stop_reason"]
    report = (out / "report.md").read_text()
    assert "moved less than 1.5 (max - min) over the last 3 epochs, or after 5 epochs" in report
    assert "not by" not in report


def test_a_window_longer_than_the_cap_never_fills_so_the_cap_stops_the_run(
    capsys, tmp_path, fashion_root
):
    out = tmp_path / "capped"
    argv = ["--data-root", fashion_root, "--epochs", 4, "--lrs", "0.1", "--patience", 5,
            "--threshold", 1.5, "--out", out]  # fmt: skip
    code, _, err = study(capsys, "convergence", *argv)
    assert code == 0, err
    (row,) = json.loads((out / "study.json").read_text())["rows"]
    # 4 epochs never hold a window of 5, however flat the accuracy (a band of 1.5 always holds)
    assert row["converged"] is False and row["epochs"] == 4
    assert row["stop_reason"] == "reached 4 epochs"
    run = out / "runs" / "lr0.1"
    assert [r["epoch"] for r in metrics_rows(run)] == [1, 2, 3, 4]
    assert json.loads((run / "results.json").read_text())["epochs_run"] == 4
    assert "not by 4" in (out / "report.md").read_text()


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
