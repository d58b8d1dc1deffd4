"""The study folder: what ``nnzoo study NAME`` writes, and ``--results`` publishing::

    <study dir>/
        study.json      the study's name, options, rows and provenance (written at the end)
        runs/<key>/     one ordinary run folder per run (config.toml, metrics, checkpoints,
                        plots/curves.png, report.md/html): ``nnzoo evaluate`` works on each
        plots/*.png     the study's own plots
        report.md       tables, plots, the exact command, versions, machine, duration
        report.html     the same page, self-contained

Repeating the command picks up finished runs (their results.json) and resumes killed ones
from ``checkpoints/last.pt``; ``--jobs N`` trains independent runs in N processes
(`nnzoo.experiments.plan`). ``nnzoo report <study dir>`` rebuilds the report from study.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnzoo.errors import ConfigError
from nnzoo.experiments.options import check_common, fill_data_root
from nnzoo.experiments.sections import provenance_section
from nnzoo.report.markdown import write_atomic, write_report
from nnzoo.runs.rundir import StudyDir
from nnzoo.utils.environment import provenance

if TYPE_CHECKING:
    from nnzoo.experiments import Experiment


def run_study(experiment: Experiment, args: argparse.Namespace) -> Path:
    """Run a study with ``args``; write study.json, report.md and report.html."""
    check_common(args)
    study_dir = Path(args.out)
    fill_data_root(args)
    started = time.perf_counter()
    study_dir.mkdir(parents=True, exist_ok=True)
    record = experiment.run(args, study_dir)
    record["study"] = experiment.name
    record["options"] = {k: v for k, v in sorted(vars(args).items()) if k not in ("study", "argv")}
    record["provenance"] = provenance("cpu")
    if getattr(args, "argv", None):
        record["provenance"]["command"] = "nnzoo " + shlex.join(map(str, args.argv))
    record["seconds"] = time.perf_counter() - started
    write_atomic(StudyDir(study_dir).record, json.dumps(record, indent=2) + "\n")
    path = write_study_report(experiment, study_dir, record)
    print(f"report: {path}")
    return study_dir


def write_study_report(experiment: Experiment, study_dir: Path, record: dict[str, Any]) -> Path:
    sections = [*experiment.report(study_dir, record), provenance_section(record, study_dir)]
    path = write_report(StudyDir(study_dir).report, record["title"], sections)
    results = record["options"].get("results")
    if results:
        publish(Path(study_dir), Path(results), record, sections)
    return path


_IMAGE = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)(\))")
FOLDERS = (StudyDir.plots.name, StudyDir.runs.name)  # left out of a published plot's name


def publish(
    study_dir: Path, target: Path, record: dict[str, Any], sections: list[tuple[str, str]]
) -> Path:
    """Write the report as ``target`` (.md), its plots beside it, and the record as .json.

    A plot ``plots/curves.png`` of study ``target = results/fashion-lr-sweep.md`` is copied to
    ``results/fashion-lr-sweep-curves.png``; a run's ``runs/lr0.1/plots/curves.png`` to
    ``results/fashion-lr-sweep-lr0.1-curves.png``. Links are rewritten to match.
    """
    if target.suffix != ".md":
        raise ConfigError(f"--results={target}: expected a .md file name")
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy(match: re.Match) -> str:
        source = match.group(2)
        parts = [p for p in Path(source).parts if p not in FOLDERS]
        name = f"{target.stem}-{'-'.join(parts)}"
        write_atomic(target.parent / name, (study_dir / source).read_bytes())
        return f"{match.group(1)}{name}{match.group(3)}"

    moved = [(heading, _IMAGE.sub(copy, text)) for heading, text in sections]
    write_atomic(target.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return write_report(target, record["title"], moved)


def load_record(study_dir: Path) -> dict[str, Any]:
    path = StudyDir(study_dir).record
    if not path.exists():
        raise ConfigError(
            f"{study_dir}: no {path.name}; not a study folder: give the --out folder of "
            "`nnzoo study`, or run the study again"
        )
    try:
        record = json.loads(path.read_text())
    except ValueError:
        record = None
    if not isinstance(record, dict) or not {"study", "title", "options"} <= set(record):
        raise ConfigError(f"{path}: malformed; run the study again to rewrite it")
    return record
