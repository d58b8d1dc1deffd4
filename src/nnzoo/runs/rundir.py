"""The folders nnzoo writes, each with one owner of its names. Nothing else spells them.

`RunDir`, a run folder (``nnzoo train``)::

    config.toml        the run's config (also inside every checkpoint)
    metrics.jsonl      one JSON object per epoch; metrics.csv the same as a table
    checkpoints/       last.pt every epoch, best.pt at the epoch the monitor picked
    results.json       the one test evaluation and the run's summary
    provenance.json    command, machine, versions and date of the training
    plots/             curves.png and the task's plots
    report.md, .html   the run's report
    tensorboard/       event files, when asked for
    evaluation/        what ``nnzoo evaluate`` writes
    .training.lock     while the run trains: the process id that holds the folder

`StudyDir`, a study folder (``nnzoo study``)::

    study.json         the study's name, options, rows and provenance
    runs/<key>/        one run folder per run
    plots/             the study's own plots
    report.md, .html   the study's report

`SearchDir`, a search folder (``nnzoo search``)::

    search.json        the search summed up; focus.json: a focused round's rule and space
    search.journal     the Optuna storage (unless search.json names another)
    trials/<n>/        one run folder per trial
    plots/             the analysis plots
    report.md, .html   the analysis report

A comparison of runs (``nnzoo report RUN RUN``) is a plain `Folder`: plots/ and report.md.
A report links its plots relative to its folder (`Folder.link`), so the folder can move.
Reads go through `nnzoo.io`'s checked readers; writes through its atomic writer.

`RunDir.prepare` checks that the folder can be written before a run starts, holds it for this
process (`hold`: a second process training the same folder is one line, not two writers
interleaving its metrics and checkpoints), removes the temporary files a killed run left there,
and says what it created, so that a run that cannot start leaves no half-made folder behind
(`RunDir.discard`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO, Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: folders are not held (see `hold`)
    fcntl = None  # type: ignore[assignment]

from nnzoo.config import RunConfig, config_from_toml
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.io import (
    as_write_error,
    check_writable,
    clean_temporaries,
    read_json,
    read_jsonl,
    read_text,
    write_atomic,
    write_error,
    write_json,
)

OUT_HINT = "pass another --out (a new folder, or a run folder of the same config)"


class Entry:
    """A file or folder of a folder: ``RunDir(p).results`` is ``p / "results.json"``; on the
    class, ``RunDir.results`` is the Entry itself (``.name``: ``"results.json"``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, folder: Folder | None, owner: type) -> Any:
        return self if folder is None else folder.path / self.name


class Folder:
    """A folder at ``path`` (it need not exist yet) with a report and its plots."""

    report = Entry("report.md")
    plots = Entry("plots")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def plot(self, name: str) -> Path:
        """plots/<name>.png."""
        return self.plots / f"{name}.png"

    def link(self, path: str | os.PathLike) -> str:
        """``path`` (inside the folder) as the report links it: relative, with ``/``."""
        return Path(path).relative_to(self.path).as_posix()


class Prepared(NamedTuple):
    """What `RunDir.prepare` created: the folders it made (the run folder first, then those
    above it), or, when the run folder was there, the names it held before."""

    new_folders: tuple[Path, ...]
    entries: frozenset[str] | None
    held: IO[str] | None = None  # the open lock file (`hold`), released by `RunDir.release`


def hold(path: Path, lock: Path) -> IO[str] | None:
    """Hold the folder ``path`` for this process: an exclusive ``flock`` on its file ``lock``, the
    file left open (and the lock held) until `release` or the process ends, so a killed process
    holds nothing. A folder another process holds is a `ConfigError` naming its process id.
    None where the system has no ``flock`` (Windows), or its file system refuses it (some
    network file systems): the folder is then not held."""
    if fcntl is None:
        return None
    while True:
        f = open(lock, "a+")  # noqa: SIM115 -- kept open: the open file holds the lock
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip()
            f.close()
            by = f"process {pid}" if pid.isdigit() else "another process"
            raise ConfigError(
                f"{path} is being trained by {by}; wait for it to end, or {OUT_HINT}"
            ) from None
        except OSError:
            f.close()
            return None
        try:
            same = os.fstat(f.fileno()).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:  # its holder released (and removed) it meanwhile
            same = False
        if same:
            f.truncate(0)
            f.write(f"{os.getpid()}\n")
            f.flush()
            return f
        f.close()  # locked a file its holder had just removed: try the new one


def release(lock: Path, held: IO[str] | None) -> None:
    """Let go of what `hold` took: remove the lock file, then close it."""
    if held is None or held.closed:
        return
    with contextlib.suppress(OSError):
        lock.unlink()
    held.close()


class RunDir(Folder):
    """A run folder of ``nnzoo train``."""

    config = Entry("config.toml")
    metrics = Entry("metrics.jsonl")
    metrics_csv = Entry("metrics.csv")
    results = Entry("results.json")
    provenance = Entry("provenance.json")
    checkpoints = Entry("checkpoints")
    tensorboard = Entry("tensorboard")
    evaluation = Entry("evaluation")
    lock = Entry(".training.lock")  # held while the run trains (`hold`)

    @property
    def curves(self) -> Path:
        """plots/curves.png: the loss and accuracy through the epochs."""
        return self.plot("curves")

    def checkpoint(self, which: str = "last") -> Path:
        """checkpoints/<which>.pt (``best`` or ``last``)."""
        return self.checkpoints / f"{which}.pt"

    @property
    def unfinished(self) -> bool:
        """Whether the run has a last checkpoint but no results yet (it can be resumed)."""
        return self.checkpoint("last").is_file() and not self.results.exists()

    def resume_files(self) -> list[Path]:
        """What resuming the run needs of its folder (the rest is written when it ends):
        config.toml, the metrics and the last and best checkpoints."""
        return [self.config, self.metrics, self.metrics_csv, self.checkpoint("last"),
                self.checkpoint("best")]  # fmt: skip

    # -- writing ------------------------------------------------------------------------------
    def prepare(self, config: RunConfig, fresh: bool = False) -> Prepared:
        """Create the folder and hold it (`hold`), check that it holds this config (``fresh``
        clears it first), and write config.toml there (which proves the folder writable).

        Stale temporary files of killed runs are removed. A `WriteError` (ending in what to do
        about ``--out``) when the folder cannot be made or written, a `ConfigError` when another
        process holds it or it holds another config; then nothing is left of what this call
        created. Returns what it created and holds, for `release` or `discard`.
        """
        check_writable(self.path, folder=True, hint=OUT_HINT)
        absolute = self.path.absolute()
        new_folders = tuple(p for p in (absolute, *absolute.parents) if not p.exists())
        made = Prepared(new_folders, frozenset(os.listdir(self.path)) if not new_folders else None)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            made = made._replace(held=hold(self.path, self.lock))
            if fresh:
                for folder in (self.checkpoints, self.plots, self.tensorboard):
                    shutil.rmtree(folder, ignore_errors=True)
                for file in (self.config, self.metrics, self.metrics_csv, self.results,
                             self.report):  # fmt: skip
                    file.unlink(missing_ok=True)
            if self.config.exists() and self.read_config() != config:
                raise ConfigError(
                    f"{self.path} holds a run with a different config; pass another --out, "
                    "or --fresh to replace it"
                )
            clean_temporaries(self.path)
            self.write_config(config)
        except (OSError, NnzooError) as e:
            self.discard(made)
            error = as_write_error(e, self.path)
            if error is None:
                raise
            hint = f"free some space on that disk, or {OUT_HINT}" if error.no_space else OUT_HINT
            raise write_error(error.path or self.path, error.reason, hint, error.no_space) from None
        return made

    def release(self, made: Prepared | None) -> None:
        """Let go of the folder `prepare` held (``made``), once the run has ended."""
        if made is not None:
            release(self.lock, made.held)

    def discard(self, made: Prepared) -> None:
        """Remove what `prepare` created (``made``): the folder and the folders above it it
        had to make, or the entries new in a folder that was there before; and let it go."""
        self.release(made)
        if made.new_folders:
            shutil.rmtree(made.new_folders[0], ignore_errors=True)
            for folder in made.new_folders[1:]:  # shared with other runs: only when empty
                try:
                    folder.rmdir()
                except OSError:
                    break
            return
        for name in set(os.listdir(self.path)) - (made.entries or set()):
            entry = self.path / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def write_config(self, config: RunConfig) -> Path:
        return write_atomic(self.config, config.to_toml())

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

    def holds(self, config: RunConfig) -> bool:
        """True when config.toml is exactly ``config``."""
        return self.config.is_file() and self.read_config() == config

    def finished(self, config: RunConfig) -> dict[str, Any] | None:
        """The results of a finished run of exactly this config, or None."""
        if not (self.results.is_file() and self.holds(config)):
            return None
        return self.read_results()


class StudyDir(Folder):
    """A study folder of ``nnzoo study``."""

    record = Entry("study.json")
    runs = Entry("runs")

    def run(self, key: str) -> RunDir:
        """runs/<key>/."""
        return RunDir(self.runs / key)


class SearchDir(Folder):
    """A search folder of ``nnzoo search``."""

    settings = Entry("search.json")
    focus = Entry("focus.json")
    journal = Entry("search.journal")
    trials = Entry("trials")

    def trial(self, number: int) -> RunDir:
        """trials/<number>/."""
        return RunDir(self.trials / str(number))
