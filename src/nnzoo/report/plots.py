"""PNG plots: training curves, a confusion heatmap, one metric across several runs, an image
gallery.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``), never
through pyplot: no display is needed and the process-wide backend is left alone. matplotlib is
imported when a plot is drawn, so importing this module does not need it. Each function writes
the PNG atomically, creating folders, and returns its path.

A history is a list of per-epoch records, ``{"epoch": 1, "loss": ..., "val_loss": ...,
"accuracy": ..., "val_accuracy": ..., "lr": ...}``. Keys absent from a record, or None / NaN,
or anything but a number (a string, a bool), are skipped; x is ``epoch`` when it is a number,
else the record's position (1, 2, ...). Epoch axes have integer ticks only.
"""

from __future__ import annotations

import io
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.errors import ConfigError
from nnzoo.report.markdown import write_atomic

History = Sequence[Mapping[str, Any]]

# Panel title -> (key, label) of the lines drawn in it.
CURVES = {
    "loss": (("loss", "train"), ("val_loss", "val")),
    "accuracy": (("accuracy", "train"), ("val_accuracy", "val")),
}
DPI = 100


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("nnzoo.report.plots needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


def is_number(value: Any) -> bool:
    """A real number (int, float, NumPy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _series(history: History, key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of the records that hold a finite number under ``key``."""
    xs, ys = [], []
    for i, record in enumerate(history):
        value = _scalar(record.get(key))
        if not is_number(value) or not math.isfinite(float(value)):
            continue
        epoch = _scalar(record.get("epoch"))
        xs.append(float(epoch) if is_number(epoch) and math.isfinite(epoch) else float(i + 1))
        ys.append(float(value))
    return xs, ys


def _scalar(value: Any) -> Any:
    """A 0-d tensor or array as the Python number it holds; anything else as it is."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def _epoch_axis(ax: Any) -> None:
    """x labelled "epoch", ticks on whole epochs only."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_curves(history: History, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Loss (train / val) and accuracy (train / val) side by side, as a PNG at ``path``.

    A panel with no values at all is left out; a history with neither loss nor accuracy is an
    error.
    """
    history = list(history)
    panels = {
        name: [(label, *_series(history, key)) for key, label in lines]
        for name, lines in CURVES.items()
    }
    panels = {name: [s for s in lines if s[1]] for name, lines in panels.items()}
    panels = {name: lines for name, lines in panels.items() if lines}
    if not panels:
        keys = sorted({k for record in history for k in record})
        raise ConfigError(
            f"history: no {', '.join(k for lines in CURVES.values() for k, _ in lines)} values "
            f"to plot ({len(history)} records, keys {keys}); give records with at least one of "
            "them, as nnzoo train logs"
        )
    fig = _figure(5.0 * len(panels), 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, lines) in zip(axes, panels.items()):
        for label, xs, ys in lines:
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
        ax.set_title(name)
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_confusion(
    cm: Any,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    normalize: bool = True,
    title: str | None = None,
) -> Path:
    """A confusion matrix (rows true, columns predicted) as an annotated heatmap PNG.

    Args:
        cm: counts (C, C), a tensor, array or nested lists.
        class_names: C names, for both axes.
        path: where the PNG goes.
        normalize: colour and annotate each row as fractions of its true class (recall on the
            diagonal; a class with no samples is a row of zeros); else raw counts.
        title: figure title.
    """
    counts = np.asarray(cm.cpu() if hasattr(cm, "cpu") else cm, dtype=np.float64)
    names = [str(n) for n in class_names]
    C = len(names)
    if C == 0:
        raise ConfigError("class_names: expected at least one class name")
    if counts.shape != (C, C):
        raise ConfigError(
            f"cm: expected a ({C}, {C}) matrix for {C} class names, got shape {counts.shape}"
        )
    values = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    side = max(4.0, 1.0 + 0.6 * C)
    fig = _figure(side + 1.0, side)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(float(values.max()), 1.0)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(C), names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(C), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = vmax / 2  # white text on the darker half of the colour map
    fontsize = max(5.0, min(10.0, 120.0 / C))
    for i in range(C):
        for j in range(C):
            text = f"{values[i, j]:.2f}" if normalize else f"{int(counts[i, j])}"
            color = "white" if values[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize)
    ax.set_title(title or ("confusion (row-normalised)" if normalize else "confusion (counts)"))
    return _save(fig, path)


def plot_compare(
    runs: Mapping[str, History], key: str, path: str | os.PathLike, *, title: str | None = None
) -> Path:
    """One metric (``key``) of several runs against the epoch, one line per run, as a PNG.

    Runs without the key are left out of the plot; when no run has it, that is an error.
    """
    series = {name: _series(list(history), key) for name, history in runs.items()}
    series = {name: s for name, s in series.items() if s[0]}
    if not series:
        raise ConfigError(f"key: no run has values for {key!r} (runs: {sorted(runs)})")
    fig = _figure(6.5, 4.0)
    ax = fig.add_subplot()
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name)
    _epoch_axis(ax)
    ax.set_ylabel(key)
    ax.set_title(title or key)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_image_gallery(
    images: Sequence[Any] | np.ndarray,
    captions: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    columns: int = 5,
) -> Path:
    """A grid of images with a caption under each, as a PNG.

    ``images``: (N, C, H, W) or (N, H, W, C) with C = 1 or 3, or (N, H, W), values in [0, 1]
    (clipped); a torch tensor or a NumPy array. ``captions``: one per image.
    """
    images = np.asarray(getattr(images, "numpy", lambda: images)(), dtype=np.float64)
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # (N, H, W, C)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) != len(captions) or not len(images):
        raise ConfigError(
            f"images: expected N >= 1 images (N, C, H, W), (N, H, W, C) or (N, H, W) and one "
            f"caption each, got shape {images.shape} and {len(captions)} captions"
        )
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    fig = _figure(2.0 * columns, 2.2 * rows + (0.4 if title else 0))
    for i, (image, caption) in enumerate(zip(images, captions)):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(np.clip(image, 0, 1), cmap="gray" if image.ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(caption, fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
