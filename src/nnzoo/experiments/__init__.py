"""Experiments: one command trains a family of runs and summarises them.

Two kinds, one registry. A *study* (``nnzoo study NAME``) compares runs in a study folder that
``nnzoo report`` can rebuild (see `nnzoo.experiments.folder`); a *recipe*
(``nnzoo reproduce NAME``) regenerates one published table.

=================  ======  ====================================================================
lr-sweep           study   SGD at several learning rates, a fixed number of epochs each
convergence        study   each learning rate until the monitored accuracy stops moving
capacity           study   several models (base / deeper / wider): accuracy, parameters per layer
grad-mean          study   mean, mean |.| and norm of the gradients over the first training steps
gradient-flow      study   ||dL/dh_t|| against t for recurrent cells on a long-lag task
long-lag           study   accuracy against sequence length for recurrent cells on that task
init               study   zeros / large random / He initial weights of a NumPy network (2-D data)
regularization     study   none / L2 / dropout on a NumPy network that overfits 2-D data
activations        study   sigmoid, tanh, ReLU, leaky ReLU, ELU and their derivatives, plotted
larnn-har          recipe  the LARNN paper's UCI HAR table
larnn-har-search   recipe  the LARNN paper's two-round hyperparameter search
catvnoncat         recipe  the course's NumPy logistic regression and 4-layer net, to the digit
sonar              recipe  the mines-vs-rocks MLP by repeated stratified 10-fold cross-validation
pima               recipe  the first Keras tutorial's network on Pima diabetes, honestly scored
=================  ======  ====================================================================

Each experiment is one module that registers an `Experiment`; what they share is split by job:
``options`` (flags, list and cell-spec parsing, configs from typed values), ``plan`` (one
picklable task per run, trained or picked up, through `nnzoo.runs.pool`), ``sections`` (the
plots and report sections studies share) and ``folder`` (the study folder, its record and
``--results`` publishing).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError

# kind -> the command that runs it
KINDS = {"study": "nnzoo study", "recipe": "nnzoo reproduce"}


@dataclass(frozen=True)
class Experiment:
    """One registered experiment.

    Attributes:
        name: its name on the command line (``lr-sweep``).
        kind: ``"study"`` or ``"recipe"``.
        help: one line for ``--help`` and ``nnzoo list``.
        add_arguments: adds its flags to an argparse parser. A study's parser is its own; the
            recipes share ``nnzoo reproduce``'s, each adding the flags only it reads.
        run: a study's ``run(args, study_dir) -> record`` (a JSON-able dict with at least
            ``"title"``), written to study.json by `nnzoo.experiments.folder.run_study`; a
            recipe's ``run(args) -> exit status``, which writes its published files itself.
        report: a study's ``report(study_dir, record) -> sections``, the (heading, Markdown)
            pairs of its report, rebuilt from study.json by ``nnzoo report``; None for a recipe
            (its report is written by ``run``).
        record: a recipe's record file name (``larnn-har.json``), the JSON document it writes
            beside its report, with ``"recipe"`` set to its name.
        rebuild: a recipe's ``rebuild(folder, record) -> report path``, which writes its report
            again from the record alone: ``nnzoo report FOLDER`` (or ``FOLDER/RECORD``) calls it.
    """

    name: str
    kind: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[..., Any]
    report: Callable[[Path, dict[str, Any]], list[tuple[str, str]]] | None = None
    record: str | None = None
    rebuild: Callable[[Path, dict[str, Any]], Path] | None = None


_REGISTERED: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (each experiment module calls this once)."""
    if experiment.kind not in KINDS:
        raise ValueError(f"experiment {experiment.name!r}: unknown kind {experiment.kind!r}")
    if experiment.kind == "study" and experiment.report is None:
        raise ValueError(f"study {experiment.name!r}: expected a report function")
    if (experiment.record is None) != (experiment.rebuild is None):
        raise ValueError(f"recipe {experiment.name!r}: expected both a record and a rebuild")
    if experiment.name in _REGISTERED:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    _REGISTERED[experiment.name] = experiment
    return experiment


# modules of this package that hold shared machinery, not an experiment
SHARED = frozenset({"crossval", "folder", "options", "plan", "scratch_runs", "sections"})


def _registry() -> dict[str, Experiment]:
    """Every experiment by name: each module of this package but `SHARED` registers its own
    on import, so a new experiment is one new file."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name not in SHARED:
            importlib.import_module(f"{__name__}.{module.name}")
    return _REGISTERED


def experiments(kind: str | None = None) -> list[Experiment]:
    """The registered experiments (of ``kind``, when given): studies first, then by name."""
    found = [e for e in _registry().values() if kind in (None, e.kind)]
    return sorted(found, key=lambda e: (list(KINDS).index(e.kind), e.name))


def list_experiments(kind: str | None = None) -> list[str]:
    return [e.name for e in experiments(kind)]


def get_experiment(name: str, kind: str | None = None) -> Experiment:
    """The experiment ``name``; one line naming the right command, or the valid names."""
    found = _registry().get(name)
    if found is not None and kind not in (None, found.kind):
        raise ConfigError(
            f"{name!r} is a {found.kind}, not a {kind}; run it with `{KINDS[found.kind]} {name}`"
        )
    if found is None:
        raise ConfigError(
            f"unknown {kind or 'experiment'} {name!r}; expected one of: "
            f"{', '.join(list_experiments(kind))}"
        )
    return found


def rebuild_report(study_dir: str | Path) -> Path:
    """Write report.md and report.html of a finished study again from its study.json."""
    from nnzoo.experiments.folder import load_record, write_study_report

    record = load_record(Path(study_dir))
    experiment = get_experiment(record["study"], "study")
    return write_study_report(experiment, Path(study_dir), record)


def find_recipe_record(path: str | Path) -> tuple[Experiment, Path] | None:
    """The recipe whose record ``path`` is, or the one record a folder ``path`` holds; None if
    ``path`` holds none (it may be a run, study or search folder)."""
    path = Path(path)
    recipes = [e for e in experiments("recipe") if e.record]
    if path.is_file():
        found = [e for e in recipes if e.record == path.name]
        return (found[0], path) if found else None
    found = [(e, path / e.record) for e in recipes if (path / e.record).is_file()]
    if len(found) > 1:
        names = ", ".join(str(p) for _, p in found)
        raise ConfigError(
            f"{path}: holds the records of {len(found)} recipes ({names}); name one, e.g. "
            f"`nnzoo report {found[0][1]}`"
        )
    return found[0] if found else None


def rebuild_recipe_report(experiment: Experiment, record_path: Path) -> Path:
    """Write a recipe's report again from its record file."""
    from nnzoo.io import read_json

    again = f"run `nnzoo reproduce {experiment.name}` again to rewrite it"
    record = read_json(record_path, ConfigError, hint=again, kind=dict)
    if record.get("recipe", experiment.name) != experiment.name:  # older records name none
        raise ConfigError(
            f"{record_path}: a record of {record['recipe']!r}, not of `nnzoo reproduce "
            f"{experiment.name}`; give that recipe's folder, or {again}"
        )
    try:
        return experiment.rebuild(record_path.parent, record)
    except (KeyError, TypeError, IndexError) as e:
        raise ConfigError(
            f"{record_path}: malformed record ({type(e).__name__}: {e}); run "
            f"`nnzoo reproduce {experiment.name}` again to rewrite it"
        ) from None
