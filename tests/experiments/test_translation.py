"""`nnzoo reproduce translation --quick` on a tiny spa-eng.zip: a command with --models adds its
rows to the record made under the same protocol, replaces the record of another protocol, and
refuses to overwrite a file that is not a translation record."""

import json
import sys

import pytest

from nnzoo.cli import main
from tests.data.test_tatoeba import spa_text, write_zip

WORDS = ["tom", "mary", "the dog", "my cat", "the man", "she", "he", "we"]
VERBS = [("runs", "corre"), ("sleeps", "duerme"), ("eats", "come"), ("sings", "canta")]
SPANISH = {"tom": "tom", "mary": "mary", "the dog": "el perro", "my cat": "mi gato",
           "the man": "el hombre", "she": "ella", "he": "él", "we": "nosotros"}  # fmt: skip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    pairs = [(f"{w.capitalize()} {en}.", f"{SPANISH[w].capitalize()} {es}.")
             for w in WORDS for en, es in VERBS]  # fmt: skip
    (root / "spa-eng-tatoeba").mkdir()
    write_zip(root / "spa-eng-tatoeba" / "spa-eng.zip", {"spa-eng/spa.txt": spa_text(pairs)})
    return root


def reproduce(tmp_path, data_root, model, capsys, monkeypatch):
    argv = ["reproduce", "translation", "--quick", "--models", model, "--threads", "1",
            "--jobs", "1", "--data-root", str(data_root), "--out", str(tmp_path / "out"),
            "--runs", str(tmp_path / "runs")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["nnzoo", *argv])  # the command a row records
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def record(tmp_path):
    return json.loads((tmp_path / "out" / "translation.json").read_text())


def test_rows_of_several_commands_share_one_table(tmp_path, data_root, capsys, monkeypatch):
    assert reproduce(tmp_path, data_root, "en-es-attention", capsys, monkeypatch)[0] == 0
    first = record(tmp_path)["runs"]
    assert list(first) == ["en-es-attention"]
    assert "--models en-es-attention" in first["en-es-attention"]["command"]

    assert reproduce(tmp_path, data_root, "es-en-plain", capsys, monkeypatch)[0] == 0
    merged = record(tmp_path)
    # in the recipe's order, the earlier row as it was
    assert list(merged["runs"]) == ["es-en-plain", "en-es-attention"]
    assert merged["runs"]["en-es-attention"] == first["en-es-attention"]
    assert "--models es-en-plain" in merged["runs"]["es-en-plain"]["command"]
    report = (tmp_path / "out" / "translation.md").read_text()
    assert "--models en-es-attention" in report and "--models es-en-plain" in report
    assert "reached 1 epochs" in report  # the rule that stopped each run


def test_a_record_of_another_protocol_is_replaced(tmp_path, data_root, capsys, monkeypatch):
    assert reproduce(tmp_path, data_root, "en-es-attention", capsys, monkeypatch)[0] == 0
    path = tmp_path / "out" / "translation.json"
    old = record(tmp_path)
    old["protocol"]["time_limit_minutes"] = 30  # as if made under another budget
    path.write_text(json.dumps(old))
    code, out, _ = reproduce(tmp_path, data_root, "es-en-plain", capsys, monkeypatch)
    assert code == 0 and "made under another protocol" in out
    assert list(record(tmp_path)["runs"]) == ["es-en-plain"]


def test_a_file_that_is_not_a_record_is_left_alone(tmp_path, data_root, capsys, monkeypatch):
    path = tmp_path / "out" / "translation.json"
    path.parent.mkdir()
    path.write_text('{"recipe": "translation"')  # cut short
    code, out, err = reproduce(tmp_path, data_root, "es-en-plain", capsys, monkeypatch)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not a translation record" in err
    assert "Traceback" not in out + err
    assert path.read_text() == '{"recipe": "translation"'
    assert not (tmp_path / "out" / "translation.md").exists()


def test_rows_of_a_record_older_than_the_budget_keep_their_own_command(
    tmp_path, data_root, capsys, monkeypatch
):
    """A record written before rows kept their provenance and before the time limit: its rows
    that trained within the limit are kept, with the command and date of their record."""
    assert reproduce(tmp_path, data_root, "en-es-attention", capsys, monkeypatch)[0] == 0
    path = tmp_path / "out" / "translation.json"
    old = record(tmp_path)
    del old["protocol"]
    row = old["runs"]["en-es-attention"]
    for key in ("command", "machine", "date", "stop_reason"):
        del row[key]
    old.update(command="nnzoo reproduce translation --models en-es-attention (older)",
               date="2026-01-01 00:00 UTC")  # fmt: skip
    old["runs"]["en-es-transformer"] = {**row, "train_seconds": 2 * 3600.0}  # past the limit
    path.write_text(json.dumps(old))
    assert reproduce(tmp_path, data_root, "es-en-plain", capsys, monkeypatch)[0] == 0
    runs = record(tmp_path)["runs"]
    assert list(runs) == ["es-en-plain", "en-es-attention"]  # the 2-hour run is not kept
    assert runs["en-es-attention"]["command"].endswith("(older)")
    assert runs["en-es-attention"]["date"] == "2026-01-01 00:00 UTC"
    report = (tmp_path / "out" / "translation.md").read_text()
    assert "not recorded" in report and "(older)" in report
    by = report.split("## Runs trained by")[1]  # one line per command, the older first
    assert by.index("(older)") < by.index("--models es-en-plain")


def test_the_targets_go_to_the_es_en_run_best_on_validation():
    from nnzoo.experiments.translation import targets

    def row(title, direction, val_loss, bleu):
        return {"title": title, "direction": direction, "val_loss": val_loss, "bleu": bleu,
                "train_seconds": 600.0}  # fmt: skip

    rows = {"a": row("A", "es-en", 1.2, 20.0), "b": row("B", "es-en", 1.5, 45.0),
            "c": row("C", "en-es", 0.9, 60.0)}  # fmt: skip
    bleu, time = targets(rows)
    assert bleu["value"].startswith("20.0 (A") and not bleu["met"]  # not B, best on test
    assert time["met"] and "(A)" in time["value"]
    assert targets({"c": rows["c"]}) == []
