"""Flags the experiments share, the parsing of list and cell flags, and run configs built from
typed values.

A run's config is built in memory: typed values (``{"train.lr": 0.1}``) go onto the raw config
dict with `nnzoo.config.set_path`, ``--set SECTION.KEY=VALUE`` texts are parsed as TOML (as
``nnzoo train --set`` does), in the order given; `make_config` checks the result.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nnzoo.config import RunConfig, apply_overrides, config_from_dict, parse_value, set_path
from nnzoo.errors import ConfigError

# -- configs -----------------------------------------------------------------------------------


def make_config(*layers: Mapping[str, Any] | Sequence[str]) -> RunConfig:
    """The defaults, then each layer in order, checked (`nnzoo.runs.train.check_config`).

    A layer is either typed values by dotted key (``{"model.cell_options.window": 38}``) or a
    list of ``--set`` texts (``["train.lr=0.1"]``, each value parsed as TOML).
    """
    from nnzoo.runs.train import check_config

    raw: dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, Mapping):
            for key, value in layer.items():
                set_path(raw, key.split("."), value, f"{key}={value!r}")
        else:
            raw = apply_overrides(raw, list(layer))
    config = config_from_dict(raw)
    check_config(config)
    return config


def fill_data_root(args: argparse.Namespace) -> None:
    """``--data-root`` when given, else the default data root (`nnzoo.data.data_root`)."""
    if args.data_root is None:
        from nnzoo.data import data_root

        args.data_root = str(data_root())


# -- options shared by every study -------------------------------------------------------------


def add_common_arguments(p: argparse.ArgumentParser, default_out: str) -> None:
    from nnzoo.data import DATA_ROOT_HELP

    p.add_argument("--out", default=default_out, help=f"study folder (default: {default_out})")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    add_parallel_arguments(p, jobs=1)
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument(
        "--results",
        help="also write the report as this .md file (plots copied beside it) and a .json",
    )


def add_parallel_arguments(p: argparse.ArgumentParser, jobs: int) -> None:
    """--jobs (processes side by side; 0: `nnzoo.runs.pool.auto_jobs`) and --threads."""
    p.add_argument(
        "--jobs", type=int, default=jobs,
        help=f"runs trained in parallel processes (0: as many as the cores hold at --threads "
        f"per run; default {jobs})",
    )  # fmt: skip
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads per run (0: half the usable cores, at least 1)",
    )


def check_common(args: argparse.Namespace) -> None:
    if args.jobs < 0:
        raise ConfigError(f"--jobs={args.jobs}: expected an integer >= 0 (0: automatic)")
    if args.threads < 0:
        raise ConfigError(f"--threads={args.threads}: expected an integer >= 0")
    if args.jobs == 0:
        from nnzoo.runs.pool import auto_jobs

        args.jobs = auto_jobs(args.threads)


def add_training_arguments(
    p: argparse.ArgumentParser, *, epochs: int, lr: float = 0.1, model: str | None = "mlp"
) -> None:
    """The course's image-training setup: Fashion-MNIST, SGD, batch 64."""
    p.add_argument("--data", default="fashion-mnist", help="dataset (default fashion-mnist)")
    if model is not None:
        p.add_argument("--model", default=model, help=f"registered model (default {model})")
    p.add_argument("--optimizer", default="sgd", help="sgd | adam | adamw | rmsprop (default sgd)")
    p.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr:g})")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs per run (default {epochs})")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="any other config value, e.g. --set model.options.dropout=0.1 (repeatable)",
    )


def training_config(
    args: argparse.Namespace, settings: Mapping[str, Any] | None = None
) -> RunConfig:
    """The RunConfig of one run: the training flags, then ``--set``, then ``settings``."""
    flags = {
        "data.name": args.data,
        "train.optimizer": args.optimizer,
        "train.lr": args.lr,
        "train.momentum": args.momentum,
        "train.batch_size": args.batch_size,
        "train.epochs": args.epochs,
        "train.seed": args.seed,
    }
    if getattr(args, "model", None):
        flags["model.name"] = args.model
    return make_config(flags, args.set, settings or {})


def course_setup(options: dict[str, Any], epochs: int | None = None) -> bool:
    """Whether a study ran with the course's setup, so that its published numbers compare:
    Fashion-MNIST, plain SGD, batch 64, no other config changes (and ``epochs``, if given)."""
    return (
        options.get("data") == "fashion-mnist"
        and options.get("optimizer") == "sgd"
        and options.get("momentum") == 0.0
        and options.get("batch_size") == 64
        and not options.get("set")
        and (epochs is None or options.get("epochs") == epochs)
    )


# -- options shared by every recipe ------------------------------------------------------------


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``nnzoo reproduce`` that more than one recipe reads (each recipe's
    ``add_arguments`` adds its own to the same parser)."""
    from nnzoo.data import DATA_ROOT_HELP

    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--epochs", type=int, help="epochs per run (overrides the recipe's budget)")
    p.add_argument("--out", help="where the Markdown + JSON go (default: results/)")
    p.add_argument("--runs", help="where the run folders go")
    add_parallel_arguments(p, jobs=0)


# -- list flags and cell specs -----------------------------------------------------------------


def parse_list(flag: str, text: str, kind: Callable[[str], Any] = str) -> list[Any]:
    """``"1,0.1,0.01"`` -> [1.0, 0.1, 0.01]; one line naming the flag on anything else."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{flag}={text!r}: expected a comma-separated list")
    try:
        values = [kind(t) for t in items]
    except ValueError:
        raise ConfigError(
            f"{flag}={text!r}: expected a comma-separated list of {kind.__name__}s"
        ) from None
    repeated = [v for i, v in enumerate(values) if v in values[:i]]
    if repeated:  # two runs would share one folder
        raise ConfigError(f"{flag}={text!r}: {repeated[0]!r} is listed twice; list each value once")
    return values


CELLS_HELP = (
    "comma-separated registered cells, each optionally with cell options after a colon, "
    "separated by semicolons: CELL[:KEY=VALUE[;KEY=VALUE]], e.g. "
    "elman,gru,lstm,lstm:forget_bias=1 (quote the list for the shell when it holds a ';')"
)


@dataclass(frozen=True)
class CellSpec:
    """One entry of a study's ``--cells``: a registered cell and its options.

    ``label`` is the entry as typed (``lstm:forget_bias=1``), the name in tables and plots;
    ``key`` its filesystem-safe form for run folders and plot files (``lstm-forget_bias1``),
    the bare cell name when there are no options, so plain cells keep their folders.
    """

    label: str
    name: str
    options: tuple[tuple[str, str], ...] = ()  # (key, value as typed: a TOML value)

    @property
    def key(self) -> str:
        parts = [self.name]
        for key, text in self.options:
            value = re.sub(r"[^A-Za-z0-9._+-]+", "_", text.strip("'\""))
            parts.append(f"{key}{value}")
        return "-".join(parts)

    def settings(self) -> dict[str, Any]:
        """The options as typed config values: ``{"model.cell_options.forget_bias": 1}``."""
        return {f"model.cell_options.{key}": parse_value(text) for key, text in self.options}


def parse_cells(flag: str, text: str) -> list[CellSpec]:
    """``"gru,lstm:forget_bias=1"`` -> its CellSpecs, names and option names checked."""
    from nnzoo.cells import CELLS

    specs = []
    for item in parse_list(flag, text):
        name, colon, rest = (part.strip() for part in item.partition(":"))
        if name not in CELLS:
            raise ConfigError(
                f"{flag}: unknown cell {name!r}; expected some of: {', '.join(CELLS.names())}"
            )
        options: dict[str, str] = {}
        for entry in rest.split(";") if colon else []:
            key, equals, value = (part.strip() for part in entry.partition("="))
            if not (key and equals and value):
                raise ConfigError(
                    f"{flag}: {item!r}: expected CELL:KEY=VALUE[;KEY=VALUE], "
                    "e.g. lstm:forget_bias=1"
                )
            accepted = CELLS.options(name)
            if key not in accepted:
                raise ConfigError(
                    f"{flag}: {item!r}: cell {name!r} has no option {key!r}; "
                    f"expected some of: {', '.join(accepted) or '(none)'}"
                )
            if key in options:
                raise ConfigError(
                    f"{flag}: {item!r}: option {key!r} is given twice; give each option once"
                )
            options[key] = value
        specs.append(CellSpec(item, name, tuple(options.items())))
    keys: dict[str, str] = {}
    for spec in specs:
        if spec.key in keys:
            raise ConfigError(
                f"{flag}: {keys[spec.key]!r} and {spec.label!r} would share the run folder "
                f"name {spec.key!r}; expected distinct cells"
            )
        keys[spec.key] = spec.label
    return specs
