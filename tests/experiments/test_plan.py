"""A study's runs: ``lr_runs`` (one run per learning rate) against hand-made finished runs."""

import argparse

import pytest

from nnzoo.engine.callbacks import Convergence
from nnzoo.experiments import plan
from nnzoo.experiments.options import add_common_arguments, add_training_arguments
from nnzoo.experiments.sections import (
    overlay_section,
    run_folder,
    runs_section,
    trained_by,
    trained_by_section,
)


def finished(task, val):
    """What ``train_task`` returns for a finished run whose validation accuracy is ``val``."""
    history = [{"epoch": 1, "loss": 0.5, "val_accuracy": val, "test_accuracy": val - 0.1}]
    results = {
        "test": {"accuracy": val - 0.05}, "selected_epoch": 1, "stop_reason": "reached 1 epochs",
        "params": 10, "seconds_per_epoch": 0.5,
    }  # fmt: skip
    return {"key": task["key"], "run_dir": task["run_dir"], "results": results,
            "history": history, "resumed": False}  # fmt: skip


@pytest.fixture
def args(tmp_path):
    p = argparse.ArgumentParser()
    add_common_arguments(p, str(tmp_path / "study"))
    add_training_arguments(p, epochs=1)
    return p.parse_args(["--batch-size", "16"])


def test_one_run_per_lr_with_its_own_callbacks_and_the_overlays(args, tmp_path, monkeypatch):
    seen = []

    def run_tasks(tasks, jobs, fn=None):
        seen.extend(tasks)
        return [finished(t, 0.5 + i / 10) for i, t in enumerate(tasks)]

    monkeypatch.setattr(plan, "run_tasks", run_tasks)
    study = tmp_path / "study"
    rows = plan.lr_runs(args, study, [0.1, 0.01], "SGD", lambda: [Convergence()])
    assert [t["run_dir"] for t in seen] == [str(study / "runs" / k) for k in ("lr0.1", "lr0.01")]
    assert [t["config"].train.lr for t in seen] == [0.1, 0.01]
    assert all(t["test_curve"] for t in seen)
    first, second = (t["callbacks"] for t in seen)
    assert len(first) == len(second) == 1 and first[0] is not second[0]
    assert [r["lr"] for r in rows] == [0.1, 0.01]
    assert [r["selected_test"] for r in rows] == pytest.approx([45.0, 55.0])
    assert [r["final_test"] for r in rows] == pytest.approx([40.0, 50.0])
    drawn = sorted(p.name for p in (study / "plots").iterdir())
    assert drawn == ["loss.png", "test_accuracy.png", "val_accuracy.png"]
    _, body = overlay_section(study)
    assert body.split("\n\n") == [
        "![loss](plots/loss.png)", "![val_accuracy](plots/val_accuracy.png)",
        "![test_accuracy](plots/test_accuracy.png)",
    ]  # fmt: skip
    title = plan.lr_title("Sweep", args, "1 epochs")
    assert title == "Sweep: mlp on fashion-mnist, sgd, batch 16, 1 epochs"


def test_a_moved_study_still_links_its_runs(tmp_path):
    rows = [{"run": "/elsewhere/study/runs/lr0.1", "lr": 0.1}]
    assert run_folder(tmp_path, rows[0]["run"]).path == tmp_path / "runs" / "lr0.1"
    _, body = runs_section(tmp_path, rows, lambda r: f"lr {r['lr']:g}")
    assert body == "**lr 0.1** (`runs/lr0.1`)\n\n![lr0.1](runs/lr0.1/plots/curves.png)"


def test_the_commands_that_trained_rows_merge_into_the_tables():
    a = {"command": "nnzoo reproduce x --models a", "machine": "m1"}
    b = {"command": "nnzoo reproduce x --models b", "machine": "m2"}
    runs = [{**b, "date": "2026-02-03"}, {**a, "date": "2026-01-02"}, {**a, "date": "2026-01-05"}]
    rows = [trained_by(runs[:2]), trained_by(runs[2:])]  # two rows, each trained_by its runs
    merged = trained_by(t for row in rows for t in row)
    assert merged == [
        {**a, "first": "2026-01-02", "last": "2026-01-05", "runs": 2},
        {**b, "first": "2026-02-03", "last": "2026-02-03", "runs": 1},
    ]
    assert trained_by_section(merged[:1], {**a, "date": "2026-01-06"}) is None  # one command
    heading, body = trained_by_section(merged, {**a, "date": "2026-01-06"})
    assert heading == "Runs trained by" and body.index("--models a") < body.index("--models b")
    assert "|    2 | 2026-01-02 | 2026-01-05 |" in body and "m2" in body
