"""The folder layouts: every name spelled here once more, by hand, as the README documents it."""

from pathlib import Path

import pytest

from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.runs.rundir import Folder, RunDir, SearchDir, StudyDir

CONFIG = RunConfig(model=ModelConfig(cell="gru", hidden=5), train=TrainConfig(epochs=1, seed=4))


def test_a_run_folder_layout(tmp_path):
    run = RunDir(tmp_path / "run")
    p = tmp_path / "run"
    assert run.config == p / "config.toml"
    assert (run.metrics, run.metrics_csv) == (p / "metrics.jsonl", p / "metrics.csv")
    assert (run.results, run.provenance) == (p / "results.json", p / "provenance.json")
    assert run.checkpoint("best") == p / "checkpoints" / "best.pt"
    assert run.checkpoint() == p / "checkpoints" / "last.pt"
    assert (run.curves, run.plot("confusion")) == (
        p / "plots" / "curves.png", p / "plots" / "confusion.png"
    )  # fmt: skip
    assert (run.report, run.tensorboard, run.evaluation) == (
        p / "report.md", p / "tensorboard", p / "evaluation"
    )  # fmt: skip
    assert RunDir.checkpoints.name == "checkpoints"  # the class gives the name itself


def test_study_search_and_comparison_folders(tmp_path):
    study = StudyDir(tmp_path)
    assert (study.record, study.report) == (tmp_path / "study.json", tmp_path / "report.md")
    assert study.run("lr0.1").curves == tmp_path / "runs" / "lr0.1" / "plots" / "curves.png"
    assert (
        isinstance(study.run("x"), RunDir) and study.plot("loss") == tmp_path / "plots" / "loss.png"
    )
    search = SearchDir(tmp_path)
    assert (search.settings, search.focus, search.journal) == (
        tmp_path / "search.json", tmp_path / "focus.json", tmp_path / "search.journal"
    )  # fmt: skip
    assert search.trial(3).metrics == tmp_path / "trials" / "3" / "metrics.jsonl"
    assert Folder(tmp_path).plot("val_loss") == tmp_path / "plots" / "val_loss.png"
    assert repr(study) == f"StudyDir({str(tmp_path)!r})"


def test_links_are_relative_with_slashes(tmp_path):
    study = StudyDir(tmp_path / "s")
    assert study.link(study.run("lr1").curves) == "runs/lr1/plots/curves.png"
    assert study.link(study.plot("val_accuracy")) == "plots/val_accuracy.png"
    run = RunDir(Path("relative") / "run")
    assert run.link(run.checkpoint("best")) == "checkpoints/best.pt"


def test_holds_and_finished_read_config_and_results(tmp_path):
    run = RunDir(tmp_path)
    assert not run.holds(CONFIG) and run.finished(CONFIG) is None and run.read_history() == []
    run.prepare(CONFIG)
    assert run.holds(CONFIG) and not run.holds(CONFIG.replace(model=ModelConfig(hidden=6)))
    assert run.finished(CONFIG) is None  # no results.json yet
    (tmp_path / "results.json").write_text('{"test": {"accuracy": 0.5}}\n')
    assert run.finished(CONFIG) == {"test": {"accuracy": 0.5}}
    (tmp_path / "results.json").write_text("[]\n")
    with pytest.raises(NnzooError, match=r"results.json: expected a JSON object; train the run"):
        run.finished(CONFIG)
    with pytest.raises(ConfigError, match="holds a run with a different config"):
        run.prepare(CONFIG.replace(model=ModelConfig(hidden=6)))


def test_the_history_is_checked_line_by_line(tmp_path):
    run = RunDir(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n\n{"epoch": 2}\n')
    assert run.read_history() == [{"epoch": 1}, {"epoch": 2}]
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2\n')
    with pytest.raises(ConfigError, match=r"metrics.jsonl: line 2 is not valid JSON"):
        run.read_history(ConfigError)
