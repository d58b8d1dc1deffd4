"""``nnzoo study lr-sweep`` end to end on a tiny Fashion-MNIST, checked against its run folders."""

import json
import statistics

import pytest

from nnzoo.experiments import rebuild_report
from tests.experiments.conftest import study

pytestmark = pytest.mark.usefixtures("one_thread")


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_table_matches_the_run_folders_and_a_repeat_trains_nothing(capsys, tmp_path, fashion_root):
    out = tmp_path / "sweep"
    argv = ["lr-sweep", "--data-root", fashion_root, "--out", out, "--epochs", 2,
            "--lrs", "0.1,0.01", "--batch-size", 16]  # fmt: skip
    code, stdout, _ = study(capsys, *argv)
    assert code == 0, stdout
    record = json.loads((out / "study.json").read_text())
    assert [r["lr"] for r in record["rows"]] == [0.1, 0.01]
    for row in record["rows"]:
        run = out / "runs" / f"lr{row['lr']:g}"
        h = history(run)
        results = json.loads((run / "results.json").read_text())
        assert len(h) == 2 and row["epochs"] == 2
        # the course columns come from the per-epoch test curve ...
        assert row["mean_test"] == pytest.approx(
            statistics.fmean(100 * e["test_accuracy"] for e in h)
        )
        # ... whose last point is the final model's test accuracy, evaluated separately at the end
        assert row["final_test"] == pytest.approx(100 * results["final_epoch_test"]["accuracy"])
        assert row["selected_test"] == pytest.approx(100 * results["test"]["accuracy"])
        config = (run / "config.toml").read_text()
        assert f"lr = {row['lr']}" in config and 'optimizer = "sgd"' in config
        assert (run / "plots" / "curves.png").stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| 0.1 |" in report.replace(" ", "").replace("|0.1|", "| 0.1 |")
    assert "mean over 2 epochs" in report and "picked on validation" in report
    assert f"nnzoo study lr-sweep --data-root {fashion_root}" in report
    for key in ("loss", "val_accuracy", "test_accuracy"):
        assert (out / "plots" / f"{key}.png").stat().st_size > 0
    assert (out / "report.html").exists()

    stamp = (out / "runs" / "lr0.1" / "checkpoints" / "last.pt").stat().st_mtime_ns
    code, stdout, _ = study(capsys, *argv)
    assert code == 0
    assert "s/epoch" not in stdout  # nothing was trained again
    assert (out / "runs" / "lr0.1" / "checkpoints" / "last.pt").stat().st_mtime_ns == stamp
    assert json.loads((out / "study.json").read_text())["rows"] == record["rows"]
    # the report says when its runs were trained and for how long (each run's own provenance)
    seconds = sum(
        json.loads((out / "runs" / f"lr{lr:g}" / "provenance.json").read_text())["training_seconds"]
        for lr in (0.1, 0.01)
    )
    assert "2 run(s), " in (out / "report.md").read_text()
    assert f"{seconds:.0f} s of training in all" in (out / "report.md").read_text()

    report = (out / "report.md").read_text()
    (out / "report.md").unlink()
    rebuild_report(out)
    assert (out / "report.md").read_text() == report


def test_results_copy_has_its_own_plots_and_json(capsys, tmp_path, fashion_root):
    out, results = tmp_path / "sweep", tmp_path / "results" / "fashion-lr-sweep.md"
    code, _, _ = study(capsys, "lr-sweep", "--data-root", fashion_root, "--out", out,
                       "--epochs", 1, "--lrs", "0.1", "--results", results)  # fmt: skip
    assert code == 0
    text = results.read_text()
    assert "](fashion-lr-sweep-loss.png)" in text
    assert "](fashion-lr-sweep-lr0.1-curves.png)" in text
    assert (results.parent / "fashion-lr-sweep-lr0.1-curves.png").read_bytes() == (
        out / "runs" / "lr0.1" / "plots" / "curves.png"
    ).read_bytes()
    assert json.loads(results.with_suffix(".json").read_text())["rows"][0]["lr"] == 0.1


def test_parallel_jobs_give_the_same_numbers(capsys, tmp_path, fashion_root):
    rows = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        code, _, err = study(capsys, "lr-sweep", "--data-root", fashion_root, "--out", out,
                             "--epochs", 1, "--lrs", "0.1,0.01", "--jobs", jobs,
                             "--threads", 1)  # fmt: skip
        assert code == 0, err
        rows.append(
            [r["selected_test"] for r in json.loads((out / "study.json").read_text())["rows"]]
        )
    assert rows[0] == rows[1]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--lrs", "0.1,abc"], "--lrs"),
        (["--lrs", "0.1,-1"], "--lrs"),
        (["--lrs", ""], "--lrs"),
        (["--jobs", "-1"], "--jobs"),
        (["--model", "nope"], "nope"),
        (["--optimizer", "nope"], "train.optimizer"),
        (["--set", "train.bogus=1"], "bogus"),
        (["--epochs", "x"], "--epochs"),
    ],
)
def test_bad_options_are_one_line_before_any_training(capsys, tmp_path, fashion_root, argv, needle):
    out = tmp_path / "s"
    code, _, err = study(capsys, "lr-sweep", "--data-root", fashion_root, "--out", out, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnzoo: error:") and needle in lines[0], err
    assert not (out / "runs").exists()


def test_unknown_study_is_named(capsys):
    code, _, err = study(capsys, "no-such-study")
    assert code == 2 and "no-such-study" in err and "lr-sweep" in err
