"""The experiment registry: every study and recipe, found by name, by `nnzoo study` and
`nnzoo reproduce` alike."""

import json

import pytest

from nnzoo.cli import main
from nnzoo.errors import ConfigError
from nnzoo.experiments import (
    KINDS,
    experiments,
    get_experiment,
    list_experiments,
    rebuild_report,
)

STUDIES = ["activations", "capacity", "convergence", "grad-mean", "gradient-flow", "init",
           "long-lag", "lr-sweep", "regularization"]  # fmt: skip
RECIPES = [
    "catvnoncat", "dogs-vs-cats", "jsb-chorales", "larnn-har", "larnn-har-search", "pima",
    "sentiment", "sonar", "translation",
]  # fmt: skip


def test_the_registry_holds_every_study_and_recipe():
    assert list_experiments("study") == STUDIES
    assert list_experiments("recipe") == RECIPES
    assert list_experiments() == STUDIES + RECIPES


@pytest.mark.parametrize("experiment", experiments(), ids=lambda e: e.name)
def test_every_experiment_has_the_contract(experiment):
    assert experiment.kind in KINDS and experiment.help
    assert callable(experiment.add_arguments) and callable(experiment.run)
    assert (experiment.report is not None) == (experiment.kind == "study")
    assert get_experiment(experiment.name, experiment.kind) is experiment


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["study", "larnn-har"], "'larnn-har' is a recipe, not a study; run it with "
                                 "`nnzoo reproduce larnn-har`"),
        (["reproduce", "lr-sweep"], "'lr-sweep' is a study, not a recipe; run it with "
                                    "`nnzoo study lr-sweep`"),
        (["study", "nope"], f"unknown study 'nope'; expected one of: {', '.join(STUDIES)}"),
        (["reproduce", "nope"], f"unknown recipe 'nope'; expected one of: {', '.join(RECIPES)}"),
    ],
)  # fmt: skip
def test_a_name_of_the_wrong_kind_or_no_kind_is_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_list_names_studies_and_recipes(capsys):
    assert main(["list", "studies"]) == 0
    assert capsys.readouterr().out == f"studies: {', '.join(STUDIES)}\n"
    assert main(["list"]) == 0
    assert f"recipes: {', '.join(RECIPES)}" in capsys.readouterr().out.splitlines()


def test_a_study_record_naming_an_unknown_study_is_named(tmp_path):
    record = {"study": "nope", "title": "t", "options": {}}
    (tmp_path / "study.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="nope"):
        rebuild_report(tmp_path)
