"""The run report: every section, and a Provenance that says how to get the numbers again."""

import json
import platform
import shutil

import pytest
import torch

from nnzoo.config import config_from_toml
from nnzoo.engine.runtime import default_threads, threads_rule
from nnzoo.report.run import format_duration, write_run_report
from tests.report.conftest import CONFIGS


def read_history(path):
    """metrics.jsonl read by hand: one JSON object a line."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def provenance_table(text):
    """{key: value} of the Provenance section's table."""
    section = text.split("## Provenance\n", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    cells = [[c.strip() for c in r.strip("|").split(" | ")] for r in rows]
    return dict(cells)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (4.271, "4.27 s"),
        (42.34, "42.3 s"),
        (3725.0, "3725.0 s (1:02:05)"),
        (60, "60.0 s (0:01:00)"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_the_provenance_of_a_trained_run(trained_runs):
    folder = trained_runs["lstm"]
    rows = provenance_table((folder / "report.md").read_text())
    history = read_history(folder / "metrics.jsonl")
    seconds = sum(row["seconds"] for row in history)
    saved = json.loads((folder / "provenance.json").read_text())
    assert rows["command"] == f"`{saved['command']}`"
    assert rows["seed"] == str(CONFIGS["lstm"].train.seed) and rows["data split seed"] == "0"
    assert rows["duration"] == f"{format_duration(seconds)} over 3 epochs"
    assert rows["torch"] == torch.__version__ == saved["torch"]
    assert rows["python"] == platform.python_version()
    assert rows["machine"] == saved["machine"] and rows["date"] == saved["date"]
    # train.threads = 0: the run chose half the usable cores and says so
    assert rows["threads"] == saved["threads"] == threads_rule(0, default_threads())


def test_wall_time_and_a_given_provenance(trained_runs, tmp_path):
    folder = shutil.copytree(trained_runs["gru"], tmp_path / "gru")
    config = config_from_toml((folder / "config.toml").read_text())
    results = json.loads((folder / "results.json").read_text())
    env = {"command": "nnzoo train --cell gru", "machine": "m", "torch": "t", "python": "p"}
    saved = (folder / "provenance.json").read_bytes()
    write_run_report(
        folder, config, read_history(folder / "metrics.jsonl"), results, seconds=3725.0, env=env
    )
    rows = provenance_table((folder / "report.md").read_text())
    assert rows["command"] == "`nnzoo train --cell gru`"
    assert rows["duration"] == "3725.0 s (1:02:05) over 3 epochs"
    assert (rows["machine"], rows["torch"], rows["python"]) == ("m", "t", "p")
    assert (folder / "provenance.json").read_bytes() == saved  # a given provenance is not saved


def test_the_report_shows_every_section_and_both_plots(trained_runs):
    text = (trained_runs["lstm"] / "report.md").read_text()
    for heading in ("Summary", "Curves", "Test metrics", "Confusion matrix", "Data", "Config",
                    "Provenance"):  # fmt: skip
        assert f"\n## {heading}" in text
    assert "![loss and accuracy](plots/curves.png)" in text
    assert "![confusion matrix](plots/confusion.png)" in text
    assert (trained_runs["lstm"] / "report.html").is_file()


def test_data_info_values_read_as_text():
    from nnzoo.report.run import info_text

    assert info_text(None) == "-"
    assert info_text(["ax", "ay"]) == "ax, ay"
    assert info_text("2 (unnamed columns of s.npz)") == "2 (unnamed columns of s.npz)"
