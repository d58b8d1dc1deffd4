"""Run configuration: one frozen dataclass per component, saved as TOML.

A run's config has three tables, ``[data]``, ``[model]`` and ``[train]``; it is written to every
run folder as ``config.toml`` and stored inside every checkpoint, so a checkpoint alone says how
it was made. ``load_config(path, overrides)`` reads a TOML file and applies ``key=value``
overrides (``model.hidden=64``, ``model.cell_options.window=38``), checking every name.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from nnzoo.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, where from, and the reader's options (e.g. ``val_subjects``)."""

    name: str = "uci-har"
    path: str = ""  # a file or folder; empty: <data root>/<name>
    split_seed: int = 0  # picks the validation (and held-out test) rows; fixed across seeds
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelConfig:
    """A model from the model registry.

    The top-level fields are ``sequence-classifier``'s; another model takes those of them it
    accepts (``dropout``), and its own options from the ``options`` table (``[model.options]``
    ``widths = [512, 512]``). See `nnzoo.models` for how they reach the model.
    """

    name: str = "sequence-classifier"
    cell: str = "lstm"
    hidden: int = 32
    layers: int = 2
    bidirectional: bool = False
    residual: bool = False
    dropout: float = 0.0
    projection: int = 0  # width of the Linear + activation before the encoder; 0: none
    projection_activation: str = "relu"
    readout: str = "last"  # last | mean | attention
    cell_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # the model's other keyword options


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and stopping rules of ``fit``."""

    seed: int = 0
    epochs: int = 100
    batch_size: int = 256
    optimizer: str = "adam"  # sgd | adam | adamw | rmsprop
    lr: float = 1e-3
    momentum: float = 0.0  # sgd and rmsprop
    weight_decay: float = 0.0  # L2 (decoupled for adamw)
    lr_step_every: int = 0  # multiply the lr by lr_step_factor every N epochs; 0: off
    lr_step_factor: float = 0.75
    plateau_patience: int = 0  # ReduceLROnPlateau patience in epochs; 0: off
    plateau_factor: float = 0.5
    early_stopping: int = 0  # EarlyStopping patience in epochs; 0: off
    monitor: str = "val_accuracy"  # the metric that picks the best epoch
    clip_norm: float = 0.0  # clip the global gradient norm; 0: off
    clip_value: float = 0.0  # clip every gradient element; 0: off
    device: str = "cpu"
    threads: int = 0  # torch threads; 0: torch's default
    tensorboard: bool = False


@dataclass(frozen=True)
class TaskConfig:
    """The kind of problem (`nnzoo.tasks`): how batches are made, the loss, the metrics."""

    name: str = "classify"  # classify | seq2seq | next-step
    options: dict[str, Any] = field(default_factory=dict)  # the task's own options


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    task: TaskConfig = field(default_factory=TaskConfig)

    def to_dict(self) -> dict[str, Any]:
        """Every table; ``[task]`` only when it is not the default (``classify``), so configs
        written before tasks existed read and print as they did."""
        out = dataclasses.asdict(self)
        if self.task == TaskConfig():
            del out["task"]
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def changes(self) -> dict[str, dict[str, Any]]:
        """Only the values that differ from the defaults, per table."""
        out = {}
        for section in SECTIONS:
            values = getattr(self, section)
            if section == "task" and values == TaskConfig():
                continue  # not in the digest of a classify run, as before tasks existed
            default = dataclasses.asdict(type(values)())
            out[section] = {k: v for k, v in dataclasses.asdict(values).items() if v != default[k]}
        return out

    def digest(self) -> str:
        """8 hex digits that change whenever anything in the config changes.

        Computed over the non-default values only, so that a field added later (with a default)
        leaves the digests, and so the run folder names, of existing configs as they were.
        """
        return hashlib.sha256(tomli_w.dumps(self.changes()).encode()).hexdigest()[:8]

    def replace(self, **sections: Any) -> RunConfig:
        return dataclasses.replace(self, **sections)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "task": TaskConfig}


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    """Check one value against the field's default type (ints may stand for floats)."""
    where = f"{section}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}={value!r}: expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}={value!r}: expected an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}={value!r}: expected a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}={value!r}: expected a string")
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}={value!r}: expected a table")
        return dict(value)
    return value  # pragma: no cover


def config_from_dict(raw: dict[str, Any], *, source: str = "config") -> RunConfig:
    """Build a RunConfig from nested dicts, rejecting unknown tables and keys by name."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown table [{unknown[0]}]; expected [data], [model], [train] and [task]"
        )
    sections = {}
    for section, cls in SECTIONS.items():
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        defaults = {f.name: f for f in fields(cls)}
        bad = sorted(set(values) - set(defaults))
        if bad:
            raise ConfigError(
                f"{source}: [{section}] has no key {bad[0]!r}; expected one of: "
                f"{', '.join(defaults)}"
            )
        kwargs = {}
        for key, value in values.items():
            f = defaults[key]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            kwargs[key] = _coerce(section, key, value, default)
        sections[section] = cls(**kwargs)
    return RunConfig(**sections)


def parse_value(text: str) -> Any:
    """A TOML value (``64``, ``0.1``, ``true``, ``"x"``, ``[1, 2]``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(raw: dict[str, Any], parts: list[str], value: Any, where: str) -> None:
    """``raw[p0][p1]...[pn] = value``, creating tables on the way; ``where`` names the setting."""
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {part} is not a table")
    node[parts[-1]] = value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set ``section.key=value`` (or ``section.table.key=value``) entries in a nested dict."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) < 2 or not all(parts):
            raise ConfigError(
                f"override {item!r}: expected SECTION.KEY=VALUE, e.g. model.hidden=64"
            )
        set_path(raw, parts, parse_value(text.strip()), f"override {item!r}")
    return raw


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """The defaults, then the TOML file (if any), then the overrides."""
    raw = read_toml(path) if path else {}
    raw = apply_overrides(raw, overrides or [])
    return config_from_dict(raw, source=str(path) if path else "config")


def config_from_toml(text: str, *, source: str = "config") -> RunConfig:
    try:
        return config_from_dict(tomllib.loads(text), source=source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e})") from None
