"""nnzoo report: a run's report rebuilt from its folder, runs compared, one-line errors."""

import json
import re
import shutil

import pytest

from nnzoo.errors import NnzooError
from nnzoo.report.rebuild import default_compare_dir, read_run
from nnzoo.runs.rundir import RunDir
from tests.report.conftest import snapshot
from tests.test_cli import one_line_error, run


def images(page):
    return re.findall(r'<img alt="[^"]*" src="data:image/png;base64,[^"]+"', page)


def test_rebuild_gives_the_report_that_training_wrote(run_copies, capsys):
    folder = run_copies["lstm"]
    before = {n: (folder / n).read_text() for n in ("report.md", "report.html")}
    for name in ("report.md", "report.html"):
        (folder / name).unlink()
    shutil.rmtree(folder / "plots")
    code, out, _ = run(capsys, "report", folder)
    assert code == 0
    assert out.strip() == f"wrote {folder / 'report.md'} and {folder / 'report.html'}"
    # the same command, seed, machine, date and duration: read back from the folder
    assert (folder / "report.md").read_text() == before["report.md"]
    assert len(images((folder / "report.html").read_text())) == 2
    assert (folder / "plots" / "curves.png").is_file()


def test_a_folder_without_provenance_says_so(run_copies, capsys):
    folder = run_copies["gru"]
    (folder / "provenance.json").unlink()
    assert run(capsys, "report", folder)[0] == 0
    text = (folder / "report.md").read_text()
    assert "not recorded (the run folder has no provenance.json)" in text
    assert "report rebuilt with" in text
    assert not (folder / "provenance.json").exists()


def test_compare_puts_one_column_per_run(run_copies, capsys, tmp_path):
    lstm, gru = run_copies["lstm"], run_copies["gru"]
    code, out, _ = run(capsys, "report", lstm, gru, "--out", tmp_path / "cmp")
    assert code == 0
    assert out.strip() == f"wrote {tmp_path / 'cmp/report.md'} and {tmp_path / 'cmp/report.html'}"
    text = (tmp_path / "cmp" / "report.md").read_text()
    lines = text.split("## Runs\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["", "lstm", "gru"]
    rows = {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}  # fmt: skip
    a, b = (json.loads((f / "results.json").read_text()) for f in (lstm, gru))
    assert rows["data"] == ["synthetic", "synthetic"]
    assert rows["model"] == ["lstm", "gru"]
    assert rows["train.lr"] == ["0.02", "0.01"]  # non-default values, one row each
    assert rows["model.options.hidden"] == ["4", "4"] and "train.optimizer" not in rows
    assert rows["test accuracy (selected epoch)"] == [
        f"{a['test']['accuracy']:.4f}", f"{b['test']['accuracy']:.4f}"
    ]  # fmt: skip
    assert rows["selected epoch"] == [str(a["selected_epoch"]), str(b["selected_epoch"])]
    assert rows["test accuracy (final epoch)"] == [
        f"{a['final_epoch_test']['accuracy']:.4f}", f"{b['final_epoch_test']['accuracy']:.4f}"
    ]  # fmt: skip
    assert rows["parameters"] == [f"{a['params']:,}", f"{b['params']:,}"]
    assert rows["seconds per epoch"] == [
        f"{a['seconds_per_epoch']:.4f}", f"{b['seconds_per_epoch']:.4f}"
    ]  # fmt: skip
    assert "![validation accuracy](plots/val_accuracy.png)" in text
    assert "![validation loss](plots/val_loss.png)" in text
    assert len(images((tmp_path / "cmp" / "report.html").read_text())) == 2


def test_compare_goes_to_one_folder_per_set_of_runs(run_copies, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lstm, gru = run_copies["lstm"], run_copies["gru"]
    assert run(capsys, "report", gru, lstm)[0] == 0
    (made,) = (tmp_path / "runs").glob("compare-*")
    assert made.name == default_compare_dir([lstm, gru]).name
    assert re.fullmatch(r"compare-[0-9a-f]{8}", made.name)
    relative = [p.relative_to(tmp_path) for p in (lstm, gru)]
    assert default_compare_dir(relative) == default_compare_dir([gru, lstm])  # resolved, sorted
    assert (made / "report.md").is_file() and (made / "report.html").is_file()


def test_read_run_reads_what_training_wrote(trained_runs):
    folder = trained_runs["lstm"]
    run = read_run(folder)
    assert run.config.model.label == "lstm" and [r["epoch"] for r in run.history] == [1, 2, 3]
    assert run.results == json.loads((folder / "results.json").read_text())
    assert run.env["command"]


def break_results(folder):
    (folder / "results.json").write_text('{"test": {"accuracy": 0.5},')


def drop_key(folder):
    results = json.loads((folder / "results.json").read_text())
    del results["selected_epoch"]
    (folder / "results.json").write_text(json.dumps(results))


def break_metrics(folder):
    with (folder / "metrics.jsonl").open("a") as f:
        f.write("{not json\n")


@pytest.mark.parametrize(
    "damage, needle",
    [
        (lambda f: (f / "results.json").unlink(), "not a run folder (no results.json); train it "
                                                   "first with nnzoo train"),
        (lambda f: (f / "config.toml").unlink(), "not a run folder (no config.toml)"),
        (break_results, "results.json: not valid JSON"),
        (drop_key, "results.json: no 'selected_epoch' entry"),
        (break_metrics, "metrics.jsonl: line 4 is not valid JSON"),
        (lambda f: (f / "metrics.jsonl").write_text(""), "metrics.jsonl: no epochs logged"),
        (lambda f: (f / "metrics.jsonl").unlink(), "no metrics.jsonl"),
        (lambda f: (f / "config.toml").write_text("[model\n"), "config.toml: not valid TOML"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("compare", [False, True])
def test_a_bad_run_folder_is_one_line_and_nothing_is_written(
    run_copies, capsys, tmp_path, damage, needle, compare
):
    lstm, gru = run_copies["lstm"], run_copies["gru"]
    damage(gru)
    before = snapshot(tmp_path)
    argv = ["report", lstm, gru, "--out", tmp_path / "cmp"] if compare else ["report", gru]
    line = one_line_error(*run(capsys, *argv)[::2])
    assert str(gru) in line and needle in line
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "cmp").exists()


def test_the_history_config_and_results_are_read_through_rundir(run_copies, monkeypatch):
    """One reader of each file: the report asks RunDir, and only RunDir."""
    calls = []
    for method in ("read_history", "read_config", "read_results"):
        original = getattr(RunDir, method)

        def spy(self, *args, _name=method, _original=original, **kwargs):
            calls.append((_name, self.path))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(RunDir, method, spy)
    folder = run_copies["lstm"]
    run = read_run(folder)
    assert sorted(calls) == [(m, folder) for m in ("read_config", "read_history", "read_results")]
    assert run.history == [
        json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()
    ]


def test_a_malformed_history_line_is_the_error_of_rundir(run_copies, capsys):
    folder = run_copies["gru"]
    break_metrics(folder)
    with pytest.raises(NnzooError) as info:
        RunDir(folder).read_history()
    line = one_line_error(*run(capsys, "report", folder)[::2])
    assert line.endswith(str(info.value))
    assert f"{folder / 'metrics.jsonl'}: line 4 is not valid JSON" in line


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["{tmp}/absent"], "absent: no such folder"),
        (["{tmp}/runs/lstm/config.toml"], "config.toml: not a folder"),
        (["{tmp}/runs"], "runs: not a run folder (no config.toml or results.json)"),
        (["{tmp}/runs/lstm", "--out", "{tmp}/x"], "--out: only for comparing several runs"),
        (["{tmp}/runs/lstm", "{tmp}/runs/../runs/lstm"], "given twice"),
        (["{tmp}/runs/lstm", "{tmp}/runs/gru", "--out", "{tmp}/runs/gru"], "a run or study"),
        (["{tmp}/runs/lstm", "{tmp}/absent"], "absent: no such folder"),
        ([], "the following arguments are required: RUN_DIR"),
    ],
)
def test_bad_arguments_are_one_line_and_nothing_is_written(
    run_copies, capsys, tmp_path, argv, needle
):
    before = snapshot(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    line = one_line_error(*run(capsys, "report", *argv)[::2])
    assert needle in line
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "x").exists()


def test_a_study_folder_is_rebuilt_by_the_studies(tmp_path, capsys, monkeypatch):
    from nnzoo import experiments as studies

    seen = []

    def rebuild_report(folder):
        seen.append(folder)
        (folder / "report.md").write_text("# study\n")
        return folder / "report.md"

    monkeypatch.setattr(studies, "rebuild_report", rebuild_report)
    (tmp_path / "study.json").write_text("{}")
    code, out, _ = run(capsys, "report", tmp_path)
    assert code == 0 and seen == [tmp_path]
    assert out.strip() == f"wrote {tmp_path / 'report.md'}"
    line = one_line_error(*run(capsys, "report", tmp_path, tmp_path / "x")[::2])
    assert "a study folder; compare run folders, or give it alone" in line


def test_a_string_where_a_number_belongs_is_one_warning_and_left_out(run_copies, capsys):
    folder = run_copies["lstm"]
    path = folder / "metrics.jsonl"
    records = [json.loads(x) for x in path.read_text().splitlines()]
    records[1]["val_loss"] = "n/a"
    records[2]["seconds"] = "fast"
    path.write_text("\n\n".join(json.dumps(r) for r in records) + "\n")  # line 3 is record 2
    code, _, err = run(capsys, "report", folder)
    assert code == 0 and "Traceback" not in err
    assert err == (
        f"nnzoo: warning: {path}: line 3: 'val_loss' is not a number (and 1 more value on later "
        "lines or keys); left out of the report's plots and totals\n"
    )
    assert (folder / "plots" / "curves.png").is_file()
