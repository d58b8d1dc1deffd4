"""Two ``nnzoo search --worker`` processes share one study in a real PostgreSQL server.

The server comes from the ``postgres_url`` fixture (tests/search/conftest.py). So that neither
worker can finish the whole study before the other has started, the test holds an exclusive lock
on Optuna's ``trials`` table until both workers wait on it, then lets them go at once.
"""

import os
import re
import subprocess
import sys
import time

import optuna  # nnzoo search needs it
import pytest

import nnzoo.search.run  # noqa: F401  (the workers run `nnzoo search`; a broken import fails here)

TRIALS = 6
STUDY = "two-workers"
CONFIG = f"""
[data]
name = "first-symbol"
options = {{ length = 6, train_size = 64, val_size = 16, test_size = 16 }}

[model]
cell = "gru"
hidden = 4
layers = 1

[train]
epochs = 1
batch_size = 32
threads = 1

[search]
name = "{STUDY}"
trials = {TRIALS}
objective = "val_accuracy"
sampler = "random"
seed = 0

[search.space]
"train.lr" = {{ log_uniform = [0.001, 0.01] }}
"model.hidden" = {{ int = [3, 5] }}
"""
TIMEOUT = 240  # seconds for the whole search; it takes a few on an idle machine


def search(*args, wait=True):
    """``python -m nnzoo search ARGS``: its result, or the running process (``wait=False``)."""
    command = [sys.executable, "-m", "nnzoo", "search", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=TIMEOUT)
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "search.toml"
    path.write_text(CONFIG)
    return path


def wait_for_lock_waiters(dsn, workers, count):
    """Return once ``count`` sessions wait on a lock; fail if a worker exits first."""
    import psycopg2

    watcher = psycopg2.connect(dsn)
    watcher.autocommit = True
    deadline = time.monotonic() + TIMEOUT
    try:
        with watcher.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0] >= count:
                    return
                for worker in workers:
                    if worker.poll() is not None:
                        out, err = worker.communicate()
                        pytest.fail(f"a worker exited before the study started:\n{out}{err}")
                time.sleep(0.1)
    finally:
        watcher.close()
    pytest.fail(f"the workers did not reach the study within {TIMEOUT} s")


def test_two_workers_share_one_study(postgres_url, config_file, tmp_path):
    out = tmp_path / "out"
    created = search(config_file, "--storage", postgres_url, "--create", "--out", out)
    assert created.returncode == 0, created.stderr

    import psycopg2  # the postgres_url fixture skips without it

    dsn = postgres_url.replace("postgresql+psycopg2://", "postgresql://")  # libpq's spelling
    gate = psycopg2.connect(dsn)  # holds the trials table until both workers wait
    try:
        with gate.cursor() as cursor:
            cursor.execute("LOCK TABLE trials IN ACCESS EXCLUSIVE MODE")
        workers = [
            search(config_file, "--storage", postgres_url, "--worker", "--out", out, wait=False)
            for _ in range(2)
        ]
        try:
            wait_for_lock_waiters(dsn, workers, 2)
        finally:
            gate.commit()  # both go
        outputs = [worker.communicate(timeout=TIMEOUT) for worker in workers]
    finally:
        gate.close()
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stdout + stderr

    study = optuna.load_study(storage=postgres_url, study_name=STUDY)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.number for t in complete) == list(range(TRIALS)), trials
    # Only a trial drawn past the budget, when both workers drew at the same moment, may be
    # left over: marked FAIL as skipped, before it trained anything.
    others = [t for t in trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(
        t.state == optuna.trial.TrialState.FAIL and "skipped" in t.user_attrs for t in others
    )
    assert len(others) <= 1, others
    folders = sorted((out / "trials").iterdir(), key=lambda p: int(p.name))
    assert [p.name for p in folders] == [str(n) for n in range(TRIALS)]
    assert all((p / "results.json").is_file() for p in folders)
    assert {t.user_attrs["run_dir"] for t in complete} == {str(p) for p in folders}

    # Each trial ran in exactly one worker, and each worker ran at least one.
    ran = [re.findall(r"^trial (\d+): ", stdout, flags=re.M) for stdout, _ in outputs]
    assert ran[0] and ran[1], outputs
    assert sorted(int(n) for n in ran[0] + ran[1]) == list(range(TRIALS)), ran


@pytest.mark.parametrize(
    ("mode", "url"),
    [
        ("--create", "postgresql://nobody@127.0.0.1:1/none"),
        ("--worker", "postgresql://nobody@127.0.0.1:1/none"),
        ("--worker", "postgresql+psycopg2://nobody@127.0.0.1:1/none"),
    ],
)
def test_an_unreachable_storage_is_one_line_and_exit_2(config_file, tmp_path, mode, url):
    out = tmp_path / "out"
    result = search(config_file, "--storage", url, mode, "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "trials").exists()
