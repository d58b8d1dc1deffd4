"""The plots and report sections studies share: overlaid curves, every run's curves, provenance.

A section is a (heading, Markdown) pair; image links are relative to the study folder, so that
`nnzoo.experiments.folder.publish` can copy the plots next to a published report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnzoo.report.markdown import table
from nnzoo.report.plots import plot_compare

OVERLAYS = ("loss", "val_loss", "accuracy", "val_accuracy", "test_accuracy")


def plot_overlays(histories: dict[str, list], plots: Path, title: str) -> None:
    """Loss and accuracy curves of every run on shared axes: train, validation and test."""
    for key in OVERLAYS:
        if any(key in row for h in histories.values() for row in h):
            plot_compare(histories, key, plots / f"{key}.png", title=f"{title}: {key}")


def overlay_section(study_dir: Path) -> tuple[str, str]:
    """The overlaid curves ``plot_overlays`` drew."""
    drawn = [k for k in OVERLAYS if (Path(study_dir) / "plots" / f"{k}.png").exists()]
    return "Curves (all runs overlaid)", "\n\n".join(f"![{k}](plots/{k}.png)" for k in drawn)


def runs_section(
    rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]
) -> tuple[str, str]:
    """Every run's own loss / accuracy curves (its plots/curves.png)."""
    parts = []
    for r in rows:
        run = Path(r["run"]).name
        parts.append(f"**{label(r)}** (`runs/{run}`)\n\n![{run}](runs/{run}/plots/curves.png)")
    return "Curves of every run", "\n\n".join(parts)


def provenance_section(record: dict[str, Any]) -> tuple[str, str]:
    """Machine, versions, command, duration and options of a study (the last section)."""
    env = record["provenance"]
    rows = [[k, str(v)] for k, v in env.items()]
    rows.append(["duration", f"{record['seconds']:.0f} s"])
    rows.append(["options", ", ".join(f"{k}={v}" for k, v in record["options"].items())])
    return "Provenance", table(rows, ["", ""])
