"""Run configuration: one frozen dataclass per component, saved as TOML.

A run's config has the tables ``[data]``, ``[model]`` and ``[train]`` (and ``[task]`` when it is
not the default); it is written to every run folder as ``config.toml`` and stored inside every
checkpoint, so a checkpoint alone says how it was made. Each field is documented once, in the
``Attributes:`` section of its table's docstring (`field_docs`); ``nnzoo train --help`` is made
from those texts and the dataclass defaults.

Building a config: ``load_config(path, overrides, values=...)`` reads a TOML file, then applies
``key=value`` texts (``model.hidden=64``, ``model.cell_options.window=38``, read as TOML values),
then typed values (``{"train.lr": 0.006}``); `config_with` applies typed values to a config in
memory. Every name is checked, and so is every number: each numeric field declares the values
it accepts (`ranged`, beside its default; `field_range` reads it back), and a config whose value
is outside them, NaN or infinite, fails when it is built, naming the key, the value, the range
and the fix.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from nnzoo.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Typed config values by path: {"train.lr": 0.006}, or (path, value) pairs applied in order.
Values = Mapping[str, Any] | Iterable[tuple[str, Any]]


@dataclass(frozen=True)
class Range:
    """The values a numeric config field accepts: finite numbers within the given bounds.

    Attributes:
        ge, gt: the value must be >= ``ge`` / > ``gt`` (None: no lower bound).
        le, lt: the value must be <= ``le`` / < ``lt`` (None: no upper bound).
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False  # (an int is finite, and may be too large for a float)
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )

    def describe(self, integer: bool) -> str:
        """``"an integer >= 1 and <= 1000"``, ``"a finite number > 0"``, ..."""
        bounds = [
            f"{op} {_number(bound)}"
            for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if bound is not None
        ]
        kind = "an integer" if integer else "a finite number"
        return f"{kind} {' and '.join(bounds)}" if bounds else kind


def _number(bound: float) -> str:
    """A bound as the messages write it: powers of two above a million as 2**k."""
    if isinstance(bound, int) and bound > 10**6 and bound & (bound - 1) == 0:
        return f"2**{bound.bit_length() - 1}"
    if isinstance(bound, int) and bound > 10**6 and (bound + 1) & bound == 0:
        return f"2**{bound.bit_length()} - 1"
    return repr(bound)


def ranged(
    default: float,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """A numeric dataclass field with its default and the `Range` it accepts."""
    return field(default=default, metadata={"range": Range(ge=ge, gt=gt, le=le, lt=lt)})


def field_range(cls: type, name: str) -> Range | None:
    """The `Range` declared for field ``name`` of config dataclass ``cls`` (None: none)."""
    for f in fields(cls):
        if f.name == name:
            return f.metadata.get("range")
    raise KeyError(name)


def check_number(where: str, value: Any, rule: Range, integer: bool, example: Any) -> None:
    """Raise `ConfigError` unless ``value`` is a number (an integer if ``integer``) in
    ``rule``; the message names ``where`` (``section.key``), the range and how to set it."""
    is_number = not isinstance(value, bool) and isinstance(value, int if integer else int | float)
    if is_number and value in rule:
        return
    raise ConfigError(
        f"{where}={shown_value(value)}: expected {rule.describe(integer)}; "
        f"set {where} in the config or pass --set {where}={example!r}"
    )


def shown_value(value: Any) -> str:
    """``repr(value)``, cut to its first characters when it is long (a 400-digit integer)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:16]}... ({len(text)} characters)"


def check_ranges(section: str, config: Any) -> None:
    """Check every field of ``config`` (a config dataclass) that declares a `Range`."""
    for f in fields(config):
        rule = f.metadata.get("range")
        if rule is not None:
            value = getattr(config, f.name)
            integer = isinstance(f.default, int)
            check_number(f"{section}.{f.name}", value, rule, integer, f.default)


@dataclass(frozen=True)
class DataConfig:
    """Which dataset, where from, and the reader's options.

    Attributes:
        name: the dataset, one of nnzoo list datasets; sequences reads your own .npz or .csv file.
        path: the file or folder to read; empty: <data root>/<name>.
        split: how the validation set is drawn from the training part (`nnzoo.data.splits`),
            one of nnzoo list splits: stratified, random, group, kfold, group-kfold or given;
            empty: the dataset's own (uci-har: group, by subject; sequences: stratified by
            class; generated data, fashion-mnist and the image folders, whose readers draw
            their own stratified validation share: given).
        split_seed: seeds the choice of the validation (and held-out test) rows; it stays put
            when train.seed changes, so every seed sees the same split.
        options: the reader's and the split's options, e.g. test_path (sequences),
            val_fraction (stratified, random), val_groups (group), folds and fold (kfold).
    """

    name: str = "uci-har"
    path: str = ""
    split: str = ""
    split_seed: int = ranged(0, ge=0, lt=2**63)  # torch.Generator().manual_seed's range
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ranges("data", self)


@dataclass(frozen=True)
class ModelOptions:
    """The options of the default model, ``sequence-classifier``, and their defaults.

    They may be written at the top of ``[model]`` (``hidden = 64``), and ``nnzoo train`` has a
    flag for each (``--hidden 64``); any other model takes those of them it accepts
    (``dropout``). See `ModelConfig` for how such a key reaches ``[model.options]``.

    Attributes:
        cell: the recurrent cell of every layer, one of nnzoo list cells.
        hidden: hidden units of every recurrent layer (per direction when bidirectional).
        layers: stacked recurrent layers.
        bidirectional: every layer also reads the sequence backwards; the two directions are
            concatenated.
        residual: sum connections around the layers whose input and output widths match.
        dropout: dropout between recurrent layers (and in models that take it).
        projection: width of the Linear + activation applied to every step before the encoder;
            0: none.
        projection_activation: that projection's activation: relu, tanh, elu, gelu, sigmoid,
            leaky_relu or none.
        readout: how the sequence becomes one vector: last (each sequence's own last step),
            mean, or attention.
        cell_options: the cell's own options, e.g. window and num_heads for larnn.
    """

    cell: str = "lstm"
    # Widths up to 2**24 keep every weight's element count within what torch can describe;
    # `nnzoo.models.create_model` bounds the parameter count of the whole model.
    hidden: int = ranged(32, ge=1, le=2**24)
    layers: int = ranged(2, ge=1, le=1000)
    bidirectional: bool = False
    residual: bool = False
    dropout: float = ranged(0.0, ge=0, lt=1)
    projection: int = ranged(0, ge=0, le=2**24)
    projection_activation: str = "relu"
    readout: str = "last"
    cell_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_ranges("model", self)


# {option: default} of `ModelOptions`, in its order.
MODEL_OPTIONS: dict[str, Any] = {f.name: f.default for f in fields(ModelOptions)}
MODEL_OPTIONS["cell_options"] = {}
DEFAULT_MODEL = "sequence-classifier"


def check_model_options(options: Mapping[str, Any]) -> None:
    """Check the numbers among a model's options that are `ModelOptions` keys against their
    ranges; other values (``hidden = [600, 120]`` for deeper) are the factory's to check."""
    for f in fields(ModelOptions):
        value = options.get(f.name)
        rule = f.metadata.get("range")
        if rule is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        check_number(f"model.{f.name}", value, rule, isinstance(f.default, int), f.default)


@dataclass(frozen=True, init=False)
class ModelConfig:
    """A model from the model registry: its name and its keyword options.

    ``options`` (``[model.options]``) holds the keyword options of the model's factory
    (``widths = [512, 512]`` for mlp); they are checked against the factory's signature when
    the model is built (`nnzoo.models.model_options`), and an option not given keeps the
    factory's default. A `ModelOptions` key may also be written at the top of ``[model]``, or
    passed as a keyword (``ModelConfig(cell="gru", hidden=64)``): it sets that option (a table,
    cell_options, adds its keys to the option's), except that at its `ModelOptions` default it
    unsets it, so the model's own default holds (configs written before ``[model.options]``
    existed list every such key, at those defaults). A key at the top wins over the same key
    in ``options``. A
    sequence-classifier's options equal to their defaults are left out, so two configs of the
    same model are equal.

    Attributes:
        name: the model, one of nnzoo list models.
        options: the model's keyword options, e.g. cell, hidden and layers for
            sequence-classifier (see its flags below), widths for mlp.
    """

    name: str = DEFAULT_MODEL
    options: dict[str, Any] = field(default_factory=dict)

    def __init__(
        self, name: str = DEFAULT_MODEL, options: dict[str, Any] | None = None, **shorthand: Any
    ) -> None:
        options = dict(options or {})
        unknown = sorted(set(shorthand) - set(MODEL_OPTIONS))
        if unknown:
            raise ConfigError(
                f"model.{unknown[0]}: unknown; the top of [model] holds name, options and "
                f"{', '.join(MODEL_OPTIONS)}; set other options under [model.options]"
            )
        for key, value in shorthand.items():
            if isinstance(value, dict):  # cell_options: added to those in options
                value = {**options.get(key, {}), **value}
            if value == MODEL_OPTIONS[key]:
                options.pop(key, None)
            else:
                options[key] = value
        if name == DEFAULT_MODEL:  # its defaults are those of ModelOptions
            options = {
                k: v for k, v in options.items() if k not in MODEL_OPTIONS or v != MODEL_OPTIONS[k]
            }
        check_model_options(options)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "options", options)

    def option(self, key: str) -> Any:
        """A `ModelOptions` option as the model gets it: its value, else its default."""
        return self.options.get(key, MODEL_OPTIONS[key])

    @property
    def label(self) -> str:
        """What titles, plots and run folder names call the model: the cell of a sequence
        classifier, else the model's name (an MLP run is "mlp", not the unused default cell)."""
        return self.option("cell") if self.name == DEFAULT_MODEL else self.name

    def digest_view(self) -> dict[str, Any]:
        """The non-default values as the flat table of configs written before
        ``[model.options]``: name, the `ModelOptions` keys in their order, then ``options``,
        so that `RunConfig.digest`, and so the run folder names, stay what they were."""
        out: dict[str, Any] = {} if self.name == DEFAULT_MODEL else {"name": self.name}
        rest = {}
        for key, value in self.options.items():
            if key in MODEL_OPTIONS and value != MODEL_OPTIONS[key]:
                out[key] = value
            else:
                rest[key] = value
        ordered = {k: out[k] for k in ["name", *MODEL_OPTIONS] if k in out}
        return {**ordered, "options": rest} if rest else ordered


EPOCHS_MAX = 1_000_000  # the bound of every count of epochs
# The torch devices a run may name: a type, then optionally ":" and an index.
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")
DEVICE_PATTERN = re.compile(rf"auto|({'|'.join(DEVICE_TYPES)})(:\d+)?")
PRECISIONS = ("32", "bf16", "16-mixed")


def check_device_name(where: str, device: Any) -> None:
    """Fail unless ``device`` is written as a torch device nnzoo runs on (cpu, cuda, cuda:1,
    mps, xpu); whether this machine has it is `nnzoo.engine.runtime.check_device`'s to say."""
    if isinstance(device, str) and DEVICE_PATTERN.fullmatch(device):
        return
    from nnzoo.engine.runtime import available_devices

    raise ConfigError(
        f"{where}={device!r}: expected auto, cpu, cuda, cuda:N (N = 0, 1, ...), mps or xpu; this "
        f"machine has {', '.join(available_devices())}; set {where} in the config or pass "
        "--device cpu"
    )


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and stopping rules of ``fit``.

    The defaults suit a small dataset of one's own, as Keras's do: batches of 32, so that a few
    hundred sequences make 10 to 20 optimizer steps an epoch, and 30 epochs, a few hundred steps
    in all, enough for a small recurrent network with Adam at 1e-3. The epoch the monitor
    picks is the one tested, so a run longer than needed costs time, not accuracy; raise the
    epochs for larger models. (Until these became the defaults they were 256 and 100: one step
    an epoch on a few hundred sequences. `RunConfig.digest` still measures against those, see
    ``DIGEST_REFERENCE``.)

    Attributes:
        seed: seeds the initial weights, the order of the batches and the dropout masks.
        epochs: passes over the training set.
        batch_size: sequences per optimizer step.
        optimizer: sgd, adam, adamw or rmsprop.
        lr: the learning rate.
        momentum: momentum of sgd and rmsprop.
        weight_decay: L2 penalty on the weights (decoupled for adamw).
        lr_step_every: multiply the lr by lr_step_factor every this many epochs; 0: off.
        lr_step_factor: the factor of lr_step_every.
        plateau_patience: multiply the lr by plateau_factor when the monitor has not improved
            for this many epochs (ReduceLROnPlateau); 0: off.
        plateau_factor: the factor of plateau_patience.
        early_stopping: stop when the monitor has not improved for this many epochs; 0: off.
        time_limit: minutes of training (steps and validation, over all the run's epochs,
            resumes included); no epoch is started that would end past it (`TimeLimit`); 0: off.
        monitor: the metric that picks the best epoch (checkpoints/best.pt, the weights that
            are tested) and that plateau_patience and early_stopping watch: val_accuracy,
            val_loss, accuracy or loss.
        clip_norm: clip the norm of all the gradients together to this; 0: off.
        clip_value: clip every gradient element to [-clip_value, clip_value]; 0: off.
        device: the torch device, e.g. cpu, cuda or cuda:1; auto: CUDA when the machine has
            it, else cpu. Under torchrun, cuda is each process's own GPU (cuda:LOCAL_RANK).
        precision: 32 (float32), bf16 (autocast to bfloat16) or 16-mixed (autocast to
            float16 with gradient scaling; CUDA only).
        threads: torch threads; 0: half the CPU cores this process may use, at least one
            (torch's own default, every core, is many times slower on a busy machine).
        tensorboard: also write TensorBoard logs to <run folder>/tensorboard (needs the
            tensorboard package).
        checkpoint_every: write checkpoints/last.pt (and a new best.pt) every this many
            epochs and after the last one; a killed run resumes from the latest written.
            Raise it when epochs are tiny (full-batch gradient descent for thousands of
            iterations), where saving every epoch would cost more than training.
    """

    # seed < 2**32: every epoch reseeds torch with seed * 1_000_003 + epoch
    # (`nnzoo.engine.fit.epoch_seed`), which torch.manual_seed must accept (< 2**64).
    seed: int = ranged(0, ge=0, lt=2**32)
    epochs: int = ranged(30, ge=1, le=EPOCHS_MAX)
    batch_size: int = ranged(32, ge=1, lt=2**31)
    optimizer: str = "adam"
    lr: float = ranged(1e-3, gt=0)
    momentum: float = ranged(0.0, ge=0, lt=1)
    weight_decay: float = ranged(0.0, ge=0)
    lr_step_every: int = ranged(0, ge=0, le=EPOCHS_MAX)
    lr_step_factor: float = ranged(0.75, gt=0, le=1)
    plateau_patience: int = ranged(0, ge=0, le=EPOCHS_MAX)
    plateau_factor: float = ranged(0.5, gt=0, lt=1)  # as torch's ReduceLROnPlateau
    early_stopping: int = ranged(0, ge=0, le=EPOCHS_MAX)
    time_limit: float = ranged(0.0, ge=0)
    monitor: str = "val_accuracy"
    clip_norm: float = ranged(0.0, ge=0)
    clip_value: float = ranged(0.0, ge=0)
    device: str = "cpu"
    precision: str = "32"
    threads: int = ranged(0, ge=0, le=4096)
    tensorboard: bool = False
    checkpoint_every: int = ranged(1, ge=1, le=EPOCHS_MAX)

    def __post_init__(self) -> None:
        check_ranges("train", self)
        check_device_name("train.device", self.device)
        if self.precision == 32 and not isinstance(self.precision, bool):  # precision = 32
            object.__setattr__(self, "precision", "32")
        if self.precision not in PRECISIONS:
            raise ConfigError(
                f"train.precision={self.precision!r}: expected one of {', '.join(PRECISIONS)}; "
                "set train.precision in the config or pass --precision 32"
            )


# `RunConfig.digest` hashes a config's differences from the defaults, except that these fields
# are measured against the defaults they had before they changed: a config that sets them to
# those values keeps the digest, and so the run folder name, it had then.
DIGEST_REFERENCE: dict[str, dict[str, Any]] = {"train": {"epochs": 100, "batch_size": 256}}


@dataclass(frozen=True)
class TaskConfig:
    """The kind of problem (`nnzoo.tasks`): how batches are made, the loss, the metrics.

    Attributes:
        name: the task: classify (one label per example), seq2seq (a target sequence per
            source sequence) or next-step (the next element of a sequence).
        options: the task's own options (``[task.options]``), e.g. binary = true for classify,
            kind = "multi-hot" for next-step.
    """

    name: str = "classify"
    options: dict[str, Any] = field(default_factory=dict)


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

    def changes(
        self, reference: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Only the values that differ from the defaults, per table; ``reference`` puts other
        values in place of some defaults (``{"train": {"epochs": 100}}``)."""
        out = {}
        for section in SECTIONS:
            values = getattr(self, section)
            if section == "task" and values == TaskConfig():
                continue  # not in the digest of a classify run, as before tasks existed
            default = {**dataclasses.asdict(type(values)()), **(reference or {}).get(section, {})}
            out[section] = {k: v for k, v in dataclasses.asdict(values).items() if v != default[k]}
        return out

    def digest(self) -> str:
        """8 hex digits that change whenever anything in the config changes.

        Computed over the non-default values only, so that a field added later (with a default)
        leaves the digests, and so the run folder names, of existing configs as they were; a
        default that changed is measured against its old value (``DIGEST_REFERENCE``), for
        the same reason.
        """
        changes = self.changes(DIGEST_REFERENCE)
        changes["model"] = self.model.digest_view()
        return hashlib.sha256(tomli_w.dumps(changes).encode()).hexdigest()[:8]

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
        try:
            return float(value)
        except OverflowError:  # an integer beyond every float
            raise ConfigError(
                f"{where}={shown_value(value)}: expected a finite number, and this one is too "
                f"large for a float; set {where} in the config or pass --set {where}={default!r}"
            ) from None
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
        defaults = {f.name: field_default(f) for f in fields(cls)}
        if cls is ModelConfig:
            defaults.update(MODEL_OPTIONS)  # the shorthand keys (see ModelConfig)
        bad = sorted(set(values) - set(defaults))
        if bad:
            raise ConfigError(
                f"{source}: [{section}] has no key {bad[0]!r}; expected one of: "
                f"{', '.join(defaults)}"
            )
        kwargs = {}
        for key, value in values.items():
            kwargs[key] = _coerce(section, key, value, defaults[key])
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
            raise ConfigError(
                f"{where}: {part} is not a table; set {part} itself, or remove its value first"
            )
    node[parts[-1]] = value


def parse_override(item: str) -> tuple[str, Any]:
    """``"model.hidden=64"`` -> ``("model.hidden", 64)``: the value is read by `parse_value`."""
    key, sep, text = item.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or len(parts) < 2 or not all(parts):
        raise ConfigError(f"override {item!r}: expected SECTION.KEY=VALUE, e.g. model.hidden=64")
    return key, parse_value(text.strip())


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set ``section.key=value`` (or ``section.table.key=value``) entries in a nested dict."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, value = parse_override(item)
        set_path(raw, key.split("."), value, f"override {item!r}")
    return raw


def apply_values(raw: dict[str, Any], values: Values) -> dict[str, Any]:
    """A copy of the nested dict with each ``section.key`` (or ``section.table.key``) path set
    to its value, in order; the values are typed (``{"train.lr": 0.006}``), not text."""
    raw = copy.deepcopy(raw)
    for key, value in values.items() if isinstance(values, Mapping) else values:
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(f"{key!r}: expected a config path SECTION.KEY, e.g. train.lr")
        set_path(raw, parts, value, f"{key}={value!r}")
    return raw


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: a folder, not a config file; give a file (a .toml config)")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; check the path") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; give a TOML config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror}); check its permissions") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the file there") from None


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    values: Values | None = None,
) -> RunConfig:
    """The defaults, then the TOML file (if any), then the ``KEY=VALUE`` texts of
    ``overrides``, then the typed ``values`` (``{"train.lr": 0.006}``, or pairs in order)."""
    raw = read_toml(path) if path else {}
    raw = apply_overrides(raw, overrides or [])
    raw = apply_values(raw, values or {})
    return config_from_dict(raw, source=str(path) if path else "config")


# How a run is executed, not what it is: two configs that differ only here are one experiment
# (a run kept in the ledger, `nnzoo.runs.ledger`, or a search resumed on another machine).
EXECUTION = ("device", "threads", "tensorboard", "checkpoint_every")


def experiment(config: RunConfig) -> RunConfig:
    """``config`` with its `EXECUTION` fields at their defaults: what the ledger matches, and
    whose digest names a run in it (the digest of a CPU run's own config)."""
    default = TrainConfig()
    execution = {k: getattr(default, k) for k in EXECUTION}
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **execution))


def config_with(config: RunConfig, values: Values) -> RunConfig:
    """``config`` with the typed ``values`` set: ``config_with(c, {"train.lr": 0.006})``."""
    return config_from_dict(apply_values(config.to_dict(), values))


def field_default(f: dataclasses.Field) -> Any:
    """A dataclass field's default value (a fresh one for a ``default_factory``)."""
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """``{field: its documentation}``, from the ``Attributes:`` section of ``cls``'s docstring.

    An entry is ``name: text``, indented under the heading; more-indented lines continue it.
    """
    out: dict[str, str] = {}
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    if "Attributes:" not in lines:
        return out
    name = None
    for line in lines[lines.index("Attributes:") + 1 :]:
        entry = re.fullmatch(r" {4}(\w+): (.*)", line)
        if entry:
            name, text = entry.groups()
            out[name] = text.strip()
        elif name is not None and line.startswith(" " * 8):
            out[name] += " " + line.strip()
        elif line.strip():  # the next section
            break
    return out


def config_from_toml(text: str, *, source: str = "config") -> RunConfig:
    try:
        return config_from_dict(tomllib.loads(text), source=source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e}); fix the text there") from None
