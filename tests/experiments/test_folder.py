"""The study folder: a broken study.json is one line, and nothing is rewritten."""

import json

import pytest

from nnzoo.cli import main
from nnzoo.errors import ConfigError
from nnzoo.experiments.folder import load_record


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
