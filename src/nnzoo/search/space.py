"""The ``[search]`` table of a search config: settings, the search space and its checks.

A search config is a run config (``[data]``, ``[model]``, ``[train]``) plus::

    [search]
    trials = 20                 # finished (complete or pruned) trials to reach
    objective = "val_accuracy"  # val_accuracy (maximize) | val_loss (minimize); never test_*
    sampler = "tpe"             # tpe | hyperopt-compatible | random | grid
    seed = 0
    pruner = "none"             # none | median | hyperband
    name = ""                   # the study's name; empty: the config file's stem
    focus_top_k = 5             # trials that set a focused round's ranges (--focus-from)
    processes = 1               # > 1: each trial trains under torchrun on this many processes

    [search.space]              # keyed by config path, one kind per entry
    "train.lr" = { log_uniform = [0.004, 0.009] }
    "model.dropout" = { uniform = [0.05, 0.5] }
    "model.layers" = { int = [2, 3] }            # both ends included
    "model.residual" = { categorical = [true, false] }
    "train.batch_size" = { fixed = 256 }

Every key is checked against the config schema (and the model built once) with the low and the
high end of its range, so a typo fails before any trial starts.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from nnzoo.config import RunConfig, config_from_dict, set_path
from nnzoo.errors import ConfigError

KINDS = ("uniform", "log_uniform", "int", "categorical", "fixed")
SAMPLERS = ("tpe", "hyperopt-compatible", "random", "grid")
PRUNERS = ("none", "median", "hyperband")
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}


@dataclass(frozen=True)
class Dimension:
    """One entry of ``[search.space]``: ``kind`` and its ``values`` (a range, choices or one)."""

    key: str
    kind: str
    values: tuple[Any, ...]

    @property
    def tunable(self) -> bool:
        return self.kind != "fixed"

    def to_dict(self) -> dict[str, Any]:
        value = self.values[0] if self.kind == "fixed" else list(self.values)
        return {self.kind: value}

    def suggest(self, trial) -> Any:
        """The trial's value, drawn through Optuna (``fixed`` draws nothing)."""
        if self.kind == "uniform":
            return trial.suggest_float(self.key, *self.values)
        if self.kind == "log_uniform":
            return trial.suggest_float(self.key, *self.values, log=True)
        if self.kind == "int":
            return trial.suggest_int(self.key, *self.values)
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.values))
        return self.values[0]

    def grid(self) -> list[Any]:
        if self.kind == "int":
            return list(range(self.values[0], self.values[1] + 1))
        if self.kind == "categorical":
            return list(self.values)
        raise ConfigError(
            f"[search.space] {self.key!r}: the grid sampler needs int or categorical "
            f'dimensions, not {self.kind}; use sampler = "random" or "tpe"'
        )


@dataclass(frozen=True)
class SearchConfig:
    trials: int = 20
    objective: str = "val_accuracy"
    sampler: str = "tpe"
    seed: int = 0
    pruner: str = "none"
    name: str = ""
    focus_top_k: int = 5
    processes: int = 1
    space: tuple[Dimension, ...] = field(default_factory=tuple)

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective]

    def space_dict(self) -> dict[str, Any]:
        return {d.key: d.to_dict() for d in self.space}


def number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"[search.space] {key!r}: {value!r} is not a number; expected a number such as 0.01"
        )
    return value


def parse_dimension(key: str, spec: Any) -> Dimension:
    """``{ kind = value }`` -> a checked Dimension."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(
            f"[search.space] {key!r}: expected one of {{ {' | '.join(KINDS)} = ... }}, "
            f"e.g. {{ log_uniform = [0.0001, 0.01] }}"
        )
    kind, value = next(iter(spec.items()))
    if kind == "fixed":
        return Dimension(key, kind, (value,))
    if kind == "categorical":
        if not isinstance(value, list) or not value:
            raise ConfigError(f"[search.space] {key!r}: categorical needs a non-empty list")
        return Dimension(key, kind, tuple(value))
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"[search.space] {key!r}: {kind} needs [low, high]")
    low, high = (number(key, v) for v in value)
    if kind == "int":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"[search.space] {key!r}: int needs integer ends, got {value}")
        if low > high:
            raise ConfigError(
                f"[search.space] {key!r}: low {low} > high {high}; give [low, high] with "
                "low <= high"
            )
    elif low >= high:
        raise ConfigError(
            f"[search.space] {key!r}: empty range [{low}, {high}]; low must be < high "
            "(use { fixed = ... } for one value)"
        )
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"[search.space] {key!r}: log_uniform needs low > 0, got {low}")
    if kind != "int":
        low, high = float(low), float(high)
    return Dimension(key, kind, (low, high))


def parse_search(raw: Any, *, source: str = "config") -> SearchConfig:
    """The ``[search]`` table -> SearchConfig; every bad entry is one ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a [search] table (see `nnzoo search --help`)")
    raw = dict(raw)
    space_raw = raw.pop("space", None)
    known = {f for f in SearchConfig.__dataclass_fields__ if f != "space"}
    bad = sorted(set(raw) - known)
    if bad:
        raise ConfigError(
            f"{source}: [search] has no key {bad[0]!r}; expected one of: "
            f"{', '.join(sorted(known))}, space"
        )
    defaults = SearchConfig()
    for key, value in raw.items():
        expected = type(getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError(f"{source}: search.{key}={value!r}: expected {expected.__name__}")
    search = SearchConfig(**raw)
    if search.objective.startswith("test"):
        raise ConfigError(
            f"search.objective={search.objective!r}: the test split never drives a search; "
            "use val_accuracy or val_loss"
        )
    if search.objective not in OBJECTIVES:
        raise ConfigError(
            f"search.objective={search.objective!r}: expected val_accuracy or val_loss"
        )
    if search.sampler not in SAMPLERS:
        raise ConfigError(f"search.sampler={search.sampler!r}: expected {', '.join(SAMPLERS)}")
    if search.pruner not in PRUNERS:
        raise ConfigError(f"search.pruner={search.pruner!r}: expected {', '.join(PRUNERS)}")
    if search.trials < 1:
        raise ConfigError(
            f"search.trials={search.trials}: expected an integer >= 1; set trials in the "
            "config's [search] table"
        )
    if search.focus_top_k < 1:
        raise ConfigError(f"search.focus_top_k={search.focus_top_k}: expected >= 1")
    if search.processes < 1:
        raise ConfigError(f"search.processes={search.processes}: expected an integer >= 1")
    if search.processes > 1 and search.pruner != "none":
        raise ConfigError(
            f"search.processes={search.processes} with search.pruner={search.pruner!r}: a trial "
            "trained under torchrun reports its epochs only when it ends, so it cannot be "
            'pruned; set pruner = "none" or processes = 1'
        )
    if not isinstance(space_raw, dict) or not space_raw:
        raise ConfigError(f"{source}: expected a non-empty [search.space] table")
    space = tuple(parse_dimension(k, v) for k, v in space_raw.items())
    if search.sampler == "grid":
        points = math.prod(len(d.grid()) for d in space if d.tunable)
        if search.trials > points:
            raise ConfigError(
                f"search.trials={search.trials} is more than the grid's {points} points; set "
                f"trials in [search] to at most {points}"
            )
    return SearchConfig(**{**raw, "space": space})


def with_values(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw config with ``section.key`` (or deeper) paths set to ``values``."""
    raw = copy.deepcopy(base)
    for key, value in values.items():
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise ConfigError(
                f"[search.space] {key!r}: expected a config path SECTION.KEY, e.g. train.lr"
            )
        set_path(raw, parts, value, f"[search.space] {key!r}")
    return raw


def trial_config(base: dict[str, Any], search: SearchConfig, values: dict[str, Any]) -> RunConfig:
    """The run config of one trial; the objective is also the metric that picks its best epoch."""
    raw = with_values(base, {"train.monitor": search.objective, **values})
    return config_from_dict(raw, source="search config")


def check_space(base: dict[str, Any], search: SearchConfig) -> None:
    """Build the config (and the model) at each end of every range: unknown names fail here."""
    from nnzoo.runs.train import check_config

    def ends(d: Dimension) -> list[Any]:
        return [d.values[0], d.values[-1]] if d.kind != "categorical" else list(d.values)

    middle = {d.key: d.values[0] for d in search.space}
    for d in search.space:
        for value in ends(d):
            try:
                check_config(trial_config(base, search, {**middle, d.key: value}))
            except ConfigError as e:
                raise ConfigError(f"[search.space] {d.key!r} = {value!r}: {e}") from None


# -- focused second round -------------------------------------------------------------------
FOCUS_RULE = (
    "categorical dimensions are fixed to the best trial's value; each numeric range becomes "
    "[min, max] of the top-k trials' values, widened by 10% of that span on each side (in log "
    "space for log_uniform; outwards to whole numbers for int), clipped to the original range; "
    "a range that collapses to one value becomes fixed; the best trial's params are enqueued first"
)


def focus_space(
    search: SearchConfig, top: list[dict[str, Any]], best: dict[str, Any]
) -> tuple[Dimension, ...]:
    """Round 2's space from round 1's top-k trials' params (best first); see FOCUS_RULE."""
    out = []
    for d in search.space:
        seen = [p[d.key] for p in top if d.key in p]
        if not d.tunable or not seen:
            out.append(d)
            continue
        if d.kind == "categorical":
            out.append(Dimension(d.key, "fixed", (best.get(d.key, seen[0]),)))
            continue
        to, back = (math.log, math.exp) if d.kind == "log_uniform" else (float, float)
        lo, hi = to(min(seen)), to(max(seen))
        pad = 0.1 * (hi - lo)
        low, high = max(d.values[0], back(lo - pad)), min(d.values[1], back(hi + pad))
        if d.kind == "int":
            low, high = max(d.values[0], math.floor(low)), min(d.values[1], math.ceil(high))
            low, high = int(low), int(high)
        if low >= high:
            out.append(Dimension(d.key, "fixed", (min(seen) if d.kind != "int" else low,)))
        else:
            out.append(Dimension(d.key, d.kind, (low, high)))
    return tuple(out)
