"""`nnzoo reproduce larnn-har-search` on a tiny fake UCI HAR: two rounds, numbers from trials."""

import json
import shutil
import statistics
from pathlib import Path

import pytest

import tests.data.test_uci_har as fake_har
from nnzoo.cli import main
from nnzoo.experiments import larnn_har_search as recipe
from nnzoo.utils.environment import machine_description


def search_har(tmp, trials="2,2", threads=1, make_data=True):
    """The recipe on a fake UCI HAR in ``tmp``, with a tiny space (the tests check the plumbing,
    not the paper's ranges); the rounds are kept in ``tmp/out/larnn-har-search-rounds``."""
    import torch

    patch = pytest.MonkeyPatch()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    # 7 training subjects, so that 5 can validate and 2 still train
    patch.setitem(fake_har.SUBJECTS, "train", [1, 3, 5, 6, 7, 8, 9])
    tiny = {
        **recipe.space(),
        "model.hidden": {"int": [4, 6]},
        "model.cell_options.num_heads": {"categorical": [1, 2]},
        "model.cell_options.window": {"int": [2, 4]},
    }
    patch.setattr(recipe, "space", lambda: tiny)
    patch.setattr(recipe, "ATTENTION_SIZE", 4)
    try:
        if make_data:
            fake_har.make_har(tmp / "data" / "uci-har", xz=True)
        argv = ["reproduce", "larnn-har-search", "--trials", trials, "--epochs", "1",
                "--train-windows", "4", "--val-windows", "6", "--test-windows", "5",
                "--threads", str(threads), "--data-root", str(tmp / "data"),
                "--out", str(tmp / "out"), "--runs", str(tmp / "runs")]  # fmt: skip
        assert main(argv) == 0
    finally:
        patch.undo()
        torch.set_num_threads(before)
    return tmp


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    return search_har(tmp_path_factory.mktemp("search"))


def rounds(tmp):
    return tmp / "out" / "larnn-har-search-rounds"


def test_both_rounds_ran_and_round_two_was_focused(searched):
    for n in (1, 2):
        summary = json.loads((rounds(searched) / f"round{n}" / "search.json").read_text())
        assert summary["states"] == {"complete": 2}
        assert summary["sampler"] == "hyperopt-compatible" and summary["pruner"] == "none"
    focus = json.loads((rounds(searched) / "round2" / "focus.json").read_text())
    assert focus["space"]["model.cell_options.mode"] == {"fixed": focus["best"]["params"][
        "model.cell_options.mode"]}  # fmt: skip


def test_the_subset_keeps_the_validation_subjects_and_cuts_training(searched):
    document = json.loads((searched / "out" / "larnn-har-search.json").read_text())
    budget = document["budget"]
    assert budget["train_windows"] == 4 and budget["train_windows_available"] == 6
    assert len(budget["val_subjects"]) == 5 and budget["val_windows"] == 6
    assert budget["val_windows_available"] == 15
    assert budget["test_windows"] == 5 and budget["test_windows_available"] == 6
    assert budget["trials"] == [2, 2] and budget["epochs"] == 1 and budget["threads"] == 1


def test_training_time_sums_the_trials_not_the_last_sitting(searched):
    document = json.loads((searched / "out" / "larnn-har-search.json").read_text())
    budget = document["budget"]
    epochs = 0.0  # the trials' epochs, as their run folders timed them
    for r in document["rounds"]:
        for trial in r["trials"]:
            history = (Path(trial["run_dir"]) / "metrics.jsonl").read_text().splitlines()
            epochs += sum(json.loads(line)["seconds"] for line in history)
    # one sitting ran every trial here: they fit inside it, and each holds its epochs
    assert epochs <= budget["trial_seconds"] <= budget["seconds"]
    md = (searched / "out" / "larnn-har-search.md").read_text()
    assert f"the complete trials took {budget['trial_seconds'] / 3600:.2f} h of training" in md
    # every trial records where it trained, as the run folders' provenance names machines
    here = machine_description()
    assert all(t["machine"] == here for r in document["rounds"] for t in r["trials"])
    assert f"trials trained on: {here}; torch threads: 1" in md


def test_report_has_budget_findings_and_numbers_of_the_trials(searched):
    out = searched / "out"
    md = (out / "larnn-har-search.md").read_text()
    assert "## Budget" in md and "## Findings" in md and "training subset: 4 of the 6" in md
    assert "evaluated once" in md and "inconclusive" in md
    assert "--trials 2,2" in md
    assert "TPE's random start-up trials: 1 and 1" in md  # half of each round's budget
    keys = [f["key"] for f in json.loads((out / "larnn-har-search.json").read_text())["findings"]]
    assert "model.cell_options.kv_norm" in keys and "model.cell_options.positional_encoding" in keys
    assert "BN-ELU on the keys and values helped" in md
    for link in ("round1-trial_curves.png", "round2-history.png"):
        assert f"larnn-har-search-{link}" in md and (out / f"larnn-har-search-{link}").is_file()
    document = json.loads((out / "larnn-har-search.json").read_text())
    round1 = document["rounds"][0]["trials"]
    for trial in round1:  # each trial's value is its run folder's validation accuracy
        results = json.loads((Path(trial["run_dir"]) / "results.json").read_text())
        assert trial["value"] == pytest.approx(results["selected_val"]["val_accuracy"])
    mode = document["findings"][0]
    assert mode["key"] == "model.cell_options.mode"
    for level, group in mode["groups"].items():
        values = [t["value"] for t in round1 if t["params"]["model.cell_options.mode"] == level]
        assert group["n"] == len(values)
        if values:
            assert group["mean"] == pytest.approx(statistics.fmean(values))
            assert f"{100 * group['mean']:.2f}" in md
    tested = document["best_round2_test"]
    best = max(document["rounds"][1]["trials"], key=lambda t: t["value"])
    results = json.loads((Path(best["run_dir"]) / "results.json").read_text())
    assert tested["test_accuracy"] == results["test"]["accuracy"]
    assert f"{100 * results['test']['accuracy']:.2f}%" in md


def test_compare_concludes_only_with_enough_trials():
    def trials(values, mode):
        return [{"value": v, "params": {"m": mode}} for v in values]

    few = trials([0.9, 0.91], "a") + trials([0.5, 0.52], "b")
    assert recipe.compare(few, "m", ["a", "b"])["verdict"] == "inconclusive"
    many = trials([0.9, 0.91, 0.92, 0.9, 0.91], "a") + trials([0.5, 0.52, 0.5, 0.51, 0.5], "b")
    assert recipe.compare(many, "m", ["a", "b"])["verdict"] == "m=a is better"


def test_bad_trials_flag_is_one_line_error(capsys):
    assert main(["reproduce", "larnn-har-search", "--trials", "3"]) == 2
    assert "--trials=3" in capsys.readouterr().err


def test_the_rounds_alone_let_another_machine_go_on(tmp_path):
    """The committed round folders are the search: with the run folders gone (a new machine)
    and other threads, the same command trains nothing again and writes the same results."""
    search_har(tmp_path, trials="1,1")
    before = json.loads((tmp_path / "out" / "larnn-har-search.json").read_text())
    kept = sorted(p.name for p in rounds(tmp_path).rglob("*") if p.is_file())
    assert "search.journal" in kept and not list(rounds(tmp_path).rglob("trials"))
    shutil.rmtree(tmp_path / "runs")
    search_har(tmp_path, trials="1,1", threads=2, make_data=False)
    after = json.loads((tmp_path / "out" / "larnn-har-search.json").read_text())
    assert not list((tmp_path / "runs").rglob("results.json"))  # no trial trained again
    assert after["best_round2_test"] == before["best_round2_test"]
    assert [r["trials"] for r in after["rounds"]] == [r["trials"] for r in before["rounds"]]
