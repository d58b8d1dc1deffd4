"""The parts every study shares: list flags, study.json, and rebuilding a report."""

import json

import pytest

from nnzoo.cli import main
from nnzoo.errors import ConfigError
from nnzoo.experiments import STUDIES, rebuild_report, study_module
from nnzoo.experiments.base import CellSpec, load_record, parse_cells, parse_list


def test_parse_list():
    assert parse_list("--lrs", "1, 0.1,0.01", float) == [1.0, 0.1, 0.01]
    assert parse_list("--models", "mlp,deeper") == ["mlp", "deeper"]
    for text in ("", " , ", "1,x", "0.1,0.10"):
        with pytest.raises(ConfigError, match="--lrs"):
            parse_list("--lrs", text, float)


def test_parse_cells_plain_names_and_options():
    specs = parse_cells(
        "--cells", "elman, lstm ,lstm:forget_bias=1,peephole-lstm:peephole=full;bias=false"
    )
    assert specs == [
        CellSpec("elman", "elman"),
        CellSpec("lstm", "lstm"),
        CellSpec("lstm:forget_bias=1", "lstm", (("forget_bias", "1"),)),
        CellSpec(
            "peephole-lstm:peephole=full;bias=false",
            "peephole-lstm",
            (("peephole", "full"), ("bias", "false")),
        ),
    ]
    assert [s.key for s in specs] == [
        "elman", "lstm", "lstm-forget_bias1", "peephole-lstm-peepholefull-biasfalse"
    ]  # fmt: skip
    assert specs[2].overrides() == ["model.cell_options.forget_bias=1"]
    assert specs[1].overrides() == []
    odd = parse_cells("--cells", "lstm:forget_bias=-0.5,peephole-lstm:peephole='a/b c'")
    assert [s.key for s in odd] == ["lstm-forget_bias-0.5", "peephole-lstm-peepholea_b_c"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("lstm,nope", "--cells: unknown cell 'nope'; expected some of: bn-lstm,"),
        ("nope:forget_bias=1", "--cells: unknown cell 'nope'"),
        (
            "lstm:colour=1",
            "--cells: 'lstm:colour=1': cell 'lstm' has no option 'colour'; "
            "expected some of: bias, forget_bias",
        ),
        ("gru:forget_bias=1", "cell 'gru' has no option 'forget_bias'; expected some of: bias"),
        ("lstm:", "expected CELL:KEY=VALUE[;KEY=VALUE]"),
        ("lstm:forget_bias", "expected CELL:KEY=VALUE[;KEY=VALUE]"),
        ("lstm:forget_bias=", "expected CELL:KEY=VALUE[;KEY=VALUE]"),
        ("lstm:forget_bias=1;", "expected CELL:KEY=VALUE[;KEY=VALUE]"),
        ("lstm:forget_bias=1;forget_bias=2", "option 'forget_bias' is given twice"),
        ("lstm,lstm", "'lstm' is listed twice"),
        ("lstm:forget_bias=1,lstm:forget_bias=1", "'lstm:forget_bias=1' is listed twice"),
        (
            "lstm:forget_bias='1',lstm:forget_bias=1",
            "would share the run folder name 'lstm-forget_bias1'",
        ),
    ],
)
def test_parse_cells_errors_name_what_was_wrong(text, message):
    with pytest.raises(ConfigError) as error:
        parse_cells("--cells", text)
    assert message in str(error.value) and "\n" not in str(error.value)


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
