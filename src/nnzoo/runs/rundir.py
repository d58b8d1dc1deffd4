"""`RunDir`: the one owner of a run folder's layout. Nothing else spells these names::

    config.toml        the run's config (also inside every checkpoint)
    metrics.jsonl      one JSON object per epoch; metrics.csv the same as a table
    checkpoints/       last.pt every epoch, best.pt at the epoch the monitor picked
    results.json       the one test evaluation and the run's summary
    provenance.json    command, machine, versions and date of the training
    plots/             curves.png and the task's plots
    report.md, .html   the run's report
    tensorboard/       event files, when asked for
    evaluation/        what ``nnzoo evaluate`` writes

Reads go through `nnzoo.io`'s checked readers; writes through its atomic writer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig, config_from_toml
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import read_json, read_jsonl, read_text, write_atomic, write_json


class Entry:
    """A file or folder of a run folder: ``RunDir(p).results`` is ``p / "results.json"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, run: RunDir | None, owner: type) -> Any:
        return self if run is None else run.path / self.name


class RunDir:
    """A run folder at ``path`` (it need not exist yet)."""

    config = Entry("config.toml")
    metrics = Entry("metrics.jsonl")
    metrics_csv = Entry("metrics.csv")
    results = Entry("results.json")
    provenance = Entry("provenance.json")
    report = Entry("report.md")
    checkpoints = Entry("checkpoints")
    plots = Entry("plots")
    tensorboard = Entry("tensorboard")
    evaluation = Entry("evaluation")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def checkpoint(self, which: str = "last") -> Path:
        """checkpoints/<which>.pt (``best`` or ``last``)."""
        return self.checkpoints / f"{which}.pt"

    # -- writing ------------------------------------------------------------------------------
    def prepare(self, config: RunConfig, fresh: bool = False) -> None:
        """Create the folder, or check that it holds this config (``fresh`` clears it first)."""
        if fresh and self.path.exists():
            for folder in (self.checkpoints, self.plots, self.tensorboard):
                shutil.rmtree(folder, ignore_errors=True)
            for file in (self.config, self.metrics, self.metrics_csv, self.results, self.report):
                file.unlink(missing_ok=True)
        if self.config.exists() and self.read_config() != config:
            raise ConfigError(
                f"{self.path} holds a run with a different config; pass another --out, "
                "or --fresh to replace it"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config, config.to_toml())

    def write_results(self, results: dict[str, Any]) -> Path:
        return write_json(self.results, results)

    def write_provenance(self, env: dict[str, Any]) -> Path:
        return write_json(self.provenance, env)

    # -- reading ------------------------------------------------------------------------------
    def read_config(self, error: type[NnzooError] = ConfigError) -> RunConfig:
        return config_from_toml(read_text(self.config, error), source=str(self.config))

    def read_history(self, error: type[NnzooError] = NnzooError) -> list[dict[str, Any]]:
        """metrics.jsonl; [] when the run logged no epoch (or has no file yet)."""
        if not self.metrics.is_file():
            return []
        return read_jsonl(self.metrics, error)

    def read_results(self, error: type[NnzooError] = NnzooError) -> dict[str, Any]:
        return read_json(self.results, error, hint="train the run again", kind=dict)

    def read_provenance(self, error: type[NnzooError] = NnzooError) -> dict[str, Any] | None:
        """provenance.json, or None in folders written before it existed."""
        if not self.provenance.is_file():
            return None
        return read_json(self.provenance, error, kind=dict)

    def finished(self, config: RunConfig) -> dict[str, Any] | None:
        """The results of a finished run of exactly this config, or None."""
        if not (self.results.is_file() and self.config.is_file()):
            return None
        if self.read_config() != config:
            return None
        return self.read_results()
