"""The report of one training run: report.md with curves, test metrics and the confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnzoo.config import RunConfig
from nnzoo.report.markdown import classification_table, confusion_table, table, write_report
from nnzoo.report.plots import plot_confusion, plot_curves
from nnzoo.utils.environment import provenance


def write_run_report(
    run_dir: Path, config: RunConfig, history: list[dict[str, Any]], results: dict[str, Any]
) -> Path:
    run_dir = Path(run_dir)
    plots = run_dir / "plots"
    title = f"{config.data.name} / {config.model.cell}, seed {config.train.seed}"
    plot_curves(history, plots / "curves.png", title=title)
    test = results["test"]
    plot_confusion(
        test["confusion"],
        results["class_names"],
        plots / "confusion.png",
        title=f"test, epoch {results['selected_epoch']}",
    )
    env = provenance(config.train.device)
    summary = [
        ["test accuracy (selected epoch)", test["accuracy"]],
        ["selected epoch (by " + results["monitor"] + ")", results["selected_epoch"]],
        *[[f"{k} at selected epoch", v] for k, v in results["selected_val"].items()],
        ["test accuracy (final epoch)", results["final_epoch_test"]["accuracy"]],
        ["epochs run", results["epochs_run"]],
        ["stopped because", results["stop_reason"]],
        ["parameters", results["params"]],
        ["seconds per epoch", results["seconds_per_epoch"]],
    ]
    sections = [
        ("Summary", table(summary, ["", "value"])),
        ("Curves", "![loss and accuracy](plots/curves.png)"),
        ("Test metrics (selected epoch)", classification_table(test["report"])),
        (
            "Confusion matrix (test, selected epoch; rows true, columns predicted)",
            confusion_table(test["confusion"], results["class_names"])
            + "\n\n![confusion matrix](plots/confusion.png)",
        ),
        ("Data", table([[k, str(v)] for k, v in results["data_info"].items()], ["", ""])),
        ("Config", f"```toml\n{config.to_toml()}```"),
        ("Provenance", table([[k, v] for k, v in env.items()], ["", ""])),
    ]
    return write_report(run_dir / "report.md", title, sections)
