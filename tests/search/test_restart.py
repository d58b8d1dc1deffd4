"""A restarted search draws new points; TPE's start-up trials stay under the budget."""

import json
import re
import shutil
import sqlite3
import threading
import time

import optuna
import pytest
from optuna.trial import TrialState

import nnzoo.runs.train
from nnzoo.cli import main
from nnzoo.errors import NnzooError
from nnzoo.search.run import open_storage, sampler_seed
from tests.search.test_run import SPACE, journal_study
from tests.search.test_space import search_toml


def finished(out):
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return [t for t in journal_study(out).trials if t.state in states]


def search(tmp_path, out, capsys, trials, sampler="random", code=0):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(SPACE, trials=trials, sampler=sampler, seed=0))
    assert main(["search", str(cfg), "--out", str(out)]) == code, capsys.readouterr().err


def first_points(n, sampler):
    """What a fresh search with seed 0 draws first: Optuna's sampler on its own study."""
    if sampler == "random":
        reference = optuna.samplers.RandomSampler(seed=0)
    else:  # TPE draws its start-up trials with a RandomSampler of its seed
        reference = optuna.samplers.TPESampler(seed=0, n_startup_trials=n)
    study = optuna.create_study(sampler=reference, direction="maximize")
    space = {
        "train.lr": optuna.distributions.FloatDistribution(0.001, 0.1, log=True),
        "model.dropout": optuna.distributions.FloatDistribution(0.0, 0.5),
    }
    points = []
    for _ in range(n):
        trial = study.ask(space)
        points.append(trial.params)
        study.tell(trial, 0.0)
    return points


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_search_stopped_after_k_trials_and_restarted_draws_new_points(tmp_path, capsys, sampler):
    out = tmp_path / "out"
    search(tmp_path, out, capsys, trials=3, sampler=sampler)  # stopped after 3 ...
    first = [t.params for t in finished(out)]
    seeded = 3 if sampler == "random" else 1  # TPE: its one start-up trial, drawn at random
    assert first[:seeded] == first_points(seeded, sampler)  # a fresh search: the search's seed
    search(tmp_path, out, capsys, trials=6, sampler=sampler)  # ... and restarted for 6
    params = [t.params for t in finished(out)]
    assert params[:3] == first and len(params) == 6
    assert len({tuple(sorted(p.items())) for p in params}) == 6  # all distinct
    assert json.loads((out / "search.json").read_text())["sampler_seed"] == sampler_seed(0, 3)


def test_a_finished_search_run_again_changes_neither_journal_nor_seed(tmp_path, capsys):
    out = tmp_path / "out"
    search(tmp_path, out, capsys, trials=2)
    search(tmp_path, out, capsys, trials=4)  # a restart that draws the last two
    journal, settings = out / "search.journal", out / "search.json"
    before = journal.read_bytes()
    search(tmp_path, out, capsys, trials=4)  # the budget is used up: nothing to draw
    assert journal.read_bytes() == before  # no refused create, no trial
    assert json.loads(settings.read_text())["sampler_seed"] == sampler_seed(0, 2)


class Interrupt:
    """train_run, with a Ctrl-C during its ``at``-th call."""

    def __init__(self, at):
        self.at, self.calls, self.train_run = at, 0, nnzoo.runs.train.train_run

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.train_run(*args, **kwargs)


def test_an_interrupted_search_resumes_with_new_points_reproducibly(tmp_path, capsys, monkeypatch):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        with monkeypatch.context() as patch:
            patch.setattr(nnzoo.runs.train, "train_run", Interrupt(at=3))
            search(tmp_path, out, capsys, trials=5, code=130)
        assert len(finished(out)) == 2
        search(tmp_path, out, capsys, trials=5)
        study = journal_study(out)
        done = finished(out)
        assert len(done) == 5
        assert len({tuple(sorted(t.params.items())) for t in done}) == 5
        (stopped,) = [t for t in study.trials if t.state == TrialState.FAIL]
        (retry,) = [t for t in done if t.user_attrs.get("retry_of") == stopped.number]
        assert retry.params == stopped.params  # the interrupted point runs again, once
        runs.append([t.params for t in done])
    assert runs[0] == runs[1]  # a restart is seeded: the same stop, the same points


def test_a_search_goes_on_elsewhere_from_its_journal_alone(tmp_path, capsys):
    """Another machine: only the study folder came along (no trial run folders), the trials
    train with other threads in another scratch folder, and the budget grows."""
    from nnzoo.config import read_toml
    from nnzoo.search.run import run_search

    out, cfg = tmp_path / "study", tmp_path / "cfg.toml"

    def start(trials, threads, scratch):
        cfg.write_text(search_toml(SPACE, trials=trials, sampler="tpe", seed=0))
        run_search(read_toml(cfg), out=out, trials_dir=tmp_path / scratch,
                   overrides=[f"train.threads={threads}"])  # fmt: skip

    start(2, 1, "here")
    first = [(t.number, t.params, t.value) for t in finished(out)]
    assert not (out / "trials").exists() and len(list((tmp_path / "here").iterdir())) == 2
    for t in journal_study(out).trials:  # what the results need without the run folder
        results = json.loads((tmp_path / "here" / str(t.number) / "results.json").read_text())
        assert t.user_attrs["selected_epoch"] == results["selected_epoch"]
        assert t.user_attrs["test_accuracy"] == results["test"]["accuracy"]
        metrics = (tmp_path / "here" / str(t.number) / "metrics.jsonl").read_text().splitlines()
        curve = {r["epoch"]: r["val_accuracy"] for r in map(json.loads, metrics)}
        assert t.intermediate_values == pytest.approx(curve)  # reported with no pruner too
    # a study saved by an older nnzoo kept the threads in its signature: it resumes too
    study = journal_study(out)
    saved = study.user_attrs["nnzoo_search"]
    saved["config"]["train"]["threads"] = 1
    study.set_user_attr("nnzoo_search", saved)
    shutil.rmtree(tmp_path / "here")  # the first machine's run folders are gone
    start(3, 2, "there")
    done = finished(out)
    assert [(t.number, t.params, t.value) for t in done[:2]] == first  # not trained again
    assert len(done) == 3 and (tmp_path / "there" / str(done[2].number)).is_dir()
    assert main(["report", str(out)]) == 0, capsys.readouterr().err  # reported values suffice
    # a different experiment (not only its execution) is still refused
    cfg.write_text(search_toml(SPACE, trials=3, sampler="tpe", seed=0))
    with pytest.raises(NnzooError, match="different search config"):
        run_search(read_toml(cfg), out=out, overrides=["train.epochs=3"])


@pytest.mark.parametrize("trials, startup", [(4, 2), (1, 1)])
def test_the_report_calls_it_tpe_with_fewer_start_up_trials_than_the_budget(
    tmp_path, capsys, trials, startup
):
    out = tmp_path / "out"
    search(tmp_path, out, capsys, trials=trials, sampler="tpe")
    recorded = json.loads((out / "search.json").read_text())
    assert recorded["sampler"] == "tpe" and recorded["n_startup_trials"] == startup
    assert main(["report", str(out)]) == 0, capsys.readouterr().err
    text = (out / "report.md").read_text()
    row = re.search(r"^\| random start-up trials \(TPE\) \| (.*?) *\|$", text, re.M)
    assert row and row.group(1).startswith(str(startup))
    if startup < trials:
        assert "drawn at random" not in row.group(1)
    else:  # one trial: TPE never ran, and the report says so
        assert "every trial was drawn at random" in row.group(1)


def test_an_sqlite_worker_waits_for_a_long_write_of_another(tmp_path):
    """SQLite's default 5 s wait failed a worker whose partner held a write longer."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url, tmp_path))
    holder = sqlite3.connect(tmp_path / "study.db", check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Timer(5.5, holder.commit)
    released.start()
    start = time.monotonic()
    try:
        study.enqueue_trial({"x": 1.0})  # a write: waits for the holder
    finally:
        released.join()
        holder.close()
    assert time.monotonic() - start >= 5.0
    assert [t.state for t in study.trials] == [TrialState.WAITING]
