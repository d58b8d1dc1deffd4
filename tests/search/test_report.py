"""The analysis report of a search, on a search folder built here with Optuna directly."""

import json
import math
import re

import pytest

optuna = pytest.importorskip("optuna")

from optuna.storages.journal import JournalFileBackend  # noqa: E402

from nnzoo.cli import main  # noqa: E402
from nnzoo.errors import NnzooError  # noqa: E402
from nnzoo.runs.rundir import RunDir  # noqa: E402
from nnzoo.search.report import TEST_COLUMN, collect_trials, write_search_report  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = ("trial_curves", "scatter_matrix", "importances", "history")
SPACE = {
    "lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
    "hidden": optuna.distributions.IntDistribution(8, 64),
    "cell": optuna.distributions.CategoricalDistribution(["lstm", "gru", "larnn"]),
}
# (lr, hidden, cell, final state); the validation accuracy is a function of them
PLAN = [
    (1e-3, 32, "lstm", "COMPLETE"),
    (1e-2, 16, "gru", "COMPLETE"),
    (3e-2, 64, "larnn", "PRUNED"),
    (2e-4, 48, "lstm", "COMPLETE"),
    (5e-2, 8, "gru", "FAIL"),
    (4e-3, 24, "larnn", "COMPLETE"),
    (7e-4, 40, "gru", "COMPLETE"),
]
EPOCHS = 4


def accuracy(lr, hidden, cell, epoch):
    base = {"lstm": 0.7, "gru": 0.65, "larnn": 0.75}[cell]
    return base - 0.05 * abs(math.log10(lr) + 2.5) + hidden / 1000 + 0.02 * epoch


@pytest.fixture
def search(tmp_path):
    return build(tmp_path)


def build(tmp_path, *, history=True, focus=False):
    folder = tmp_path / "search"
    folder.mkdir()
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / "search.journal")))
    study = optuna.create_study(study_name="toy", storage=storage, direction="maximize")
    for lr, hidden, cell, state in PLAN:
        study.enqueue_trial({"lr": lr, "hidden": hidden, "cell": cell})
        trial = study.ask(fixed_distributions=SPACE)
        run_dir = folder / "trials" / str(trial.number)
        run_dir.mkdir(parents=True)
        trial.set_user_attr("run_dir", str(run_dir))
        epochs = 2 if state == "PRUNED" else EPOCHS
        records = []
        for epoch in range(1, epochs + 1):
            val = accuracy(lr, hidden, cell, epoch)
            trial.report(val, epoch)
            records.append(
                {"epoch": epoch, "val_accuracy": val, "val_loss": 1 - val, "accuracy": val + 0.05,
                 "loss": 0.9 - val}
            )  # fmt: skip
        if history:
            lines = [json.dumps(r) for r in records]
            (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        if state == "COMPLETE":
            trial.set_user_attr("test_accuracy", records[-1]["val_accuracy"] - 0.01)
            study.tell(trial, max(r["val_accuracy"] for r in records))
        else:
            study.tell(trial, state=getattr(optuna.trial.TrialState, state))
    settings = {
        "name": "toy",
        "storage": str(folder / "search.journal"),
        "sampler": "tpe",
        "pruner": "median",
        "objective": "val_accuracy",
        "direction": "maximize",
        "space": {"lr": "loguniform 1e-4 1e-1", "hidden": "int 8 64", "cell": ["lstm", "gru"]},
        "best_trial": {"number": study.best_trial.number, "value": study.best_value},
        "command": "nnzoo search recipes/toy.toml --trials 7",
    }
    (folder / "search.json").write_text(json.dumps(settings))
    if focus:
        rule = "keep the top 30% of round 1; log ranges widened by half a decade"
        (folder / "focus.json").write_text(
            json.dumps({"rule": rule, "space": {"lr": [1e-3, 1e-2]}})
        )
    return folder, study


def section(text, heading):
    """The body of ``## heading`` in a Markdown report."""
    match = re.search(rf"^## {re.escape(heading)}.*?\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match.group(1)


def rows(body):
    """The data rows of the first Markdown table in ``body``, as lists of cells."""
    lines = [line for line in body.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def header(body):
    line = next(line for line in body.splitlines() if line.startswith("|"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_best_trials_table_against_the_study(search):
    folder, study = search
    md = write_search_report(folder)
    text = md.read_text()
    body = section(text, "Best trials")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    table = rows(body)
    assert len(table) == min(10, len(complete))
    columns = header(body)
    assert columns[:2] == ["trial", "val_accuracy"]
    assert set(SPACE) <= set(columns) and TEST_COLUMN in columns
    best = table[0]
    assert int(best[0]) == study.best_trial.number
    assert float(best[1]) == pytest.approx(study.best_value, abs=1e-4)
    test = float(best[columns.index(TEST_COLUMN)])
    assert test == pytest.approx(study.best_trial.user_attrs["test_accuracy"], abs=1e-4)
    assert int(best[columns.index("epochs run")]) == EPOCHS
    # ranked by the objective, best first
    values = [float(r[1]) for r in table]
    assert values == sorted(values, reverse=True)
    assert sorted(int(r[0]) for r in table) == sorted(t.number for t in complete)


def test_counts_importances_plots_and_settings(search):
    folder, study = search
    text = write_search_report(folder).read_text()
    counts = {r[0]: int(r[1]) for r in rows(section(text, "Trials"))}
    assert counts["COMPLETE"] == 5 and counts["PRUNED"] == 1 and counts["FAIL"] == 1
    assert counts["total"] == len(study.trials)
    importances = {r[0]: float(r[1]) for r in rows(section(text, "Parameter importances"))}
    assert set(importances) == set(SPACE)
    assert sum(importances.values()) == pytest.approx(1.0, abs=1e-3)
    for name in PLOTS:
        png = folder / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG, name
        assert f"plots/{name}.png" in text
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html
    settings = section(text, "Settings")
    assert "tpe" in settings and "median" in settings
    assert "nnzoo search recipes/toy.toml --trials 7" in section(text, "How the search was run")
    assert "Round 2" not in text


def test_focus_and_intermediate_values_without_run_folders(tmp_path):
    folder, _ = build(tmp_path, history=False, focus=True)
    text = write_search_report(folder).read_text()
    assert "top 30% of round 1" in section(text, "Round 2")
    assert "reported to Optuna" in section(text, "Accuracy through epochs")
    assert (folder / "plots" / "trial_curves.png").read_bytes()[:8] == PNG


def test_each_trial_is_read_through_rundir(search, monkeypatch):
    folder, study = search
    read = []
    for method in ("read_history", "read_results"):
        original = getattr(RunDir, method)

        def spy(self, *args, _name=method, _original=original, **kwargs):
            read.append((_name, self.path))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(RunDir, method, spy)
    records = collect_trials(folder, study)
    trials = [folder / "trials" / str(t.number) for t in study.trials]
    assert sorted(read) == sorted((m, t) for m in ("read_history", "read_results") for t in trials)
    assert all(r.curve_source == "metrics.jsonl" for r in records)


def test_a_malformed_history_is_no_curve_and_the_reported_values_are_drawn(search):
    folder, study = search
    metrics = folder / "trials" / "0" / "metrics.jsonl"
    with metrics.open("a") as f:
        f.write("{not json\n")
    with pytest.raises(NnzooError, match=r"metrics.jsonl: line 5 is not valid JSON"):
        RunDir(metrics.parent).read_history()  # what nnzoo report says of this run folder
    records = {r.number: r for r in collect_trials(folder, study)}
    reported = sorted(study.trials[0].intermediate_values.items())
    assert records[0].curve_source == "reported"
    assert records[0].curve == [(float(step), value) for step, value in reported]
    assert records[0].epochs == EPOCHS  # no results.json: the number of reported values
    assert {r.curve_source for n, r in records.items() if n != 0} == {"metrics.jsonl"}
    text = write_search_report(folder).read_text()
    assert "drawn with the values they reported to Optuna" in text


def test_importances_not_computable_with_one_complete_trial(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / "search.journal")))
    study = optuna.create_study(study_name="one", storage=storage)
    trial = study.ask(fixed_distributions=SPACE)
    study.tell(trial, 0.5)
    (folder / "search.json").write_text(json.dumps({"name": "one", "direction": "minimize"}))
    text = write_search_report(folder).read_text()
    assert "Not computable: needs at least 2 complete trials" in text
    assert len(rows(section(text, "Best trials"))) == 1


def test_cli_report_of_a_search_folder(search, capsys):
    folder, _ = search
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
    assert "report.html" in capsys.readouterr().out


@pytest.mark.parametrize(
    "case, message",
    [
        ("malformed", "not valid JSON"),
        ("not-object", "expected a JSON object"),
        ("no-storage", "no such journal file"),
        ("wrong-name", "cannot load study"),
    ],
)
def test_errors_are_one_line_exit_2(search, capsys, case, message):
    folder, _ = search
    path = folder / "search.json"
    settings = json.loads(path.read_text())
    if case == "malformed":
        path.write_text("{not json")
    elif case == "not-object":
        path.write_text("[1, 2]")
    elif case == "no-storage":
        (folder / "search.journal").unlink()
    else:
        path.write_text(json.dumps({**settings, "name": "nope"}))
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (folder / "report.md").exists()


def test_missing_search_json_is_an_error(tmp_path):
    from nnzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="no search.json"):
        write_search_report(tmp_path)
