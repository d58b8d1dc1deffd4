"""RunConfig: TOML round trips, overrides, errors that name the key, digests."""

import dataclasses
import sys

import pytest

from nnzoo.config import (
    SECTIONS,
    DataConfig,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
    config_from_dict,
    config_from_toml,
    config_with,
    field_docs,
    load_config,
)
from nnzoo.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CUSTOM = RunConfig(
    data=DataConfig(name="sequences", path="a/b.npz", split_seed=3, options={"val_fraction": 0.1}),
    model=ModelConfig(
        cell="larnn", hidden=40, bidirectional=True, dropout=0.25, readout="attention",
        cell_options={"window": 38, "num_heads": 4, "mode": "layer"},
    ),
    train=TrainConfig(seed=7, lr=0.006, optimizer="adamw", clip_norm=1.5, tensorboard=True),
)  # fmt: skip


@pytest.mark.parametrize("config", [RunConfig(), CUSTOM], ids=["defaults", "custom"])
def test_round_trip_through_toml(config):
    text = config.to_toml()
    assert config_from_toml(text) == config
    # the TOML holds exactly the dataclass fields, as a TOML reader sees them
    raw = tomllib.loads(text)
    expected = dataclasses.asdict(config)
    del expected["task"]  # the default task (classify) is not written: older configs read as-is
    assert raw == expected
    assert set(raw) == {"data", "model", "train"}


def test_a_non_default_task_is_written_and_changes_the_digest():
    config = RunConfig(task=TaskConfig("seq2seq", {"direction": "reverse"}))
    raw = tomllib.loads(config.to_toml())
    assert raw["task"] == {"name": "seq2seq", "options": {"direction": "reverse"}}
    assert config_from_toml(config.to_toml()) == config
    assert config.digest() != RunConfig().digest()


def test_load_config_from_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(CUSTOM.to_toml())
    assert load_config(path) == CUSTOM
    assert load_config(path, ["model.hidden=8"]) == CUSTOM.replace(
        model=dataclasses.replace(CUSTOM.model, hidden=8)
    )
    partial = tmp_path / "partial.toml"
    partial.write_text('[model]\ncell = "gru"\n')
    assert load_config(partial) == RunConfig(model=ModelConfig(cell="gru"))


def test_overrides_of_every_kind():
    config = load_config(
        None,
        [
            "model.hidden=64",
            "model.cell_options.window=38",
            "model.cell_options.num_heads=2",
            'model.cell="gru"',
            "model.readout=mean",  # a bare word is a string
            "model.bidirectional=true",
            "train.lr=0.01",
            "train.weight_decay=1",  # an integer where a float is expected
            "train.tensorboard=false",
            "data.options.val_subjects=[1, 2]",
        ],
    )
    expected = RunConfig(
        data=DataConfig(options={"val_subjects": [1, 2]}),
        model=ModelConfig(
            hidden=64, cell="gru", readout="mean", bidirectional=True,
            cell_options={"window": 38, "num_heads": 2},
        ),
        train=TrainConfig(lr=0.01, weight_decay=1.0, tensorboard=False),
    )  # fmt: skip
    assert config == expected
    assert isinstance(config.train.weight_decay, float)


def test_override_replaces_a_value_from_the_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[model]\nhidden = 16\n[model.cell_options]\nwindow = 5\n")
    config = load_config(path, ["model.hidden=64", "model.cell_options.window=38"])
    assert config.model.options["hidden"] == 64
    assert config.model.options["cell_options"] == {"window": 38}


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("optim.lr=0.1", "[optim]"),
        ("model.hiden=64", "'hiden'"),
        ("train.learning_rate=0.1", "'learning_rate'"),
        ("model.hidden=abc", "model.hidden"),
        ("model.hidden=1.5", "model.hidden"),
        ("model.hidden=true", "model.hidden"),
        ("model.bidirectional=1", "model.bidirectional"),
        ("train.lr=true", "train.lr"),
        ("train.lr=fast", "train.lr"),
        ("model.cell=3", "model.cell"),
        ("model.cell_options=3", "model.cell_options"),
        ("model.hidden", "model.hidden"),  # no "="
        ("hidden=3", "hidden=3"),  # no section
        ("model.hidden.x=3", "hidden"),  # hidden is not a table
    ],
)
def test_bad_overrides_name_the_key(override, named):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert named in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_tables_in_a_dict():
    with pytest.raises(ConfigError, match=r"\[model\] must be a table"):
        config_from_dict({"model": 3})
    with pytest.raises(ConfigError, match=r"\[extra\]"):
        config_from_dict({"extra": {}})


def test_invalid_toml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[model\nhidden = \n")
    with pytest.raises(ConfigError, match="broken.toml") as info:
        load_config(path)
    assert "not valid TOML" in str(info.value)
    with pytest.raises(ConfigError, match="missing.toml"):
        load_config(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="binary.toml"):
        load_config(binary)
    with pytest.raises(ConfigError, match="from-text"):
        config_from_toml("= nope", source="from-text")


def test_unknown_key_in_a_file_names_file_and_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[train]\nepochz = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "typo.toml" in str(info.value) and "'epochz'" in str(info.value)


def changed(value):
    """A different value of the same type (a number moves towards the middle of [0, 1] or up
    by one, so it stays within every declared range)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, float) and value < 1:
        return (value + 0.5) / 2 if value != 0.5 else 0.25
    if isinstance(value, int | float):
        return value + 1
    if value == "cpu":
        return "cuda"  # still a device's name (whether there is one is checked at run time)
    if value == "32":
        return "bf16"  # train.precision: another precision
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, dict):
        return {**value, "extra": 1}
    raise AssertionError(type(value))


def every_one_field_change():
    base = RunConfig()
    for section, cls in SECTIONS.items():
        part = getattr(base, section)
        for f in dataclasses.fields(cls):
            new = dataclasses.replace(part, **{f.name: changed(getattr(part, f.name))})
            yield f"{section}.{f.name}", base.replace(**{section: new})


def test_digest_changes_when_any_field_changes():
    base = RunConfig()
    assert base.digest() == RunConfig().digest()  # stable for equal configs
    assert len(base.digest()) == 8 and int(base.digest(), 16) >= 0
    digests = {"base": base.digest()}
    for name, config in every_one_field_change():
        assert config != base, name
        digests[name] = config.digest()
    assert len(set(digests.values())) == len(digests), digests
    total = sum(len(dataclasses.fields(cls)) for cls in SECTIONS.values())
    assert len(digests) == total + 1


def test_digest_ignores_fields_left_at_their_defaults():
    import dataclasses as dc

    from nnzoo.config import RunConfig, TrainConfig, load_config

    config = load_config(None, ["model.hidden=64", "train.lr=0.01"])
    assert config.changes() == {
        "data": {},
        "model": {"options": {"hidden": 64}},
        "train": {"lr": 0.01},
    }
    # A field added later with a default must not rename existing run folders.
    Extended = dc.make_dataclass(
        "TrainConfig", [("new_knob", int, dc.field(default=3))], bases=(TrainConfig,), frozen=True
    )
    extended = RunConfig(config.data, config.model, Extended(**dc.asdict(config.train)))
    assert "new_knob" in extended.to_toml()
    assert extended.digest() == config.digest()
    assert dc.replace(extended, train=Extended(lr=0.01, new_knob=4)).digest() != config.digest()


FLAG_TABLES = (DataConfig, ModelConfig, TrainConfig)


@pytest.mark.parametrize("cls", FLAG_TABLES, ids=lambda cls: cls.__name__)
def test_every_field_is_documented_once_in_its_docstring(cls):
    docs = field_docs(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(docs) == names  # every field, in order, and no entry for a field that is gone
    for name, text in docs.items():
        assert len(text) > 10 and "  " not in text, (name, text)


def test_field_docs_joins_continued_lines_and_stops_at_the_next_section():
    @dataclasses.dataclass
    class Toy:
        """A toy.

        Attributes:
            a: the first line
                and its continuation.
            b: one line.

        Note:
            not a field: c.
        """

        a: int = 0
        b: int = 0

    assert field_docs(Toy) == {"a": "the first line and its continuation.", "b": "one line."}


def test_defaults_for_a_small_dataset_of_ones_own():
    assert (TrainConfig().batch_size, TrainConfig().epochs) == (32, 30)
    assert "32" in TrainConfig.__doc__ and "30 epochs" in TrainConfig.__doc__


def test_typed_values_are_checked_like_text_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[train]\nlr = 0.5\n")
    config = load_config(path, ["train.lr=0.1", "model.hidden=8"], values={"train.lr": 0.006})
    assert config.train.lr == 0.006 and config.model.options == {
        "hidden": 8
    }  # file, texts, then values
    typed = {
        "model.cell_options.window": 38,
        "train.weight_decay": 1,
        "data.options.test_path": "t",
    }
    assert config_with(RunConfig(), typed) == load_config(
        None, ["model.cell_options.window=38", "train.weight_decay=1", "data.options.test_path=t"]
    )
    assert config_with(CUSTOM, {}) == CUSTOM
    pairs = [("model.cell_options", {"window": 3}), ("model.cell_options.num_heads", 2)]
    assert config_with(RunConfig(), pairs).model.options["cell_options"] == {
        "window": 3,
        "num_heads": 2,
    }
    for values, named in [
        ({"model.hidden": 1.5}, "model.hidden"),
        ({"model.hidden": "64"}, "model.hidden"),  # a typed value is not parsed from text
        ({"model.hiden": 3}, "'hiden'"),
        ({"hidden": 3}, "'hidden'"),
        ({"model.hidden.x": 3}, "model.hidden=.*expected an integer"),
        ({"train.lr.x": 3}, "lr is not a table"),
    ]:
        with pytest.raises(ConfigError, match=named):
            config_with(RunConfig(), values)


def test_the_committed_larnn_har_runs_keep_their_names():
    """Their configs were written when batch 256 and 100 epochs were the defaults. A run folder
    is named by its config's digest, a ledger entry by that of the config without its
    execution fields."""
    import json
    import re
    from pathlib import Path

    from nnzoo.config import experiment

    record = json.loads((Path(__file__).parents[1] / "results" / "larnn-har.json").read_text())
    for row in record["models"]:
        saved = config_from_dict(row["config"])
        assert saved.train.batch_size in (256, 1500)  # LSTM-HAR's own protocol: 1500
        for run in row["runs"]:
            seed, digest, entry = re.fullmatch(r".*-s(\d+)-([0-9a-f]{8})(\.json)?", run).groups()
            config = config_with(saved, {"train.seed": int(seed)})
            assert (experiment(config) if entry else config).digest() == digest, run


def test_the_digest_measures_changed_defaults_against_their_old_values():
    import hashlib

    import tomli_w

    old_defaults = RunConfig(train=TrainConfig(epochs=100, batch_size=256))
    empty = {"data": {}, "model": {}, "train": {}}  # what the digest hashed for the defaults
    assert old_defaults.digest() == hashlib.sha256(tomli_w.dumps(empty).encode()).hexdigest()[:8]
    assert RunConfig().digest() != old_defaults.digest()
    assert RunConfig().changes() == empty  # what reports list as changed: the current defaults


def test_model_options_defaults_are_sequence_classifiers_own():
    from nnzoo.config import MODEL_OPTIONS
    from nnzoo.models import MODELS

    factory = MODELS.options("sequence-classifier")
    assert {k: factory[k] for k in MODEL_OPTIONS if k != "cell_options"} == {
        k: v for k, v in MODEL_OPTIONS.items() if k != "cell_options"
    }
    assert factory["cell_options"] is None and MODEL_OPTIONS["cell_options"] == {}


# What `RunConfig.to_toml` wrote for the [model] table before [model.options] existed: every
# field at the top, at its default unless set.
FLAT_MODEL = """
[model]
name = "{name}"
cell = "{cell}"
hidden = {hidden}
layers = 2
bidirectional = false
residual = false
dropout = {dropout}
projection = 0
projection_activation = "relu"
readout = "last"

[model.cell_options]
{cell_options}
[model.options]
{options}
"""


@pytest.mark.parametrize(
    ("flat", "canonical"),
    [
        ({}, {}),
        ({"cell": "gru", "hidden": 8}, {"options": {"cell": "gru", "hidden": 8}}),
        ({"cell_options": "window = 38\n"}, {"options": {"cell_options": {"window": 38}}}),
        ({"name": "mlp", "options": "widths = [4]\n"},
         {"name": "mlp", "options": {"widths": [4]}}),
        ({"name": "mlp", "dropout": 0.2}, {"name": "mlp", "options": {"dropout": 0.2}}),
    ],
)  # fmt: skip
def test_a_flat_model_table_reads_as_name_and_options_with_the_same_digest(flat, canonical):
    values = {"name": "sequence-classifier", "cell": "lstm", "hidden": 32, "dropout": 0.0,
              "cell_options": "", "options": "", **flat}  # fmt: skip
    old = config_from_toml(FLAT_MODEL.format(**values))
    new = config_from_dict({"model": canonical})
    assert old == new
    # The digest hashes the non-default values as the flat table holds them: for the
    # sequence-classifier with hidden 8 that is {"cell": "gru", "hidden": 8} at the top.
    flat_changes = {k: v for k, v in flat.items() if k not in ("cell_options", "options")}
    if "cell_options" in flat:
        flat_changes["cell_options"] = {"window": 38}
    if "options" in flat:
        flat_changes["options"] = {"widths": [4]}
    assert new.model.digest_view() == flat_changes
    assert config_from_toml(new.to_toml()) == new  # and the canonical form reads back


def test_a_key_at_the_top_of_model_sets_or_unsets_its_option():
    assert ModelConfig(cell="gru").options == {"cell": "gru"}
    assert ModelConfig(options={"hidden": 64}, hidden=32).options == {}  # the default: unset
    assert ModelConfig(name="mlp", options={"dropout": 0.3}, dropout=0.0).options == {}
    assert ModelConfig(name="mlp", options={"dropout": 0.0}).options == {"dropout": 0.0}
    merged = ModelConfig(options={"cell_options": {"window": 5}}, cell_options={"num_heads": 2})
    assert merged.options == {"cell_options": {"window": 5, "num_heads": 2}}
    assert ModelConfig(hidden=32) == ModelConfig()  # a default left out: equal configs
    assert ModelConfig(name="mlp").label == "mlp" and ModelConfig(cell="gru").label == "gru"
    with pytest.raises(ConfigError, match="model.hiden: unknown"):
        ModelConfig(hiden=3)
