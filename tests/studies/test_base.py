"""The parts every study shares: list flags, study.json, and rebuilding a report."""

import json

import pytest

from nnzoo.cli import main
from nnzoo.errors import ConfigError
from nnzoo.studies import STUDIES, rebuild_report, study_module
from nnzoo.studies.base import load_record, parse_list


def test_parse_list():
    assert parse_list("--lrs", "1, 0.1,0.01", float) == [1.0, 0.1, 0.01]
    assert parse_list("--models", "mlp,deeper") == ["mlp", "deeper"]
    for text in ("", " , ", "1,x"):
        with pytest.raises(ConfigError, match="--lrs"):
            parse_list("--lrs", text, float)


def test_every_study_module_has_the_contract():
    for name in STUDIES:
        module = study_module(name)
        assert name == module.NAME and module.HELP
        assert callable(module.add_arguments) and callable(module.run)
        assert callable(module.report)


@pytest.mark.parametrize(
    "content", ["{not json", "[]", json.dumps({"study": "lr-sweep"}), ""]
)  # fmt: skip
def test_a_broken_study_json_is_one_line_and_nothing_is_rewritten(tmp_path, capsys, content):
    (tmp_path / "study.json").write_text(content)
    (tmp_path / "report.md").write_text("keep me")
    with pytest.raises(ConfigError, match="study.json"):
        load_record(tmp_path)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "study.json" in err[0]
    assert (tmp_path / "report.md").read_text() == "keep me"


def test_a_study_record_naming_an_unknown_study_is_named(tmp_path):
    record = {"study": "nope", "title": "t", "options": {}}
    (tmp_path / "study.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="nope"):
        rebuild_report(tmp_path)
