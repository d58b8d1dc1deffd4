"""Reports rebuilt from what a folder holds, and runs compared side by side (``nnzoo report``).

    nnzoo report RUN_DIR           config.toml + metrics.jsonl + results.json -> report.md, .html
    nnzoo report STUDY_DIR         a folder with study.json: nnzoo.experiments.rebuild_report
    nnzoo report SEARCH_DIR        a folder with search.json: nnzoo.search.report
    nnzoo report RUN_DIR RUN_DIR   one column per run, overlaid validation accuracy and loss
                                   -> <--out>/report.md, .html (runs/compare-<digest> by default)

Every folder is read and checked before anything is written, so a bad folder (missing, not a
run, a malformed results.json or metrics.jsonl) is a `ReportError` naming it, and every report
stays as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig
from nnzoo.errors import warn
from nnzoo.report.html import ReportError, html_path
from nnzoo.report.markdown import code, table, write_report
from nnzoo.report.plots import CURVES, is_number, plot_compare
from nnzoo.report.run import format_duration, training_seconds, unrecorded_env, write_run_report
from nnzoo.runs.rundir import Folder, RunDir, SearchDir, StudyDir
from nnzoo.tasks import create_task
from nnzoo.utils.environment import provenance

TRAIN_FIRST = "train it first with nnzoo train"
TRAIN_AGAIN = "train the run again"
# results.json entries a report reads; a file without them is not one nnzoo train wrote
RESULT_KEYS = {
    "data_info": dict,
    "params": int,
    "epochs_run": int,
    "stop_reason": str,
    "selected_epoch": int,
    "monitor": str,
    "selected_val": dict,
    "test": dict,
    "final_epoch_test": dict,
    "seconds_per_epoch": (int, float),
}
# (history key, plot title) of the comparison's overlaid curves
COMPARE_CURVES = (("val_accuracy", "validation accuracy"), ("val_loss", "validation loss"))


@dataclass(frozen=True)
class RunFolder:
    """What a run folder of ``nnzoo train`` holds, read and checked."""

    path: Path
    config: RunConfig
    history: list[dict[str, Any]]
    results: dict[str, Any]
    env: dict[str, Any] | None  # provenance.json; None in folders written before it existed


def _history(run: RunDir) -> list[dict[str, Any]]:
    """The run's history (`RunDir.read_history`), which a finished run has."""
    if not run.metrics.is_file():
        raise ReportError(
            f"{run.path}: no {run.link(run.metrics)}; not a finished run of nnzoo train"
        )
    history = run.read_history(ReportError)
    if not history:
        raise ReportError(f"{run.metrics}: no epochs logged; {TRAIN_FIRST}")
    history = numbers_only(history, run.metrics)
    curves = [key for lines in CURVES.values() for key, _ in lines]
    if not any(record.get(key) is not None for record in history for key in curves):
        raise ReportError(
            f"{run.metrics}: no record holds {' or '.join(curves)}, so there are no curves to "
            f"plot; restore the file nnzoo train wrote, or {TRAIN_AGAIN}"
        )
    return history


def numbers_only(history: list[dict[str, Any]], path: Path) -> list[dict[str, Any]]:
    """The records with every value that is not a number or null left out, and one warning
    line naming the file and the first such line, so that a hand-edited metrics.jsonl still
    plots."""
    bad = [
        (i, [k for k, v in record.items() if v is not None and not is_number(v)])
        for i, record in enumerate(history)
    ]
    bad = [(i, keys) for i, keys in bad if keys]
    if not bad:
        return history
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # pragma: no cover - read a moment ago
        text = ""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    first, keys = bad[0]
    where = f"line {lines[first]}" if first < len(lines) else f"record {first + 1}"
    more = sum(len(k) for _, k in bad) - 1
    warn(
        f"{path}: {where}: {keys[0]!r} is not a number"
        + (f" (and {more} more value{'s' * (more > 1)} on later lines or keys)" if more else "")
        + "; left out of the report's plots and totals"
    )
    return [{k: v for k, v in r.items() if v is None or is_number(v)} for r in history]


def _check_results(path: Path, results: dict[str, Any], config: RunConfig) -> dict[str, Any]:
    for key, kind in RESULT_KEYS.items():
        if key not in results:
            raise ReportError(f"{path}: no {key!r} entry; not the results of nnzoo train")
        if not isinstance(results[key], kind) or isinstance(results[key], bool):
            raise ReportError(f"{path}: {key!r} has the wrong type; train the run again")
    problem = create_task(config.task).check_results(results)
    if problem:
        raise ReportError(f"{path}: {problem}; train the run again")
    return results


def check_folder(path: str | os.PathLike) -> Path:
    """``path`` as a Path, after checking it is an existing folder."""
    path = Path(path)
    if not path.exists():
        raise ReportError(
            f"{path}: no such folder; give a run, study or search folder (or a recipe's record)"
        )
    if not path.is_dir():
        raise ReportError(f"{path}: not a folder; expected a run folder (or a study folder)")
    return path


def is_study(path: str | os.PathLike) -> bool:
    return StudyDir(path).record.is_file()


def read_run(path: str | os.PathLike) -> RunFolder:
    """Read and check a run folder: config.toml, metrics.jsonl, results.json, provenance.json."""
    run = RunDir(check_folder(path))
    missing = [run.link(file) for file in (run.config, run.results) if not file.is_file()]
    if missing:
        raise ReportError(
            f"{run.path}: not a run folder (no {' or '.join(missing)}); {TRAIN_FIRST}"
        )
    config = run.read_config(ReportError)
    results = _check_results(run.results, run.read_results(ReportError), config)
    history = _history(run)
    env = run.read_provenance(ReportError)
    return RunFolder(run.path, config, history, results, env)


def rebuild_run(path: str | os.PathLike) -> list[Path]:
    """Write report.md and report.html of a run folder again; return their paths."""
    run = read_run(path)
    md = write_run_report(
        run.path, run.config, run.history, run.results, env=run.env or unrecorded_env(run.config)
    )
    return [md, html_path(md)]


def rebuild_study(path: str | os.PathLike) -> list[Path]:
    """Write a study folder's report again, with ``nnzoo.experiments.rebuild_report``."""
    from nnzoo.experiments import rebuild_report

    md = rebuild_report(check_folder(path))
    return [md, html_path(md)] if html_path(md).is_file() else [md]


def rebuild_search(path: str | os.PathLike) -> list[Path]:
    """Write a search folder's analysis report, with ``nnzoo.search.report``."""
    path = check_folder(path)
    try:
        from nnzoo.search.report import write_search_report
    except ImportError as e:
        raise ReportError(
            f"{path}: a search folder, but nnzoo.search cannot report it ({e}); install "
            "optuna (pip install 'optuna>=4')"
        ) from None
    md = write_search_report(path)
    return [md, html_path(md)]


def default_compare_dir(paths: Sequence[str | os.PathLike], root: str | os.PathLike = "runs"):
    """runs/compare-<8 hex digits of the sorted resolved paths>: the same runs, the same folder."""
    key = "\n".join(sorted(str(Path(p).resolve()) for p in paths))
    return Path(root) / f"compare-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"cell_options": {"window": 38}}} -> {"model.cell_options.window": 38}."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _text(value: Any) -> str:
    """A config value as TOML writes it: true, 0.001, "adam" without quotes, {} for empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _column_names(runs: Sequence[RunFolder]) -> list[str]:
    names = [run.path.name for run in runs]
    if len(set(names)) < len(names):
        names = [str(run.path) for run in runs]
    return names


def comparison_table(runs: Sequence[RunFolder], names: Sequence[str]) -> str:
    """One column per run: data, model (`ModelConfig.label`), every config value that is not a
    default in some run, the test headline metric of each run's task (accuracy for classify;
    selected and final epoch), selected epoch, params, s / epoch."""
    flat = [_flat(run.config.to_dict()) for run in runs]
    changed = dict.fromkeys(
        key
        for run in runs
        for section, values in run.config.changes().items()
        for key in _flat(values, f"{section}.")
        if key not in ("data.name", "model.name", "model.cell")
    )
    headline = dict.fromkeys(create_task(run.config.task).metrics[0] for run in runs)

    def test_rows(entry: str, label: str) -> list[list[Any]]:
        return [
            [f"test {m} ({label})", *(run.results[entry].get(m) for run in runs)] for m in headline
        ]

    rows: list[list[Any]] = [
        ["data", *(run.results.get("data", run.config.data.name) for run in runs)],
        ["model", *(run.config.model.label for run in runs)],
        *[[key, *(_text(f[key]) if key in f else None for f in flat)] for key in changed],
        *test_rows("test", "selected epoch"),
        ["selected epoch", *(run.results["selected_epoch"] for run in runs)],
        ["picked by", *(run.results["monitor"] for run in runs)],
        *test_rows("final_epoch_test", "final epoch"),
        ["epochs run", *(run.results["epochs_run"] for run in runs)],
        ["parameters", *(f"{run.results['params']:,}" for run in runs)],
        ["seconds per epoch", *(run.results["seconds_per_epoch"] for run in runs)],
    ]
    return table(rows, ["", *names])


def compare_runs(paths: Sequence[str | os.PathLike], out: str | os.PathLike | None = None):
    """Compare run folders side by side in ``out``; return the paths of report.md and .html."""
    runs = []
    seen: dict[Path, Path] = {}
    for p in paths:
        if is_study(p):
            raise ReportError(f"{p}: a study folder; compare run folders, or give it alone")
        run = read_run(p)
        resolved = run.path.resolve()
        if resolved in seen:
            raise ReportError(f"{p}: given twice (also as {seen[resolved]}); list each run once")
        seen[resolved] = run.path
        runs.append(run)
    out = Path(out) if out is not None else default_compare_dir(paths)
    taken = (RunDir(out).config, RunDir(out).results, StudyDir(out).record)
    if out.resolve() in seen or any(file.exists() for file in taken):
        raise ReportError(f"--out {out}: a run or study folder; choose a folder of its own")
    folder = Folder(out)

    names = _column_names(runs)
    histories = {name: run.history for name, run in zip(names, runs)}
    sections = [("Runs", comparison_table(runs, names))]
    for key, title in COMPARE_CURVES:
        if any(key in record for run in runs for record in run.history):
            plot = plot_compare(histories, key, folder.plot(key), title=title)
            sections.append((title.capitalize(), f"![{title}]({folder.link(plot)})"))
    trained = [
        [
            name,
            code((run.env or {}).get("command", "not recorded")),
            str((run.env or {}).get("date", "")),
            format_duration(training_seconds(run.history)),
            str(run.path.resolve()),
        ]
        for name, run in zip(names, runs)
    ]
    headers = ["run", "command", "date", "duration", "folder"]
    sections.append(("How each run was trained", table(trained, headers)))
    sections.append(("Provenance", table([[k, v] for k, v in provenance().items()], ["", ""])))
    md = write_report(folder.report, f"Comparison of {len(runs)} runs", sections)
    return [md, html_path(md)]


def report(paths: Sequence[str | os.PathLike], out: str | os.PathLike | None = None):
    """``nnzoo report``: rebuild one run's or study's report, or compare several runs."""
    if not paths:
        raise ReportError("nnzoo report: expected at least one run folder")
    if len(paths) > 1:
        return compare_runs(paths, out)
    if out is not None:
        raise ReportError(
            "--out: only for comparing several runs; one run's report is rebuilt in its folder, "
            "so leave --out out (or give several runs to compare)"
        )
    from nnzoo.experiments import find_recipe_record, rebuild_recipe_report

    recipe = find_recipe_record(paths[0])
    if recipe is not None:  # a recipe's folder, or its record file
        md = rebuild_recipe_report(*recipe)
        return [md, html_path(md)] if html_path(md).is_file() else [md]
    path = check_folder(paths[0])
    if SearchDir(path).settings.is_file():
        return rebuild_search(path)
    return rebuild_study(path) if is_study(path) else rebuild_run(path)
