"""PNG plots: training curves, a confusion heatmap, one metric across several runs, an image
gallery, functions of one variable in panels, and the decision regions of 2-D classifiers.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

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


# -- functions and decision regions (the course's planar studies) -----------------------------

Lines = Mapping[str, tuple[Sequence[float], Sequence[float]]]  # label -> (xs, ys)


def plot_functions(
    panels: Mapping[str, Lines],
    path: str | os.PathLike,
    *,
    xlabel: str = "z",
    logx: bool = False,
    logy: bool = False,
    title: str | None = None,
    columns: int | None = None,
) -> Path:
    """Lines y = f(x), one panel per entry of ``panels`` (its title -> ``{label: (xs, ys)}``),
    as a PNG: activations and their derivatives, or cost curves (``logx`` / ``logy`` for a
    log-scale axis, where only positive values are drawn). Points that are not finite are left
    out of a line."""
    panels = {name: dict(lines) for name, lines in panels.items()}
    if not panels or not all(panels.values()):
        raise ConfigError(
            "panels: expected at least one panel, each with at least one line {label: (xs, ys)}"
        )
    columns = max(1, min(columns or len(panels), len(panels)))
    rows = -(-len(panels) // columns)
    fig = _figure(max(6.5, 5.0 * columns), 4.0 * rows + (0.4 if title else 0))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, lines) in zip(axes, panels.items()):
        for label, (xs, ys) in lines.items():
            x = np.asarray(xs, dtype=np.float64)
            y = np.asarray(ys, dtype=np.float64)
            if x.shape != y.shape or x.ndim != 1:
                raise ConfigError(
                    f"panels[{name!r}][{label!r}]: expected xs and ys of one length, got shapes "
                    f"{x.shape} and {y.shape}"
                )
            keep = np.isfinite(x) & np.isfinite(y) & ((x > 0) if logx else True)
            keep &= (y > 0) if logy else True
            ax.plot(x[keep], y[keep], label=label)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


class DecisionGrid(NamedTuple):
    """A classifier's prediction at every node of a regular grid over the plane.

    Attributes:
        xx: (S, S) the first coordinate of each node.
        yy: (S, S) the second coordinate.
        labels: (S, S) the class predicted at (xx[i, j], yy[i, j]).
    """

    xx: np.ndarray
    yy: np.ndarray
    labels: np.ndarray


def decision_grid(
    predict: Callable[[np.ndarray], Any],
    points: Any,
    *,
    steps: int = 200,
    margin: float = 1.0,
) -> DecisionGrid:
    """``predict`` at the ``steps`` x ``steps`` nodes of the box around ``points`` (N, 2), widened
    by ``margin`` on every side (the course's ``plot_decision_boundary``: min - 1 to max + 1).

    ``predict`` takes nodes (P, 2) and returns their classes (P,), in the order given.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not len(points):
        raise ConfigError(f"points: expected N >= 1 points (N, 2), got shape {points.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ConfigError(f"steps={steps!r}: expected an integer >= 2")
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin  # (2,), (2,)
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], steps), np.linspace(low[1], high[1], steps))
    nodes = np.stack([xx.ravel(), yy.ravel()], axis=1)  # (S * S, 2), row by row
    labels = np.asarray(predict(nodes))
    if labels.shape != (len(nodes),):
        raise ConfigError(
            f"predict: expected one class per node, shape ({len(nodes)},), got {labels.shape}"
        )
    return DecisionGrid(xx, yy, labels.reshape(xx.shape))


def plot_decision_boundaries(
    panels: Mapping[str, tuple[DecisionGrid, Any, Any]],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    columns: int = 3,
) -> Path:
    """Decision regions of classifiers of points in the plane, with the points on top, one panel
    per entry: its title -> (a `DecisionGrid`, points x (N, 2), their classes y (N,)).

    Regions and points share one colour per class (matplotlib's Spectral, as the course draws).
    """
    if not panels:
        raise ConfigError("panels: expected at least one (grid, x, y) panel")
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    fig = _figure(4.5 * columns, 4.2 * rows + (0.4 if title else 0))
    from matplotlib import colormaps

    spectral = colormaps["Spectral"]
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, (grid, x, y)) in zip(axes, panels.items()):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != 2 or y.shape != (len(x),):
            raise ConfigError(
                f"panels[{name!r}]: expected points (N, 2) and N classes, got shapes "
                f"{x.shape} and {y.shape}"
            )
        classes = max(int(np.max(grid.labels)), int(np.max(y)) if len(y) else 0) + 1
        colours = [spectral(k / max(classes - 1, 1)) for k in range(classes)]
        levels = np.arange(classes + 1) - 0.5  # one band per class
        ax.contourf(grid.xx, grid.yy, grid.labels, levels=levels, colors=colours, alpha=0.45)
        ax.scatter(x[:, 0], x[:, 1], c=[colours[int(k)] for k in y], s=12, edgecolors="k",
                   linewidths=0.4)  # fmt: skip
        ax.set_title(name)
        ax.set_xlim(grid.xx.min(), grid.xx.max())
        ax.set_ylim(grid.yy.min(), grid.yy.max())
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
