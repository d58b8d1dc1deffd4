"""Searches end to end on tiny synthetic data: samplers, pruning, SIGKILL resume, two workers."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nnzoo.cli import main
from nnzoo.search.pruning import TrialPruning
from nnzoo.search.run import make_sampler
from nnzoo.search.space import parse_search
from tests.search.test_space import search_toml

ROOT = Path(__file__).resolve().parents[2]
GRID = ['"model.hidden" = { int = [3, 4] }', '"model.residual" = { categorical = [true, false] }']
SPACE = ['"train.lr" = { log_uniform = [0.001, 0.1] }', '"model.dropout" = { uniform = [0, 0.5] }']


def journal_study(out):
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "search.journal")))
    (name,) = optuna.study.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def params_of(out, capsys, argv):
    assert main(argv) == 0, capsys.readouterr().err
    return [t.params for t in journal_study(Path(argv[argv.index("--out") + 1])).trials]


@pytest.mark.parametrize("sampler", ["grid", "random"])
def test_grid_and_random_are_deterministic_with_a_seed(tmp_path, capsys, sampler):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(GRID if sampler == "grid" else SPACE, sampler=sampler, seed=3))
    runs = [params_of(tmp_path, capsys, ["search", str(cfg), "--out", str(tmp_path / o)])
            for o in ("a", "b")]  # fmt: skip
    assert runs[0] == runs[1] and len(runs[0]) == 2
    out = capsys.readouterr().out
    assert "trial 0: val_accuracy" in out and "best: trial" in out
    summary = json.loads((tmp_path / "a" / "search.json").read_text())
    assert summary["sampler"] == sampler and summary["best"]["number"] in (0, 1)
    trial = journal_study(tmp_path / "a").trials[0]
    assert (Path(trial.user_attrs["run_dir"]) / "results.json").exists()
    assert 0 <= trial.user_attrs["test_accuracy"] <= 1
    if sampler == "grid":  # a grid of 4 points: 2 distinct ones
        assert len({tuple(p.items()) for p in runs[0]}) == 2


def test_hyperopt_compatible_sampler_uses_hyperopt_parameters():
    search = parse_search(
        {"sampler": "hyperopt-compatible", "trials": 40, "space": {"a.b": {"fixed": 1}}}
    )
    sampler = make_sampler(search, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = optuna.samplers.TPESampler.hyperopt_parameters()
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._n_startup_trials == expected["n_startup_trials"] == 20
    assert sampler._n_ei_candidates == expected["n_ei_candidates"]
    assert sampler._gamma is expected["gamma"]
    assert sampler._parzen_estimator_parameters.consider_endpoints is False
    assert not sampler._multivariate and not sampler._constant_liar


class StubTrial:
    """Prunes once a reported value is below ``floor``."""

    def __init__(self, floor):
        self.floor, self.reports = floor, []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.reports[-1][1] < self.floor


def test_pruning_stops_a_hopeless_trial_after_its_epoch(tmp_path):
    from nnzoo.config import config_from_toml
    from nnzoo.runs.train import train_run

    config = config_from_toml(
        search_toml([]).split("[search]")[0].replace("epochs = 1", "epochs = 5")
    )
    stub = StubTrial(floor=2.0)  # accuracy is never >= 2: pruned after epoch 1
    pruning = TrialPruning(stub, "val_accuracy")
    results = train_run(config, tmp_path / "run", progress=False, extra_callbacks=[pruning])
    assert pruning.pruned_at == 1 and results["epochs_run"] == 1 and len(stub.reports) == 1
    assert "pruned" in results["stop_reason"]
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    keep = TrialPruning(StubTrial(floor=-1.0), "val_accuracy")
    results = train_run(config, tmp_path / "run2", progress=False, extra_callbacks=[keep])
    assert keep.pruned_at is None and results["epochs_run"] == 5


def test_median_pruner_prunes_a_hopeless_trial_and_its_run_stops_early(tmp_path, capsys):
    # two classes, T = 2: lr 0.05 learns within an epoch, lr 1e-6 cannot move the val loss
    options = "length = 2, symbols = 2, train_size = 128, val_size = 32, test_size = 16"
    space = ['"train.lr" = { categorical = [0.05, 0.000001] }']
    text = search_toml(space, trials=2, sampler="grid", pruner="median", seed=1,
                       objective="val_loss")  # fmt: skip
    text = text.replace("length = 4, train_size = 32, val_size = 16, test_size = 16", options)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text.replace("epochs = 1", "epochs = 4"))
    assert main(["search", str(cfg), "--out", str(tmp_path / "o")]) == 0, capsys.readouterr().err
    good, bad = journal_study(tmp_path / "o").trials
    assert good.params == {"train.lr": 0.05}, "grid seed 1 no longer runs lr 0.05 first"
    assert good.state == TrialState.COMPLETE and bad.params == {"train.lr": 1e-6}
    # MedianPruner (1 startup trial, no warm-up) over one complete trial: prune at the first
    # epoch e where the bad trial's best val loss so far is above the good trial's at e
    curve = {e: good.intermediate_values[e] for e in range(1, 5)}
    assert [row["val_loss"] for row in rows(good)] == list(curve.values())  # all 4 epochs
    bad_rows = rows(bad)
    bad_loss = [row["val_loss"] for row in bad_rows]
    expected = next(e for e in range(1, 5) if min(bad_loss[:e]) > curve[e])
    assert bad.state == TrialState.PRUNED and expected < 4
    assert len(bad_rows) == expected and bad.intermediate_values == dict(enumerate(bad_loss, 1))
    results = json.loads((Path(bad.user_attrs["run_dir"]) / "results.json").read_text())
    assert results["epochs_run"] == expected
    assert results["stop_reason"].startswith(f"pruned by the search at epoch {expected}")
    assert f"trial 1: pruned at epoch {expected}" in capsys.readouterr().out


def rows(trial):
    path = Path(trial.user_attrs["run_dir"]) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return [sys.executable, "-m", "nnzoo", "search", *args], env


def test_sigkill_resume_keeps_finished_trials(tmp_path):
    cfg, out = tmp_path / "cfg.toml", tmp_path / "out"
    cfg.write_text(search_toml(SPACE, trials=4, sampler="random", seed=0).replace(
        "epochs = 1", "epochs = 3"))  # fmt: skip
    argv, env = cli(str(cfg), "--out", str(out))
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "trials" / "1").exists():
        time.sleep(0.05)  # trial 1 starts once trial 0's value is in the journal
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {
        t.number: t.value for t in journal_study(out).trials if t.state == TrialState.COMPLETE
    }
    assert before, "trial 0 had not finished before the kill"
    stamps = {n: (out / "trials" / str(n) / "results.json").stat().st_mtime_ns for n in before}

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    study = journal_study(out)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4
    assert {t.number: t.value for t in finished if t.number in before} == before
    for n, stamp in stamps.items():
        assert (out / "trials" / str(n) / "results.json").stat().st_mtime_ns == stamp
    for t in study.trials:
        if t.state == TrialState.FAIL:  # left running by the kill: its params ran again
            assert t.user_attrs.get("interrupted")
            assert any(u.user_attrs.get("retry_of") == t.number for u in finished)
    assert json.loads((out / "search.json").read_text())["states"]["complete"] == 4


@pytest.mark.parametrize("sampler, default", [("tpe", 10), ("hyperopt-compatible", 20)])
def test_tpe_starts_up_at_random_for_fewer_trials_than_the_budget(sampler, default):
    space = {"train.lr": {"log_uniform": [0.001, 0.1]}}
    for trials, expected in [(2, 1), (5, 2), (6, 3), (30, min(15, default)), (100, default)]:
        search = parse_search({"sampler": sampler, "trials": trials, "space": space})
        startup = make_sampler(search, 0)._n_startup_trials
        assert startup == expected and startup < trials


def test_two_sqlite_workers_share_one_study(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(SPACE, trials=5, sampler="random", seed=0))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    argv, env = cli(str(cfg), "--storage", url, "--create")
    created = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already exists" in again.stderr
    workers = []
    for name in ("w1", "w2"):
        argv, env = cli(str(cfg), "--storage", url, "--worker", "--out", str(tmp_path / name))
        workers.append(
            subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    # a loaded machine can keep one worker's SQLite write waiting for seconds: the workers wait
    # up to run.SQLITE_TIMEOUT for it (SQLite's 5 s default failed them), and so does the test
    done = [w.communicate(timeout=600) for w in workers]
    outs = [out for out, _ in done]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in done]
    study = optuna.load_study(study_name="cfg", storage=url)
    finished = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers)) and len(finished) == 5
    ran = sum(o.count("trial ") - o.count("best: trial") for o in outs)
    assert ran == 5
    for t in finished:
        assert (Path(t.user_attrs["run_dir"]) / "results.json").exists()


def test_a_bare_postgresql_url_names_an_installed_driver():
    import importlib.util

    from nnzoo.search.run import database_url

    url = database_url("postgresql://me@127.0.0.1:5432/db")
    dialect = url.split("://")[0].split("+")[1]
    assert url.endswith("://me@127.0.0.1:5432/db") and importlib.util.find_spec(dialect)
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert database_url("postgresql+psycopg2://a@b/c") == "postgresql+psycopg2://a@b/c"


def test_trials_train_under_torchrun_with_processes(tmp_path, capsys):
    """[search] processes = 2: each trial is a DDP run of its own, and its value is the one
    its rank 0 wrote."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(SPACE, sampler="random", processes=2, seed=1))
    assert main(["search", str(cfg), "--out", str(tmp_path / "s")]) == 0, capsys.readouterr().err
    study = journal_study(tmp_path / "s")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    for trial in study.trials:
        run = Path(trial.user_attrs["run_dir"])
        results = json.loads((run / "results.json").read_text())
        assert trial.value == pytest.approx(results["selected_val"]["val_accuracy"])
        assert len((run / "metrics.jsonl").read_text().splitlines()) == 1  # written once
        config = (run.parent / f"{run.name}.toml").read_text()
        assert f"lr = {trial.params['train.lr']!r}" in config
    assert json.loads((tmp_path / "s" / "search.json").read_text())["processes"] == 2


def test_processes_with_a_pruner_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(SPACE, processes=2, pruner="median"))
    assert main(["search", str(cfg), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot be pruned" in err
