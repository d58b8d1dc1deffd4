"""The plots and report sections studies share: overlaid curves, every run's curves, provenance.

A section is a (heading, Markdown) pair; image links are relative to the study folder
(`StudyDir.link`), so that `nnzoo.experiments.folder.publish` can copy the plots next to a
published report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nnzoo.errors import NnzooError
from nnzoo.report.markdown import table
from nnzoo.report.plots import plot_compare
from nnzoo.runs.rundir import RunDir, StudyDir

OVERLAYS = ("loss", "val_loss", "accuracy", "val_accuracy", "test_accuracy")


PROVENANCE = ("command", "machine", "torch", "python", "date")


def recipe_provenance(record: dict[str, Any], **more: str) -> tuple[str, str]:
    """The "Provenance" section of a recipe's record: its command, machine, versions and date
    (those it holds), then ``more`` rows."""
    env = {k: record[k] for k in PROVENANCE if k in record} | more
    return "Provenance", table([[k, v] for k, v in env.items()], ["", ""])


def trained_by(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commands that trained ``runs``, oldest first: each command and machine once, with
    the dates of its first and last run and how many it trained (a table trained a few runs at
    a time has several). ``runs`` are provenances (``command``, ``machine``, ``date``) or what
    this returned (``first``, ``last``, ``runs``), so that rows' lists merge into a table's."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for r in runs:
        first, last = r.get("first", r.get("date", "")), r.get("last", r.get("date", ""))
        seen = merged.setdefault((r["command"], r["machine"]), {
            "command": r["command"], "machine": r["machine"], "first": first, "last": last,
            "runs": 0})  # fmt: skip
        seen["first"], seen["last"] = min(seen["first"], first), max(seen["last"], last)
        seen["runs"] += r.get("runs", 1)
    return sorted(merged.values(), key=lambda t: t["first"])


def trained_by_section(
    groups: list[dict[str, Any]], record: dict[str, Any]
) -> tuple[str, str] | None:
    """ "Runs trained by": the `trained_by` groups, when any is not the command and machine of
    ``record`` (the one that wrote the table); else None (the Provenance says it all)."""
    here = (record["command"], record["machine"])
    if all((t["command"], t["machine"]) == here for t in groups):
        return None
    rows = [[t["command"], t["machine"], t["runs"], t["first"], t["last"]] for t in groups]
    return "Runs trained by", table(rows, ["command", "machine", "runs", "first", "last"])


def plot_overlays(histories: dict[str, list], study_dir: Path, title: str) -> None:
    """Loss and accuracy curves of every run on shared axes: train, validation and test."""
    study = StudyDir(study_dir)
    for key in OVERLAYS:
        if any(key in row for h in histories.values() for row in h):
            plot_compare(histories, key, study.plot(key), title=f"{title}: {key}")


def overlay_section(study_dir: Path) -> tuple[str, str]:
    """The overlaid curves ``plot_overlays`` drew."""
    study = StudyDir(study_dir)
    drawn = [(k, study.plot(k)) for k in OVERLAYS if study.plot(k).exists()]
    return "Curves (all runs overlaid)", "\n\n".join(f"![{k}]({study.link(p)})" for k, p in drawn)


def run_folder(study_dir: Path, run: str) -> RunDir:
    """The run folder of a row's ``run`` (the folder it trained in), inside ``study_dir``: by
    its name, so that a study folder moved since still finds its runs."""
    return StudyDir(study_dir).run(Path(run).name)


def runs_section(
    study_dir: Path, rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]
) -> tuple[str, str]:
    """Every run's own loss / accuracy curves (its plots/curves.png)."""
    study = StudyDir(study_dir)
    parts = []
    for r in rows:
        run = run_folder(study_dir, r["run"])
        parts.append(
            f"**{label(r)}** (`{study.link(run.path)}`)\n\n"
            f"![{run.path.name}]({study.link(run.curves)})"
        )
    return "Curves of every run", "\n\n".join(parts)


def provenance_section(record: dict[str, Any], study_dir: Path | None = None) -> tuple[str, str]:
    """Machine, versions, command, duration and options of a study (the last section), and
    when its runs were trained: each run folder's provenance.json says when and how long, so a
    report written from runs an earlier command trained (picked up, not trained again) says
    so in its own numbers."""
    env = record["provenance"]
    rows = [[k, str(v)] for k, v in env.items()]
    rows.append(["duration", f"{record['seconds']:.0f} s"])
    trained = []
    if study_dir is not None and StudyDir(study_dir).runs.is_dir():
        for folder in sorted(StudyDir(study_dir).runs.iterdir()):
            found = RunDir(folder).read_provenance(NnzooError) if folder.is_dir() else None
            if found and "date" in found:
                trained.append((found["date"], float(found.get("training_seconds", 0.0))))
    if trained:
        dates = sorted(d for d, _ in trained)
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        rows.append([
            "runs trained",
            f"{len(trained)} run(s), {when}, {sum(s for _, s in trained):.0f} s of training "
            "in all (each run folder's provenance.json)",
        ])  # fmt: skip
    rows.append(["options", ", ".join(f"{k}={v}" for k, v in record["options"].items())])
    return "Provenance", table(rows, ["", ""])
