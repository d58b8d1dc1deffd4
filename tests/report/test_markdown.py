import os

import numpy as np
import pytest
import torch

from nnzoo.errors import ConfigError
from nnzoo.report.markdown import (
    classification_table,
    confusion_table,
    table,
    write_atomic,
    write_report,
)
from nnzoo.tasks.metrics import classification_report, confusion_matrix


def test_table_from_dicts_right_aligns_numbers():
    rows = [{"cell": "lstm", "acc": 0.91234, "params": 5504}, {"cell": "gru", "acc": 0.9}]
    assert table(rows) == (
        "| cell |    acc | params |\n"
        "|------|-------:|-------:|\n"
        "| lstm | 0.9123 |   5504 |\n"
        "| gru  | 0.9000 |        |"
    )


def test_table_header_alignment_follows_the_column():
    assert table([{"name": "a", "n": 1}]) == (
        "| name |   n |\n"  # numeric column: header right-aligned too
        "|------|----:|\n"
        "| a    |   1 |"
    )


def test_table_from_lists_with_headers_and_formats():
    rows = [["x", 1.5, True, None], ["y|z", np.float32(0.25), False, torch.tensor(7)]]
    assert table(rows, ["name", "value", "flag", "count"], floatfmt=".2f") == (
        "| name | value | flag  | count |\n"
        "|------|------:|-------|------:|\n"
        "| x    |  1.50 | True  |       |\n"
        "| y\\|z |  0.25 | False |     7 |"
    )


def test_table_headers_choose_and_order_dict_keys():
    rows = [{"a": 1, "b": "x", "c": 2.0}]
    assert table(rows, ["c", "b"], floatfmt=".1f") == "\n".join(
        [
            "|   c | b   |",
            "|----:|-----|",
            "| 2.0 | x   |",
        ]
    )


def test_table_intfmt_and_newlines():
    assert table([["multi\nline", 669706]], ["what", "n"], intfmt=",") == "\n".join(
        [
            "| what       |       n |",
            "|------------|--------:|",
            "| multi line | 669,706 |",
        ]
    )


def test_table_errors():
    with pytest.raises(ConfigError, match="headers: required when rows are lists"):
        table([[1, 2]])
    with pytest.raises(ConfigError, match=r"rows\[1\]: expected 2 cells \(one per header\), got 1"):
        table([[1, 2], [3]], ["a", "b"])
    with pytest.raises(ConfigError, match="rows: expected all dicts or all lists"):
        table([{"a": 1}, [1]], ["a"])


def test_confusion_table():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert confusion_table(cm, ["walk", "sit", "lie"]) == (
        "| true \\ predicted | walk | sit | lie |\n"
        "|------------------|-----:|----:|----:|\n"
        "| walk             |    1 |   1 |   0 |\n"
        "| sit              |    0 |   1 |   0 |\n"
        "| lie              |    1 |   0 |   2 |"
    )
    with pytest.raises(ConfigError, match=r"cm: expected a \(2, 2\) matrix for 2 class names"):
        confusion_table(cm, ["a", "b"])


def test_classification_table():
    report = classification_report([0, 0, 0, 1, 1, 2], [0, 1, 0, 1, 1, 1], ["a", "b", "c"])
    assert classification_table(report, floatfmt=".3f") == (
        "| class        | precision | recall |    f1 | support |\n"
        "|--------------|----------:|-------:|------:|--------:|\n"
        "| a            |     1.000 |  0.667 | 0.800 |       3 |\n"
        "| b            |     0.500 |  1.000 | 0.667 |       2 |\n"
        "| c            |     0.000 |  0.000 | 0.000 |       1 |\n"
        "| accuracy     |           |        | 0.667 |       6 |\n"
        "| macro avg    |     0.500 |  0.556 | 0.489 |       6 |\n"
        "| weighted avg |     0.667 |  0.667 | 0.622 |       6 |"
    )


def test_write_report(tmp_path):
    path = write_report(
        tmp_path / "runs" / "report.md",
        "LSTM on UCI HAR",
        [("Scores", "\n| a |\n|---|\n| 1 |\n\n"), ("Empty", ""), ("Notes", "Seed 0.")],
    )
    assert path == tmp_path / "runs" / "report.md"
    assert path.read_text() == (
        "# LSTM on UCI HAR\n\n## Scores\n\n| a |\n|---|\n| 1 |\n\n## Empty\n\n## Notes\n\nSeed 0.\n"
    )
    assert sorted(os.listdir(path.parent)) == ["report.html", "report.md"]  # no temporary file


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = write_atomic(tmp_path / "r.md", "old\n")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["r.md"]


def test_write_atomic_gives_the_permissions_open_would(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    path = write_atomic(tmp_path / "r.md", "x")
    reference = tmp_path / "plain.md"
    reference.write_text("x")
    assert path.stat().st_mode & 0o777 == reference.stat().st_mode & 0o777
