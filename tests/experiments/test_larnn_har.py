"""`nnzoo reproduce larnn-har` on a tiny fake UCI HAR: the table's numbers come from the runs."""

import json
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
