"""GitHub Markdown: tables (numbers right-aligned), confusion and classification tables, reports.

Columns are padded so the raw text lines up. A column is numeric, and right-aligned, when every
non-empty cell in it is a number (bools are text). Floats use ``floatfmt``, integers ``intfmt``
(``","`` gives 669,706); ``|`` in text is escaped and newlines become spaces. ``write_report``
writes a document as report.md and, beside it, a self-contained report.html.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError
from nnzoo.io import write_atomic
from nnzoo.report.html import html_path, markdown_to_html

Cell = Any


def _scalar(value: Cell) -> Cell:
    """0-d tensors and NumPy scalars -> Python numbers."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:
        return item()
    return value


def _is_number(value: Cell) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _format(value: Cell, floatfmt: str, intfmt: str) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return format(value, intfmt)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return format(value, floatfmt)
    return str(value).replace("|", r"\|").replace("\r\n", " ").replace("\n", " ")


def table(
    rows: Sequence[Mapping[str, Cell]] | Sequence[Sequence[Cell]],
    headers: Sequence[str] | None = None,
    *,
    floatfmt: str = ".4f",
    intfmt: str = "d",
) -> str:
    """A GitHub Markdown table, one line per row, no trailing newline.

    Args:
        rows: dicts (columns are their keys, in first-seen order; a missing key is an empty
            cell) or lists of cells. ``None`` is an empty cell.
        headers: column titles. With dict rows they choose and order the keys; with list rows
            they are required.
        floatfmt: format spec for floats.
        intfmt: format spec for integers.
    """
    rows = list(rows)
    dict_rows = bool(rows) and all(isinstance(r, Mapping) for r in rows)
    if dict_rows:
        if headers is None:
            headers = list(dict.fromkeys(k for r in rows for k in r))
        grid = [[_scalar(r.get(h)) for h in headers] for r in rows]
    else:
        if any(isinstance(r, Mapping) for r in rows):
            raise ConfigError("rows: expected all dicts or all lists, got a mix")
        if headers is None:
            raise ConfigError("headers: required when rows are lists")
        grid = [[_scalar(c) for c in r] for r in rows]
        for i, r in enumerate(grid):
            if len(r) != len(headers):
                raise ConfigError(
                    f"rows[{i}]: expected {len(headers)} cells (one per header), got {len(r)}"
                )
    headers = [str(h) for h in headers]
    if not headers:
        raise ConfigError("headers: a table needs at least one column")
    numeric = [
        any(r[j] is not None for r in grid) and all(r[j] is None or _is_number(r[j]) for r in grid)
        for j in range(len(headers))
    ]
    text = [[_format(c, floatfmt, intfmt) for c in r] for r in grid]
    header_text = [_format(h, floatfmt, intfmt) for h in headers]
    widths = [max(3, len(header_text[j]), *(len(r[j]) for r in text)) for j in range(len(headers))]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, numeric)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w + 1) + ":" if right else "-" * (w + 2) for w, right in zip(widths, numeric)]
    return "\n".join([line(header_text), "|" + "|".join(rule) + "|", *(line(r) for r in text)])


def confusion_table(cm: Any, class_names: Sequence[str]) -> str:
    """A confusion matrix (rows true, columns predicted) as a Markdown table of counts."""
    counts = cm.tolist() if hasattr(cm, "tolist") else [list(r) for r in cm]
    names = [str(n) for n in class_names]
    if len(counts) != len(names) or any(len(r) != len(names) for r in counts):
        raise ConfigError(
            f"cm: expected a ({len(names)}, {len(names)}) matrix for {len(names)} class names"
        )
    return table([[name, *row] for name, row in zip(names, counts)], ["true \\ predicted", *names])


def classification_table(report: Mapping[str, Any], *, floatfmt: str = ".4f") -> str:
    """A `classification_report` as a Markdown table: one row per class, then the averages.

    The accuracy row, as in scikit-learn's text report, puts the accuracy in the F1 column.
    """
    headers = ["class", "precision", "recall", "f1", "support"]
    rows = [[name, *(row[k] for k in headers[1:])] for name, row in report["classes"].items()]
    rows.append(["accuracy", None, None, report["accuracy"], report["support"]])
    for label, key in (("macro avg", "macro"), ("weighted avg", "weighted")):
        rows.append([label, *(report[key][k] for k in headers[1:])])
    return table(rows, headers, floatfmt=floatfmt)


def write_report(path: str | os.PathLike, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write a Markdown document: ``# title``, then ``## heading`` and body for each section.

    Beside it goes the same document as one self-contained page (``report.md`` ->
    ``report.html``, images inlined; see `nnzoo.report.html`). The page is built first, so a
    missing image writes neither file; each is written atomically (a temporary file, then
    os.replace), and folders are created. Returns the Markdown file's path.
    """
    path = Path(path)
    parts = [f"# {title}"]
    for heading, body in sections:
        parts.append(f"## {heading}")
        if body.strip():
            parts.append(body.strip("\n"))
    text = "\n\n".join(parts) + "\n"
    page = markdown_to_html(text, path.parent, title=title, source=str(path))
    write_atomic(path, text)
    write_atomic(html_path(path), page)
    return path
