"""`nnzoo reproduce larnn-har` on a tiny fake UCI HAR: the table's numbers come from the runs."""

import json
import re
import statistics
from pathlib import Path

import pytest

import tests.data.test_uci_har as fake_har
from nnzoo.cli import main
from nnzoo.models.summary import count_parameters
from nnzoo.runs.trained import load_trained

KEYS = {
    "name", "cell", "params", "seeds", "test_accuracy", "test_accuracy_mean",
    "test_accuracy_sd", "final_epoch_test_accuracy_mean", "selected_epochs",
    "seconds_per_epoch",
}  # fmt: skip


@pytest.fixture
def table(tmp_path, monkeypatch, one_thread):
    # 7 training subjects, so that 5 can validate and 2 still train
    monkeypatch.setitem(fake_har.SUBJECTS, "train", [1, 3, 5, 6, 7, 8, 9])
    fake_har.make_har(tmp_path / "data" / "uci-har", xz=True)
    argv = ["reproduce", "larnn-har", "--quick", "--models", "lstm,gru", "--seeds", "2",
            "--epochs", "2", "--jobs", "1", "--data-root", str(tmp_path / "data"), "--out",
            str(tmp_path / "out"), "--runs", str(tmp_path / "runs")]  # fmt: skip
    assert main(argv) == 0
    return json.loads((tmp_path / "out" / "larnn-har.json").read_text()), tmp_path


def test_every_row_has_the_issue_keys_and_the_header_its_provenance(table):
    document, base = table
    assert {"command", "machine", "torch", "date"} <= set(document)
    assert [m["name"] for m in document["models"]] == ["lstm", "gru"]
    for model in document["models"]:
        assert set(model) >= KEYS
        assert model["seeds"] == [0, 1]
    md = (base / "out" / "larnn-har.md").read_text()
    assert "**Quick run**" in md and "full run: test acc." in md and "MISSED" in md
    assert "larnn-har-confusion.png" in md
    assert (base / "out" / "larnn-har-confusion.png").is_file()


def test_numbers_are_those_of_the_run_folders(table):
    document, _ = table
    for model in document["models"]:
        accs = []
        for run_dir in model["runs"]:
            results = json.loads((Path(run_dir) / "results.json").read_text())
            accs.append(100 * results["test"]["accuracy"])
            trained, _, _ = load_trained(run_dir)
            assert model["params"] == count_parameters(trained)
        assert model["test_accuracy"] == pytest.approx(accs)
        assert model["test_accuracy_mean"] == pytest.approx(statistics.fmean(accs))
        assert model["test_accuracy_sd"] == pytest.approx(statistics.stdev(accs))


def test_nnzoo_report_rebuilds_the_table_from_its_record(table, capsys):
    """The recipe's folder (or its record file) is accepted by `nnzoo report`, which writes
    the same report again from larnn-har.json alone."""
    _, base = table
    out = base / "out"
    md = out / "larnn-har.md"
    written = md.read_text()
    md.unlink()
    assert main(["report", str(out)]) == 0
    assert md.read_text() == written
    assert main(["report", str(out / "larnn-har.json")]) == 0
    assert md.read_text() == written
    record = json.loads((out / "larnn-har.json").read_text())
    record["recipe"] = "larnn-har-search"
    (out / "larnn-har.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a record of 'larnn-har-search'" in err
    assert md.read_text() == written  # nothing overwritten


@pytest.fixture
def refit_table(tmp_path, monkeypatch, one_thread):
    monkeypatch.setitem(fake_har.SUBJECTS, "train", [1, 3, 5, 6, 7, 8, 9])
    fake_har.make_har(tmp_path / "data" / "uci-har", xz=True)
    argv = ["reproduce", "larnn-har", "--models", "lstm,cnn1d", "--seeds", "2", "--epochs", "3",
            "--jobs", "1", "--data-root", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
            "--runs", str(tmp_path / "runs")]  # fmt: skip
    assert main(argv) == 0
    return json.loads((tmp_path / "out" / "larnn-har.json").read_text()), tmp_path


def test_refit_retrains_on_all_training_subjects_for_the_picked_epoch_count(refit_table):
    document, base = refit_table
    for model in document["models"]:
        assert len(model["refit_runs"]) == 2
        for run_dir, refit_dir, acc in zip(model["runs"], model["refit_runs"],
                                           model["refit_test_accuracy"]):  # fmt: skip
            picked = json.loads((Path(run_dir) / "results.json").read_text())["selected_epoch"]
            refit = json.loads((Path(refit_dir) / "results.json").read_text())
            assert refit["epochs_run"] == picked
            assert acc == pytest.approx(100 * refit["final_epoch_test"]["accuracy"])
            assert refit["data_info"]["validation"].startswith("subjects [] ")  # all 7 train
            config = (Path(refit_dir) / "config.toml").read_text()
            assert "val_subjects = 0" in config and f"epochs = {picked}" in config
        assert model["refit_test_accuracy_mean"] == pytest.approx(
            statistics.fmean(model["refit_test_accuracy"])
        )
    md = (base / "out" / "larnn-har.md").read_text()
    assert "refit: test acc." in md and "refit protocol" in md


def test_best_model_and_family_targets_are_picked_on_validation(tmp_path):
    """A row that is best on test but not on validation is never the one the targets name."""
    from nnzoo.experiments.larnn_har import picked_on_validation, write_report_from

    def fake_row(name, family, val, test):
        return {
            "name": name, "label": name, "family": family, "params": 1, "seeds": [0, 1],
            "epochs": 2, "val_accuracy_mean": val, "test_accuracy_mean": test,
            "test_accuracy_sd": 0.1, "final_epoch_test_accuracy_mean": test,
            "selected_epochs": [1, 2], "seconds_per_epoch": 1.0, "published": None,
            "published_source": "", "last_seed_confusion": [[1, 0], [0, 1]],
        }  # fmt: skip

    rows = [fake_row("larnn-paper", "larnn", 90.0, 99.0), fake_row("larnn", "larnn", 91.0, 80.0),
            fake_row("gru", None, 89.0, 99.5)]  # fmt: skip
    assert picked_on_validation(rows, "larnn")["name"] == "larnn"
    assert picked_on_validation(rows, None)["name"] == "larnn"
    env = {"command": "c", "machine": "m", "torch": "t", "python": "p", "date": "d"}
    document = {**env, "models": rows, "data": {}, "quick": False, "class_names": ["a", "b"]}
    text = re.sub(" +", " ", write_report_from(tmp_path, document).read_text())
    assert "best LARNN row on validation (larnn) ≥ 93.5% | 80.00 | MISSED" in text
    assert "best model on validation (larnn) ≥ 95.0% | 80.00 | MISSED" in text


def test_every_row_builds_at_its_full_size():
    """The recipe's configs are valid and their sizes what the papers give."""
    from nnzoo.experiments.larnn_har import MODELS, task_config
    from nnzoo.models import create_model

    sizes = {}
    for name in MODELS:
        config = task_config({"name": name, "seed": 0, "stage": "val", "quick": False,
                              "epochs": None})  # fmt: skip
        sizes[name] = count_parameters(create_model(config.model, 9, 6))
        assert config.train.epochs == (300 if name == "lstm-har" else 100)
        assert config.train.lr_step_every == (0 if name == "lstm-har" else 26)
    # LSTM-HAR: Linear 9->32 (320), two LSTM(32) layers (4 * 32 * (32 + 32 + 2) each, torch's two
    # biases), the head 32 -> 6 (198)
    assert sizes["lstm-har"] == sizes["lstm"] == 320 + 2 * 4 * 32 * 66 + 198
    refit = task_config({"name": "larnn-paper", "seed": 3, "stage": "refit", "quick": False,
                         "epochs": 40})  # fmt: skip
    assert refit.data.options["val_subjects"] == 0 and refit.train.epochs == 40
    assert refit.model.option("cell") == "larnn-paper" and refit.train.seed == 3


def test_a_table_trained_a_few_runs_at_a_time_keeps_its_runs_in_the_ledger(
    tmp_path, monkeypatch, one_thread, capsys
):
    """Every finished run is kept in <out>/larnn-har-runs; a later command on a machine that
    lost the run folders takes them from there instead of training them again."""
    import shutil
    import sys

    monkeypatch.setitem(fake_har.SUBJECTS, "train", [1, 3, 5, 6, 7, 8, 9])
    fake_har.make_har(tmp_path / "data" / "uci-har", xz=True)
    out, runs = tmp_path / "out", tmp_path / "runs"

    def reproduce(models, *more):
        argv = ["reproduce", "larnn-har", *(["--models", models] if models else []), "--seeds",
                "2", "--epochs", "2", "--jobs", "1", "--data-root", str(tmp_path / "data"),
                "--out", str(out), "--runs", str(runs), *more]  # fmt: skip
        monkeypatch.setattr(sys, "argv", ["nnzoo", *argv])  # the command the runs record
        code = main(argv)
        return code, capsys.readouterr()

    assert reproduce("lstm", "--device", "auto")[0] == 0  # counts for a cpu table too
    first = json.loads((out / "larnn-har.json").read_text())["models"]
    kept = sorted(p.name for p in (out / "larnn-har-runs").iterdir())
    assert len(kept) == 4 and sum("-refit-" in k for k in kept) == 2  # 2 seeds, 2 refits
    shutil.rmtree(runs)  # another machine: the run folders are gone, the ledger committed

    code, _ = reproduce("gru")
    assert code == 0
    document = json.loads((out / "larnn-har.json").read_text())
    assert [m["name"] for m in document["models"]] == ["lstm", "gru"]
    lstm = document["models"][0]
    for key in ("test_accuracy", "refit_test_accuracy", "val_accuracy", "selected_epochs"):
        assert lstm[key] == first[0][key]
    assert not [p for p in runs.iterdir() if p.name.startswith("lstm")]  # not trained again
    assert all(Path(r).parent == out / "larnn-har-runs" for r in lstm["runs"])  # the entries
    assert len(lstm["trained_by"]) == 1 and lstm["trained_by"][0]["runs"] == 4
    assert "--models lstm" in lstm["trained_by"][0]["command"]
    assert "--models gru" in document["models"][1]["trained_by"][0]["command"]
    assert "`lstm`: 2 of 5 seeds, 2 of 5 refits" in document["incomplete"]
    assert "`larnn-paper`: not trained yet" in document["incomplete"]
    md = (out / "larnn-har.md").read_text()
    assert "## Not complete yet" in md and "## Runs trained by" in md
    assert "--models lstm" in md and "--models gru" in md

    # between sittings: the table from the ledger alone, nothing trained
    shutil.rmtree(runs)
    (out / "larnn-har.json").unlink()
    assert reproduce(None, "--table-only")[0] == 0
    again = json.loads((out / "larnn-har.json").read_text())
    assert not runs.exists() and len(again["models"]) == 2
    numbers = ("test_accuracy", "refit_test_accuracy", "val_accuracy", "selected_epochs", "params")
    for now, before in zip(again["models"], document["models"], strict=True):
        assert {k: now[k] for k in numbers} == {k: before[k] for k in numbers}
        assert all(Path(r).parent == out / "larnn-har-runs" for r in now["runs"])
    code, captured = reproduce("gru", "--table-only")
    assert code == 2 and "drop --models" in captured.err
    code, captured = reproduce(None, "--table-only", "--ledger", str(tmp_path / "empty"))
    assert code == 2 and "holds no finished run" in captured.err

    # a damaged entry: one line, exit 2, the table left as it was
    entry = next((out / "larnn-har-runs").glob("lstm-s0-*.json"))
    entry.write_text('{"config": ')
    written = (out / "larnn-har.json").read_text()
    code, captured = reproduce("gru")
    assert code == 2
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and entry.name in err and "delete it" in err
    assert (out / "larnn-har.json").read_text() == written


def test_a_run_longer_than_a_sitting_is_parked_and_resumed_on_another_machine(
    tmp_path, monkeypatch, one_thread, capsys
):
    """Killed after epoch 2 of 4, parked with --park, its run folder lost: the next command
    resumes it from epoch 2, and it ends as the same run trained without a stop."""
    import shutil

    import nnzoo.runs.train
    from nnzoo.engine.callbacks.base import Callback

    monkeypatch.setitem(fake_har.SUBJECTS, "train", [1, 3, 5, 6, 7, 8, 9])
    fake_har.make_har(tmp_path / "data" / "uci-har", xz=True)

    def reproduce(name, *more):
        argv = ["reproduce", "larnn-har", "--models", "lstm", "--seeds", "1", "--epochs", "4",
                "--no-refit", "--jobs", "1", "--threads", "1", "--data-root",
                str(tmp_path / "data"), "--out", str(tmp_path / name / "out"), "--runs",
                str(tmp_path / name / "runs"), *more]  # fmt: skip
        code = main(argv)
        return code, capsys.readouterr()

    assert reproduce("whole")[0] == 0  # the reference: the same run without a stop
    whole = json.loads((tmp_path / "whole" / "out" / "larnn-har.json").read_text())["models"]

    class Kill(Callback):  # the machine goes away after epoch 2
        def on_epoch_end(self, loop, logs):
            if loop.epoch == 2:
                raise KeyboardInterrupt

    build = nnzoo.runs.train.build_callbacks
    with monkeypatch.context() as patch:
        patch.setattr(nnzoo.runs.train, "build_callbacks",
                      lambda *a, **k: [*build(*a, **k), Kill()])  # fmt: skip
        assert reproduce("parts")[0] == 130
    out, runs = tmp_path / "parts" / "out", tmp_path / "parts" / "runs"
    code, captured = reproduce("parts", "--park")
    assert code == 0 and "epoch 2 parked" in captured.out
    (parked,) = (out / "larnn-har-runs" / "unfinished").iterdir()
    assert (parked / "checkpoints" / "last.pt").is_file() and not (out / "larnn-har.json").exists()
    shutil.rmtree(runs)  # another machine

    code, captured = reproduce("parts")
    assert code == 0 and "resuming from epoch 2" in captured.out
    parts = json.loads((out / "larnn-har.json").read_text())["models"]
    for key in ("val_accuracy", "test_accuracy", "selected_epochs", "final_epoch_test_accuracy"):
        assert parts[0][key] == pytest.approx(whole[0][key])
    (entry,) = (out / "larnn-har-runs").glob("lstm-s0-*.json")
    assert [r["epoch"] for r in json.loads(entry.read_text())["history"]] == [1, 2, 3, 4]
    assert not parked.exists()  # kept in the ledger now: the parked copy is gone
