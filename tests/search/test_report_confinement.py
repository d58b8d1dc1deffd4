"""``nnzoo report SEARCH_DIR`` reads only the search folder: its storage and its trials."""

import json
import os
import shutil

import optuna
import pytest

from nnzoo.cli import main
from nnzoo.search import report as search_report
from tests.search.test_report import SPACE, build, rows, section


def set_storage(folder, storage):
    path = folder / "search.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "storage": storage}))


def refused(folder, capsys, *phrases):
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnzoo: error: ")
    for phrase in phrases:
        assert phrase in err
    assert not (folder / "report.md").exists()
    return err


def test_a_journal_outside_the_folder_is_refused(tmp_path, capsys):
    folder, _ = build(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(folder / "search.journal", elsewhere / "other.journal")
    for storage in (str(elsewhere / "other.journal"), "../elsewhere/other.journal"):
        set_storage(folder, storage)
        err = refused(folder, capsys, "outside", "move it into the folder")
        assert "other.journal" not in err  # what search.json says is not echoed


def test_the_journal_of_a_moved_folder_is_its_own(tmp_path, capsys):
    folder, study = build(tmp_path)
    total = len(study.trials)
    moved = tmp_path / "moved"
    shutil.move(folder, moved)  # search.json still names the old place
    assert main(["report", str(moved)]) == 0, capsys.readouterr().err
    body = section((moved / "report.md").read_text(), "Trials")
    assert {r[0]: int(r[1]) for r in rows(body)}["total"] == total


def sqlite_copy(study, path):
    """The study copied into an SQLite file."""
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    optuna.copy_study(
        from_study_name=study.study_name,
        from_storage=study._storage,
        to_storage=storage,
        to_study_name=study.study_name,
    )
    storage.engine.dispose()


def test_sqlite_inside_is_read_without_a_write_and_outside_or_missing_refused(tmp_path, capsys):
    folder, study = build(tmp_path)
    total = len(study.trials)
    sqlite_copy(study, folder / "study.db")
    (folder / "search.journal").unlink()
    before = (folder / "study.db").read_bytes()
    set_storage(folder, "sqlite:///study.db")  # relative to the search folder
    assert main(["report", str(folder)]) == 0, capsys.readouterr().err
    counts = {r[0]: int(r[1]) for r in rows(section((folder / "report.md").read_text(), "Trials"))}
    assert counts["total"] == total == 7
    assert (folder / "study.db").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("study.db")) == [
        "study.db"
    ]  # no journal files of a write either
    (folder / "report.md").unlink()

    outside = tmp_path / "outside.db"
    shutil.move(folder / "study.db", outside)
    set_storage(folder, f"sqlite:///{outside}")
    refused(folder, capsys, "outside")
    set_storage(folder, "sqlite:///missing.db")
    refused(folder, capsys, "no such SQLite database")
    assert not (folder / "missing.db").exists() and not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://", "oracle://x", "file:///etc"])
def test_a_url_of_another_kind_is_refused(tmp_path, capsys, url):
    folder, _ = build(tmp_path)
    set_storage(folder, url)
    refused(folder, capsys, "storage")


def test_a_postgresql_url_stays_allowed_and_creates_no_tables(tmp_path, capsys, monkeypatch):
    folder, _ = build(tmp_path)
    opened = []

    class NoServer(Exception):
        pass

    def rdb(url, engine_kwargs=None, skip_compatibility_check=False, **kwargs):
        opened.append((url, kwargs.get("skip_table_creation")))
        raise NoServer  # no server here: what matters is that it was asked for, and how

    monkeypatch.setattr(optuna.storages, "RDBStorage", rdb)
    set_storage(folder, "postgresql+psycopg2://me@127.0.0.1:5432/nnzoo")
    err = refused(folder, capsys, "cannot open the search's storage (NoServer)")
    assert opened == [("postgresql+psycopg2://me@127.0.0.1:5432/nnzoo", True)]
    assert "me@127.0.0.1" not in err  # a URL may hold a password: not echoed


def test_a_trial_folder_outside_is_not_read(tmp_path, capsys):
    folder, study = build(tmp_path)
    outside = tmp_path / "worker2" / "trials" / "7"  # a trial another worker's --out holds
    outside.mkdir(parents=True)
    (outside / "metrics.jsonl").write_text('{"epoch": 1, "val_accuracy": 0.123456}\n')
    trial = study.ask(fixed_distributions=SPACE)
    trial.set_user_attr("run_dir", str(outside))
    trial.report(0.5, 1)
    trial.report(0.6, 2)
    study.tell(trial, 0.6)
    linked = tmp_path / "linked"  # trial 3's own folder is a link out of the search folder
    shutil.move(folder / "trials" / "3", linked)
    os.symlink(linked, folder / "trials" / "3")
    records = {r.number: r for r in search_report.collect_trials(folder, study)}
    assert records[7].outside and records[3].outside
    assert records[7].curve_source == records[3].curve_source == "reported"
    assert records[7].curve == [(1.0, 0.5), (2.0, 0.6)]  # not the 0.123456 outside
    reported = sorted(study.trials[3].intermediate_values.items())
    assert records[3].curve == [(float(step), value) for step, value in reported]
    assert not any(r.outside for n, r in records.items() if n not in (3, 7))

    assert main(["report", str(folder)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnzoo: warning: trials 3, 7: run folder")
    assert "Not read: trials 3, 7" in section((folder / "report.md").read_text(), "Trials")


def test_plots_linked_out_of_the_folder_are_refused(tmp_path, capsys):
    folder, _ = build(tmp_path)
    target = tmp_path / "target"
    target.mkdir()
    os.symlink(target, folder / "plots")
    refused(folder, capsys, "a link out of the search folder")
    assert list(target.iterdir()) == []
