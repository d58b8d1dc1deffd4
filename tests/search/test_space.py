"""The [search] table: parsing, every bad input as one line, and the focus rule by hand."""

import math

import pytest

from nnzoo.cli import main
from nnzoo.errors import ConfigError
from nnzoo.search.space import Dimension, focus_space, parse_search

BASE = """
[data]
name = "first-symbol"
options = { length = 4, train_size = 32, val_size = 16, test_size = 16 }

[model]
cell = "gru"
hidden = 4
layers = 1

[train]
epochs = 1
batch_size = 16
"""


def search_toml(space, **search):
    lines = [BASE, "[search]"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in {"trials": 2, **search}.items()]
    lines += ["[search.space]", *space]
    return "\n".join(lines) + "\n"


def test_parse_reads_every_kind():
    search = parse_search(
        {
            "trials": 3,
            "space": {
                "train.lr": {"log_uniform": [0.001, 0.1]},
                "model.dropout": {"uniform": [0, 0.5]},
                "model.layers": {"int": [1, 2]},
                "model.residual": {"categorical": [True, False]},
                "train.batch_size": {"fixed": 8},
            },
        }
    )
    kinds = {d.key: (d.kind, d.values) for d in search.space}
    assert kinds["model.dropout"] == ("uniform", (0.0, 0.5))
    assert kinds["model.layers"] == ("int", (1, 2))
    assert kinds["train.batch_size"] == ("fixed", (8,))
    assert search.direction == "maximize" and search.sampler == "tpe" and search.pruner == "none"
    assert parse_search({"objective": "val_loss", "space": {"a.b": {"fixed": 1}}}).direction == (
        "minimize"
    )


BAD = [
    (['"train.lrr" = { uniform = [0.1, 0.2] }'], {}, "lrr"),
    (['"model.cell_options.nope" = { int = [1, 2] }'], {}, "nope"),
    (['"lr" = { uniform = [0.1, 0.2] }'], {}, "SECTION.KEY"),
    (['"train.lr" = { uniform = [0.1, 0.1] }'], {}, "empty range"),
    (['"train.lr" = { uniform = [0.2, 0.1] }'], {}, "empty range"),
    (['"model.layers" = { int = [3, 2] }'], {}, "low 3 > high 2"),
    (['"train.lr" = { log_uniform = [0.0, 0.1] }'], {}, "low > 0"),
    (['"model.residual" = { categorical = [] }'], {}, "non-empty list"),
    (['"train.lr" = { normal = [0, 1] }'], {}, "expected one of"),
    (['"train.lr" = { uniform = [0.1, 0.2] }'], {"sampler": "bayes"}, "search.sampler"),
    (['"train.lr" = { uniform = [0.1, 0.2] }'], {"pruner": "asha"}, "search.pruner"),
    (['"train.lr" = { uniform = [0.1, 0.2] }'], {"sampler": "grid"}, "grid sampler"),
    (['"train.lr" = { uniform = [0.1, 0.2] }'], {"objective": "test_accuracy"}, "test split"),
    (['"train.lr" = { uniform = [0.1, 0.2] }'], {"objective": "accuracy"}, "val_loss"),
    ([], {}, "[search.space]"),
]


@pytest.mark.parametrize(("space", "search", "message"), BAD)
def test_bad_input_is_one_line_before_any_trial(tmp_path, capsys, space, search, message):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(space, **search))
    out = tmp_path / "out"
    assert main(["search", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnzoo: error:") and message in err, err
    assert not (out / "trials").exists()


def test_unreachable_storage_and_missing_study_are_one_line(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(search_toml(['"train.lr" = { uniform = [0.1, 0.2] }']))
    url = "postgresql://nobody@127.0.0.1:1/none"
    assert main(["search", str(cfg), "--storage", url, "--worker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach" in err, err
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["search", str(cfg), "--storage", db, "--worker"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "create it first with --create" in err, err


def test_focus_narrows_ranges_by_hand():
    search = parse_search(
        {
            "focus_top_k": 3,
            "space": {
                "train.lr": {"log_uniform": [0.001, 0.1]},
                "model.dropout": {"uniform": [0.0, 0.5]},
                "model.layers": {"int": [1, 9]},
                "model.residual": {"categorical": [True, False]},
                "train.batch_size": {"fixed": 8},
            },
        }
    )
    top = [
        {"train.lr": 0.01, "model.dropout": 0.1, "model.layers": 3, "model.residual": False},
        {"train.lr": 0.002, "model.dropout": 0.02, "model.layers": 5, "model.residual": True},
        {"train.lr": 0.004, "model.dropout": 0.3, "model.layers": 3, "model.residual": True},
    ]
    space = {d.key: d for d in focus_space(search, top, top[0])}
    # log space: [log 0.002, log 0.01] widened by 10% of the span each side
    lo, hi = math.log(0.002), math.log(0.01)
    pad = 0.1 * (hi - lo)
    assert space["train.lr"].kind == "log_uniform"
    assert space["train.lr"].values == pytest.approx((math.exp(lo - pad), math.exp(hi + pad)))
    # [0.02, 0.3] + 0.028 each side, clipped at 0 below
    assert space["model.dropout"].values == pytest.approx((0.0, 0.328))
    # [3, 5] + 0.2 each side -> [2.8, 5.2] -> outwards to whole numbers
    assert space["model.layers"].values == (2, 6)
    assert space["model.residual"] == Dimension("model.residual", "fixed", (False,))
    assert space["train.batch_size"] == Dimension("train.batch_size", "fixed", (8,))


def test_focus_collapses_a_single_value_to_fixed():
    search = parse_search({"space": {"model.dropout": {"uniform": [0.0, 0.5]}}})
    (d,) = focus_space(search, [{"model.dropout": 0.2}], {"model.dropout": 0.2})
    assert d == Dimension("model.dropout", "fixed", (0.2,))


def test_parse_rejects_wrong_types():
    with pytest.raises(ConfigError, match="search.trials"):
        parse_search({"trials": "many", "space": {"a.b": {"fixed": 1}}})
    with pytest.raises(ConfigError, match="no key 'trails'"):
        parse_search({"trails": 3, "space": {"a.b": {"fixed": 1}}})
