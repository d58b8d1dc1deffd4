"""The search journal: a cut last record is repaired (with a backup), a dead lock cleared."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

from nnzoo.errors import ConfigError
from nnzoo.search.journal import LEGACY_GRACE, JournalLock, open_journal

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}


def plain(path):
    """Optuna's own journal storage (its own lock): the reference reader."""
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def fill(path, values=(0.1, 0.5, 0.9)):
    study = optuna.create_study(study_name="s", storage=plain(path))
    for x in values:
        trial = study.ask(fixed_distributions=SPACE)
        study.tell(trial, x * x)
    return study


def trials(storage):
    study = optuna.load_study(study_name="s", storage=storage)
    return [(t.number, t.state, t.params, t.value) for t in study.trials]


def cut(path, keep_fraction=0.5):
    """Cut the last record in the middle, as a kill during the append would; return the file
    as it was before the cut and the lines before that record."""
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]
    last = lines[-1]
    path.write_bytes(data[: len(data) - len(last) - 1 + int(len(last) * keep_fraction)])
    return data, lines[:-1]


def test_a_cut_last_record_is_dropped_with_a_backup_and_one_warning(tmp_path, capsys):
    journal = tmp_path / "search.journal"
    fill(journal)
    _, whole = cut(journal)
    cut_bytes = journal.read_bytes()
    reference = tmp_path / "reference.journal"  # the records before the cut one, by hand
    reference.write_bytes(b"".join(line + b"\n" for line in whole))
    expected = trials(plain(reference))

    storage = open_journal(journal, create=False)
    assert trials(storage) == expected
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnzoo: warning: ")
    assert f"line {len(whole) + 1}" in err and "search.journal.bak" in err
    assert (tmp_path / "search.journal.bak").read_bytes() == cut_bytes  # the original, as it was
    assert journal.read_bytes() == reference.read_bytes()
    # the repaired journal takes new records, and Optuna's own reader reads it back
    study = optuna.load_study(study_name="s", storage=storage)
    study.tell(study.ask(fixed_distributions=SPACE), 0.0)
    assert len(trials(plain(journal))) == len(expected) + 1
    open_journal(journal, create=False)  # whole now: nothing to say, no second backup
    assert capsys.readouterr().err == "" and not (tmp_path / "search.journal.1.bak").exists()


def test_a_record_appended_onto_a_cut_one_is_kept(tmp_path, capsys):
    """What the search did before: the next run appended onto the cut record, and every run
    after it failed with a JSONDecodeError. The records appended are whole: only the cut part
    of that line is dropped."""
    journal = tmp_path / "search.journal"
    fill(journal, values=(0.1, 0.5, 0.9, 0.3))
    lines = journal.read_bytes().split(b"\n")[:-1]
    at = len(lines) - 3  # cut this record; two whole ones were appended after it
    merged = [*lines[:at], lines[at][: len(lines[at]) // 3] + lines[at + 1], *lines[at + 2 :]]
    journal.write_bytes(b"".join(line + b"\n" for line in merged))
    with pytest.raises(json.JSONDecodeError):
        plain(journal)
    reference = tmp_path / "reference.journal"
    reference.write_bytes(b"".join(line + b"\n" for line in [*lines[:at], *lines[at + 1 :]]))
    (tmp_path / "search.journal.bak").write_text("an older backup")
    broken = journal.read_bytes()

    assert trials(open_journal(journal, create=False)) == trials(plain(reference))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cut start of line {at + 1}" in err
    assert (tmp_path / "search.journal.bak").read_text() == "an older backup"  # not overwritten
    assert (tmp_path / "search.journal.1.bak").read_bytes() == broken


def test_a_bad_record_before_the_last_is_one_line_and_the_file_is_left_alone(tmp_path):
    journal = tmp_path / "search.journal"
    fill(journal)
    lines = journal.read_bytes().split(b"\n")
    lines[1] = b"not a record"
    journal.write_bytes(b"\n".join(lines))
    before = journal.read_bytes()
    with pytest.raises(ConfigError, match=r"search.journal: line 2 is not a journal record") as e:
        open_journal(journal, create=False)
    assert "\n" not in str(e.value) and "not a record" not in str(e.value)
    assert journal.read_bytes() == before and not (tmp_path / "search.journal.bak").exists()


def test_a_missing_journal_is_refused_unless_a_search_creates_it(tmp_path):
    with pytest.raises(ConfigError, match="no such journal file"):
        open_journal(tmp_path / "search.journal", create=False)
    assert not (tmp_path / "search.journal").exists()
    open_journal(tmp_path / "new" / "search.journal", create=True)
    assert (tmp_path / "new" / "search.journal").is_file()


def dead_owner_lock(journal):
    """A lock whose owner took it and died without releasing it."""
    code = (
        "import os, sys; from nnzoo.search.journal import JournalLock; "
        "JournalLock(sys.argv[1]).acquire(); os._exit(0)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-c", code, str(journal)], env=env, check=True, timeout=60)
    owner = json.loads(Path(f"{journal}.lock").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(owner["pid"], 0)
    return owner


def test_a_lock_whose_owner_is_gone_is_cleared_at_once_and_quietly(tmp_path, capfd, caplog):
    journal = tmp_path / "search.journal"
    fill(journal)
    dead_owner_lock(journal)
    capfd.readouterr()
    caplog.clear()
    start = time.monotonic()
    study = optuna.load_study(study_name="s", storage=open_journal(journal, create=False))
    study.tell(study.ask(fixed_distributions=SPACE), 0.0)  # an append takes the lock
    assert time.monotonic() - start < 5  # Optuna's own lock waits its 30 s grace period
    assert len(study.trials) == 4 and not Path(f"{journal}.lock").exists()
    assert capfd.readouterr().err == "" and not caplog.records


def test_a_reused_pid_does_not_keep_a_lock(tmp_path):
    journal = tmp_path / "search.journal"
    lock = JournalLock(journal)
    record = {**lock.owner_record(), "start": "0"}  # our pid, another process's start time
    lock.path.write_text(json.dumps(record))
    with lock:
        assert json.loads(lock.path.read_text()) == lock.owner_record()
    assert lock.cleared == 1 and not lock.path.exists()


def test_an_old_ownerless_lock_is_cleared_and_a_fresh_one_waited_for(tmp_path):
    journal = tmp_path / "search.journal"
    journal.touch()
    lock_path = Path(f"{journal}.lock")
    os.symlink(journal, lock_path)  # Optuna's lock: a link, no owner
    lock = JournalLock(journal, wait=0.3)
    with pytest.raises(ConfigError, match=r"search.journal.lock: held by process \?") as e:
        lock.acquire()  # fresh: its writer may be appending
    assert "delete search.journal.lock" in str(e.value) and lock_path.is_symlink()
    old = time.time() - LEGACY_GRACE - 1
    os.utime(lock_path, (old, old), follow_symlinks=False)
    with lock:
        assert not lock_path.is_symlink() and lock_path.is_file()
    assert lock.cleared == 1


def test_a_live_owner_keeps_its_lock(tmp_path):
    journal = tmp_path / "search.journal"
    code = (
        "import sys, time; from nnzoo.search.journal import JournalLock; "
        "JournalLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(journal)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        lock = JournalLock(journal, wait=0.3)
        with pytest.raises(ConfigError, match=f"held by process {holder.pid} "):
            lock.acquire()
        assert lock.cleared == 0
    finally:
        holder.kill()
        holder.wait()
    with JournalLock(journal) as lock:  # reaped: gone
        assert lock.cleared == 1


def test_nnzoo_search_and_report_resume_from_a_cut_journal(tmp_path, capsys):
    from nnzoo.cli import main
    from tests.search.test_run import SPACE as RUN_SPACE
    from tests.search.test_space import search_toml

    cfg, out = tmp_path / "cfg.toml", tmp_path / "out"
    cfg.write_text(search_toml(RUN_SPACE, trials=2, sampler="random", seed=0))
    assert main(["search", str(cfg), "--out", str(out)]) == 0
    journal = out / "search.journal"
    cut(journal)  # trial 1's last record: it reads as still running
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "search.journal.bak" in err
    cut(journal)  # cut again: the next backup goes beside the first
    cfg.write_text(search_toml(RUN_SPACE, trials=3, sampler="random", seed=0))
    assert main(["search", str(cfg), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "search.journal.1.bak" in err
    states = [t.state for t in optuna.load_study(study_name="cfg", storage=plain(journal)).trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
