"""The report of one training run: curves, the task's test sections, data, config, provenance.

The sections in the middle come from the run's task (`nnzoo.tasks`): for ``classify`` the
per-class metrics and the confusion matrix, for ``seq2seq`` decoded examples, and so on; the
rest is the same for every task.

Written as report.md and a self-contained report.html. The Provenance section says how to get
the same numbers again: the exact command, the seeds, the versions, the machine and how long
training took. It is saved as provenance.json in the run folder, so a report rebuilt later
(``nnzoo report RUN_DIR``) still names the command that trained the run, not the rebuild.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig
from nnzoo.report.markdown import Markup, code, fenced, table, write_report
from nnzoo.report.plots import plot_curves
from nnzoo.runs.rundir import RunDir
from nnzoo.tasks import create_task
from nnzoo.utils.environment import provenance


def format_duration(seconds: float) -> str:
    """``4.27 s``, ``42.3 s``, or ``3725.0 s (1:02:05)`` from a minute on."""
    text = f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    if seconds >= 60:
        minutes, secs = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        text += f" ({hours}:{minutes:02d}:{secs:02d})"
    return text


def training_seconds(history: list[dict[str, Any]]) -> float:
    """The sum of the epochs' ``seconds`` (epochs without it count 0)."""
    return float(sum(row.get("seconds") or 0.0 for row in history))


def write_run_report(
    run_dir: str | os.PathLike,
    config: RunConfig,
    history: list[dict[str, Any]],
    results: dict[str, Any],
    *,
    seconds: float | None = None,
    env: Mapping[str, Any] | None = None,
) -> Path:
    """Write report.md and report.html (and the plots they show) into ``run_dir``.

    Args:
        run_dir: the run folder.
        config: the run's config.
        history: one record per epoch (metrics.jsonl).
        results: results.json of the run.
        seconds: wall time of the training; default: the sum of the epochs' seconds.
        env: the provenance (command, machine, torch, python, date) of the run; default: the
            run folder's provenance.json (written by the run), else a note that none was
            recorded. The report never writes provenance.json itself.

    Returns:
        The path of report.md.
    """
    run = RunDir(run_dir)
    if env is None:
        env = run.read_provenance() or unrecorded_env(config)
    duration = training_seconds(history) if seconds is None else float(seconds)
    task = create_task(config.task)
    title = f"{config.data.name} / {config.model.label}, seed {config.train.seed}"
    curves = plot_curves(history, run.curves, title=title)
    summary = [
        *task.summary_rows(results),
        ["selected epoch (by " + results["monitor"] + ")", results["selected_epoch"]],
        *[[f"{k} at selected epoch", v] for k, v in results["selected_val"].items()],
        *task.final_rows(results),
        ["epochs run", results["epochs_run"]],
        ["stopped because", results["stop_reason"]],
        ["parameters", results["params"]],
        ["seconds per epoch", results["seconds_per_epoch"]],
    ]
    sections = [
        ("Summary", table(summary, ["", "value"])),
        ("Curves", Markup(f"![loss and accuracy]({run.link(curves)})")),
        *task.sections(run, results),
        ("Data", table([[k, info_text(v)] for k, v in results["data_info"].items()], ["", ""])),
        ("Config", fenced(config.to_toml(), "toml")),
        ("Provenance", table(provenance_rows(config, env, duration, len(history)), ["", ""])),
    ]
    return write_report(run.report, title, sections)


def info_text(value: Any) -> str:
    """A ``data_info`` value as a table shows it: lists joined by commas, None as "-"."""
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def unrecorded_env(config: RunConfig) -> dict[str, Any]:
    """Provenance for a run folder that has none: says so, and who wrote the report."""
    now = provenance(config.train.device)
    return {
        "command": "not recorded (the run folder has no provenance.json)",
        "report rebuilt with": (
            f"{now['command']} on {now['machine']}, torch {now['torch']}, "
            f"python {now['python']}, {now['date']}"
        ),
    }


def provenance_rows(
    config: RunConfig, env: Mapping[str, Any], seconds: float, epochs: int
) -> list[list[Any]]:
    """command, seeds, duration, then the rest of ``env`` (machine, versions, date)."""
    rows = [["command", code(env.get("command", "not recorded"))]]
    rows.append(["seed", config.train.seed])
    rows.append(["data split seed", config.data.split_seed])
    rows.append(["duration", f"{format_duration(seconds)} over {epochs} epochs"])
    rows += [[k, str(v)] for k, v in env.items() if k != "command"]
    return rows
