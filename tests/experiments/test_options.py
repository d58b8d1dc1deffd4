"""Flags, list and cell-spec parsing, and configs built from typed values."""

import argparse

import pytest

from nnzoo.config import load_config
from nnzoo.errors import ConfigError
from nnzoo.experiments.options import (
    CellSpec,
    add_training_arguments,
    make_config,
    parse_cells,
    parse_list,
    training_config,
)


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
    assert specs[2].settings() == {"model.cell_options.forget_bias": 1}
    assert specs[3].settings() == {
        "model.cell_options.peephole": "full",
        "model.cell_options.bias": False,
    }
    assert specs[1].settings() == {}
    odd = parse_cells("--cells", "lstm:forget_bias=-0.5,peephole-lstm:peephole='a/b c'")
    assert [s.key for s in odd] == ["lstm-forget_bias-0.5", "peephole-lstm-peepholea_b_c"]
    assert odd[1].settings() == {"model.cell_options.peephole": "a/b c"}


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


def test_typed_layers_equal_the_same_values_as_override_texts():
    """The reference: `load_config` reading every value as ``--set`` text, in the same order."""
    typed = make_config(
        {"data.name": "first-symbol", "data.options.length": 7, "model.cell": "gru",
         "train.lr": 0.1, "train.momentum": 0.0, "model.bidirectional": True},
        ["train.lr=0.5", "model.cell_options.bias=false"],
        {"train.seed": 3, "model.hidden": 6},
    )  # fmt: skip
    texts = load_config(
        None,
        ["data.name=first-symbol", "data.options.length=7", "model.cell=gru", "train.lr=0.1",
         "train.momentum=0.0", "model.bidirectional=true", "train.lr=0.5",
         "model.cell_options.bias=false", "train.seed=3", "model.hidden=6"],
    )  # fmt: skip
    assert typed == texts and typed.to_toml() == texts.to_toml()
    assert typed.train.lr == 0.5  # the --set text came after the typed flag
    with pytest.raises(ConfigError, match="train.optimizer='adagrad'"):
        make_config({"train.optimizer": "adagrad"})  # checked like any run config


def test_training_config_applies_flags_then_set_then_settings():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    add_training_arguments(p, epochs=10)
    args = p.parse_args(["--lr", "1", "--set", "train.momentum=0.5", "--set", "train.lr=0.2"])
    config = training_config(args, {"model.name": "wider"})
    assert (config.data.name, config.model.name) == ("fashion-mnist", "wider")
    assert (config.train.optimizer, config.train.lr, config.train.momentum) == ("sgd", 0.2, 0.5)
    assert (config.train.batch_size, config.train.epochs, config.train.seed) == (64, 10, 0)
    assert training_config(args, {"train.lr": 0.01}).train.lr == 0.01
