"""Every number of a config has a declared range, checked when the config is read; devices.

The ranges are checked against what their consumers accept: torch's seeding, optimizers and
schedulers (the independent references), so a config that reads is one torch will run.
"""

import dataclasses
import math
import subprocess
import sys

import pytest
import torch

from nnzoo.cli import main
from nnzoo.config import (
    SECTIONS,
    ModelOptions,
    Range,
    TrainConfig,
    config_from_toml,
    field_default,
    field_range,
    load_config,
)
from nnzoo.engine import runtime
from nnzoo.engine.fit import epoch_seed
from nnzoo.errors import ConfigError, NnzooError

CONFIG_CLASSES = [*SECTIONS.values(), ModelOptions]


def numeric_fields():
    for cls in CONFIG_CLASSES:
        for f in dataclasses.fields(cls):
            default = field_default(f)
            if isinstance(default, int | float) and not isinstance(default, bool):
                yield cls, f


def test_every_numeric_field_declares_a_range_that_holds_its_default():
    found = list(numeric_fields())
    assert len(found) >= 18  # seeds, sizes, rates, factors, counts: none may go unbounded
    for cls, f in found:
        rule = field_range(cls, f.name)
        assert isinstance(rule, Range), f"{cls.__name__}.{f.name} declares no range"
        assert f.default in rule, f"{cls.__name__}.{f.name}: default outside its range"
        assert rule.ge is not None or rule.gt is not None, f"{f.name}: no lower bound"


def test_a_field_added_without_a_range_is_found():
    extended = dataclasses.make_dataclass(
        "TrainConfig",
        [("new_rate", float, dataclasses.field(default=0.1))],
        bases=(TrainConfig,),
        frozen=True,
    )
    assert field_range(extended, "new_rate") is None


def message(override):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("train.weight_decay=-1", "train.weight_decay=-1.0: expected a finite number >= 0"),
        ("train.momentum=-0.5", "train.momentum=-0.5: expected a finite number >= 0 and < 1"),
        ("train.seed=99999999999999999999", "train.seed=99999999999999999999: expected an int"),
        ("train.lr_step_factor=nan", "train.lr_step_factor=nan: expected a finite number > 0"),
        ("train.clip_norm=nan", "train.clip_norm=nan: expected a finite number >= 0"),
        ("train.clip_value=inf", "train.clip_value=inf: expected a finite number >= 0"),
        ("train.lr=-inf", "train.lr=-inf: expected a finite number > 0"),
        ("train.plateau_factor=1", "train.plateau_factor=1.0: expected a finite number > 0"),
        ("train.threads=-1", "train.threads=-1: expected an integer >= 0"),
        ("train.epochs=0", "train.epochs=0: expected an integer >= 1"),
        ("data.split_seed=-3", "data.split_seed=-3: expected an integer >= 0"),
        ("model.layers=0", "model.layers=0: expected an integer >= 1"),
        ("model.dropout=1", "model.dropout=1.0: expected a finite number >= 0 and < 1"),
        ("model.options.dropout=nan", "model.dropout=nan: expected a finite number >= 0"),
    ],
)
def test_an_out_of_range_value_names_key_value_range_and_fix(override, problem):
    text = message(override)
    assert text.startswith(problem), text
    key = problem.split("=")[0]
    assert f"set {key} in the config or pass --set {key}=" in text


def test_a_huge_integer_is_shortened_and_one_beyond_floats_is_refused():
    text = message("train.seed=1" + "0" * 400)
    assert "(401 characters)" in text and len(text) < 200
    text = message("train.lr=1" + "0" * 400)
    assert text.startswith("train.lr=1000") and "too large for a float" in text


def test_the_seed_bound_is_what_every_epoch_seed_of_torch_accepts():
    rule = field_range(TrainConfig, "seed")
    largest = rule.lt - 1
    epochs = field_range(TrainConfig, "epochs").le
    torch.manual_seed(epoch_seed(largest, epochs))  # the largest seed torch must take: no error
    torch.Generator().manual_seed(epoch_seed(largest, epochs))
    assert TrainConfig(seed=largest).seed == largest
    with pytest.raises(ConfigError, match=r"train.seed=4294967296: expected an integer >= 0"):
        TrainConfig(seed=largest + 1)
    with pytest.raises(ValueError, match="Overflow"):  # the seed of the report: torch refuses
        torch.manual_seed(epoch_seed(99999999999999999999, 1))
    torch.Generator().manual_seed(field_range(SECTIONS["data"], "split_seed").lt - 1)


def tiny_model():
    return torch.nn.Linear(2, 1)


@pytest.mark.parametrize("name", ["momentum", "weight_decay"])
@pytest.mark.parametrize("value", [-1.0, -1e-9])
def test_what_torch_optimizers_refuse_the_config_refuses(name, value):
    for opt in (torch.optim.SGD, torch.optim.RMSprop):
        with pytest.raises(ValueError):
            opt(tiny_model().parameters(), lr=0.1, **{name: value})
    with pytest.raises(ConfigError, match=f"train.{name}={value!r}: expected a finite number"):
        TrainConfig(**{name: value})


@pytest.mark.parametrize("name", ["momentum", "weight_decay", "clip_norm", "lr_step_factor"])
def test_nan_that_torch_lets_through_the_config_refuses(name):
    """torch takes NaN here and trains on NaN weights, or skips the clipping or the decay."""
    torch.optim.SGD(tiny_model().parameters(), lr=0.1, momentum=math.nan, weight_decay=math.nan)
    with pytest.raises(ConfigError, match=f"^train.{name}=nan: expected a finite number"):
        TrainConfig(**{name: math.nan})


@pytest.mark.parametrize("value", [1.0, 1.5])
def test_what_torchs_plateau_scheduler_refuses_the_config_refuses(value):
    opt = torch.optim.SGD(tiny_model().parameters(), lr=0.1)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=value)
    with pytest.raises(ConfigError, match="train.plateau_factor="):
        TrainConfig(plateau_factor=value)


@pytest.mark.parametrize("name", ["plateau_factor", "lr_step_factor"])
@pytest.mark.parametrize("value", [0.0, -0.5])
def test_a_factor_that_would_zero_or_flip_the_learning_rate_is_refused(name, value):
    with pytest.raises(ConfigError, match=f"train.{name}={value!r}: expected a finite number > 0"):
        TrainConfig(**{name: value})


def test_the_values_just_inside_every_bound_are_accepted():
    TrainConfig(momentum=0.999, weight_decay=0.0, lr_step_factor=1.0, plateau_factor=0.999)
    TrainConfig(clip_norm=0.0, clip_value=1e30, lr=1e-12, threads=4096, epochs=1_000_000)
    load_config(None, ["model.hidden=16777216", "model.layers=1000", "model.projection=0"])


def test_a_toml_file_with_nan_names_the_key_and_not_the_file_text(tmp_path):
    text = "[train]\n# secret-looking comment 12345\nclip_norm = nan\n"
    with pytest.raises(ConfigError) as info:
        config_from_toml(text, source="run.toml")
    assert str(info.value).startswith("train.clip_norm=nan: expected a finite number >= 0")
    assert "secret" not in str(info.value)
    path = tmp_path / "run.toml"
    path.write_text("[train]\nlr_step_factor = nan\nlr_step_every = 2\n")
    with pytest.raises(ConfigError, match=r"^train.lr_step_factor=nan: expected a finite"):
        load_config(path)


# -- devices ----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["bogus", "gpu", "cuda:", "cuda:x", "CPU", ""])
def test_a_misspelt_device_fails_on_reading_with_the_devices_of_this_machine(device):
    text = message(f"train.device={device!r}".replace("'", '"'))
    assert text.startswith(f"train.device={device!r}: expected auto, cpu, cuda, cuda:N")
    assert f"this machine has {', '.join(runtime.available_devices())};" in text
    assert "pass --device cpu" in text


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps", "xpu:0"])
def test_a_well_spelt_device_reads_on_any_machine(device):
    assert load_config(None, [f'train.device="{device}"']).train.device == device


def without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


def test_cuda_on_a_machine_without_it_fails_when_the_run_starts(monkeypatch):
    without_cuda(monkeypatch)
    monkeypatch.setattr(runtime, "_count", lambda kind: 0)
    with pytest.raises(ConfigError) as info:
        runtime.check_device("cuda")
    text = str(info.value)
    assert text.startswith("train.device='cuda': this machine has no cuda device")
    assert "devices here: cpu;" in text and "pass --device cpu" in text
    assert runtime.check_device("cpu") == torch.device("cpu")


def test_a_cuda_index_beyond_the_machines_devices_lists_those_it_has(monkeypatch):
    monkeypatch.setattr(runtime, "_count", lambda kind: 2 if kind == "cuda" else 0)
    assert runtime.available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert runtime.check_device("cuda:1") == torch.device("cuda:1")
    assert runtime.check_device("cuda") == torch.device("cuda")
    with pytest.raises(ConfigError) as info:
        runtime.check_device("cuda:2")
    text = str(info.value)
    assert text.startswith("train.device='cuda:2': this machine has 2 cuda devices")
    assert "devices here: cpu, cuda:0, cuda:1;" in text and "pass --device cuda" in text
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda"):
        runtime.check_device("bogus")


def test_available_devices_agree_with_torch():
    expected = ["cpu"]
    if torch.cuda.is_available():
        expected += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    assert runtime.available_devices()[: len(expected)] == expected
    for device in runtime.available_devices():
        torch.zeros(1, device=device)  # each one listed works


def test_set_threads_refuses_a_negative_count_with_the_fix():
    with pytest.raises(ConfigError, match=r"threads=-1: .*pass --threads 0"):
        runtime.set_threads(-1)
    assert issubclass(ConfigError, NnzooError)


# -- the command line -------------------------------------------------------------------------

TINY = ["--data", "first-symbol", "--set", "data.options.train_size=8", "--set",
        "data.options.val_size=4", "--set", "data.options.test_size=4", "--set",
        "data.options.length=3", "--epochs", "1", "--hidden", "3", "--quiet"]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--weight-decay", "-1"], "train.weight_decay=-1.0: expected a finite number >= 0"),
        (["--optimizer", "sgd", "--momentum", "-0.5"], "train.momentum=-0.5: expected"),
        (["--seed", "99999999999999999999"], "train.seed=99999999999999999999: expected"),
        (["--lr-step-every", "1", "--set", "train.lr_step_factor=nan"], "lr_step_factor=nan"),
        (["--set", "train.clip_norm=nan"], "train.clip_norm=nan: expected a finite number"),
        (["--device", "bogus"], "train.device='bogus': expected auto, cpu, cuda"),
        (["--hidden", "10000000"], "parameters even for 1 input feature and 2 classes"),
        (["--set", "data.options.train_size=1000000000000"], "above the limit of 1,000,000,000"),
    ],
)
def test_nnzoo_train_prints_one_line_and_exits_2(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code = main(["train", *TINY, *argv, "--out", str(tmp_path / "run")])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("nnzoo: error:") and needle in lines[0], lines[0]
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was trained or written


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "nnzoo", "train", *TINY, "--set", "train.clip_norm=nan",
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "nnzoo: error: train.clip_norm=nan: expected a finite number >= 0; set train.clip_norm "
        "in the config or pass --set train.clip_norm=0.0"
    ]
