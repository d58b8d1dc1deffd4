"""A ledger: what is kept of finished runs once their run folders are gone.

A recipe whose table costs more CPU time than one machine keeps its run folders for (the UCI HAR
table at the paper's budget: tens of core-hours) is trained a few runs at a time, and each
finished run leaves one small file in the ledger, committed beside the recipe's record::

    <ledger>/<key>.json    {"config": the run's config.toml text, "results": its results.json,
                            "history": its metrics.jsonl rows, "provenance": command, machine,
                            versions and date of the command that trained it}

A later command, on this machine or another, takes a run from the ledger instead of training it
again when the entry's config is the run's config (read back through the same TOML reader as a
run folder's config.toml) but for how it was executed (`nnzoo.config.EXECUTION`: the device, the
threads, TensorBoard, how often checkpoints are written), so a finished run's checkpoints need
not travel and a run trained on a GPU counts for a table trained on CPUs (its provenance names
the machine). It keeps no weights of a finished run: a run taken from it cannot be evaluated
again, only reported.

A run that takes longer than one machine is kept (a LARNN at the paper's size: hours on one
core) is parked instead, unfinished: `park` copies what resuming it needs (config.toml, the
metrics, ``checkpoints/last.pt`` and ``best.pt``) to ``<ledger>/unfinished/<key>/``, to be
committed with the ledger; a later command on another machine puts it back into the run's
folder (`unpark`) and resumes it from its last epoch. The parked copy goes once the run is
kept. A parked run resumes only under the very config that trained it (threads and device
included: its checkpoints record them); otherwise it is trained again from the start.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig, config_from_toml, experiment
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import read_json, write_atomic
from nnzoo.runs.rundir import RunDir
from nnzoo.utils.environment import provenance

UNFINISHED = "unfinished"  # the parked runs' folder in a ledger


class LedgerError(NnzooError):
    """A ledger entry that cannot be read."""


class Ledger:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str, config: RunConfig) -> dict[str, Any] | None:
        """The entry of ``key`` when it holds a run of ``config`` (`experiment`: however it was
        executed); None when there is none or it is a run of another config (which the next
        `put` replaces)."""
        path = self.path(key)
        if not path.exists():
            return None
        hint = "delete it to train that run again"
        entry = read_json(path, LedgerError, hint=hint, kind=dict)
        missing = [k for k in ("config", "results", "history", "provenance") if k not in entry]
        if missing or not isinstance(entry["config"], str):
            what = f"no {', '.join(missing)}" if missing else "its config is not TOML text"
            raise LedgerError(f"{path}: not a ledger entry ({what}); {hint}")
        try:
            kept = config_from_toml(entry["config"], source=str(path))
        except ConfigError as e:
            raise LedgerError(f"{e}; {hint}") from None
        return entry if experiment(kept) == experiment(config) else None

    def put(
        self,
        key: str,
        config: RunConfig,
        results: dict[str, Any],
        history: list[dict[str, Any]],
        trained: dict[str, Any] | None = None,
    ) -> Path:
        """Keep a finished run (one line of JSON: an entry is written once, never edited);
        ``trained``: the run's provenance.json, else this command's."""
        entry = {"config": config.to_toml(), "results": results, "history": history,
                 "provenance": trained or provenance()}  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        return write_atomic(self.path(key), json.dumps(entry, separators=(",", ":")) + "\n")

    # -- unfinished runs ----------------------------------------------------------------------
    def parked(self, key: str) -> RunDir:
        """Where the unfinished run ``key`` is parked: ``unfinished/<key>/``."""
        return RunDir(self.folder / UNFINISHED / key)

    def park(self, key: str, run_dir: str | Path) -> int | None:
        """Keep the unfinished run in ``run_dir`` (what resuming it needs,
        `RunDir.resume_files`) as ``key``, replacing an older copy; returns the epoch it has
        reached, None (nothing parked) for a finished run or one without a checkpoint yet."""
        from nnzoo.engine.checkpoint import load_checkpoint

        run = RunDir(run_dir)
        if not run.unfinished:
            return None
        epoch = load_checkpoint(run.checkpoint("last"))["epoch"]  # one that does not load: error
        target = self.parked(key).path
        staging = target.with_name(f".{key}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        copy_resume_files(run, RunDir(staging))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return epoch

    def unpark(self, key: str, config: RunConfig, run_dir: str | Path) -> int | None:
        """Put the parked run ``key`` back into ``run_dir`` to resume it, when it is a run of
        exactly ``config`` and further on than what ``run_dir`` holds; returns its epoch, else
        None (nothing to resume from there)."""
        from nnzoo.engine.checkpoint import load_checkpoint

        parked = self.parked(key)
        if not parked.checkpoint("last").is_file():
            return None
        hint = f"delete {parked.path} to train that run from the start"
        try:
            same = parked.read_config() == config
            epoch = load_checkpoint(parked.checkpoint("last"))["epoch"]
        except NnzooError as e:
            raise LedgerError(
                f"{parked.path}: a parked run that cannot be read ({e}); {hint}"
            ) from None
        if not same:
            return None
        here = RunDir(run_dir)
        if here.checkpoint("last").is_file():
            try:
                if load_checkpoint(here.checkpoint("last"))["epoch"] >= epoch:
                    return None  # this machine got further
            except NnzooError:
                pass  # a damaged local checkpoint: the parked one replaces it
        copy_resume_files(parked, here)
        return epoch

    def unpark_done(self, key: str) -> None:
        """Remove the parked copy of ``key`` (its run is kept now)."""
        shutil.rmtree(self.parked(key).path, ignore_errors=True)


def copy_resume_files(source: RunDir, target: RunDir) -> None:
    """``source``'s `RunDir.resume_files` over ``target``'s; one ``source`` lacks (no best
    checkpoint yet) is removed from ``target`` too."""
    for a, b in zip(source.resume_files(), target.resume_files(), strict=True):
        b.unlink(missing_ok=True)
        if a.is_file():
            b.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(a, b)
