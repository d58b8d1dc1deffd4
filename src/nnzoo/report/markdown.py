"""GitHub Markdown: tables (numbers right-aligned), confusion and classification tables, reports.

Columns are padded so the raw text lines up. A column is numeric, and right-aligned, when every
non-empty cell in it is a number (bools are text). Floats use ``floatfmt``, integers ``intfmt``
(``","`` gives 669,706); newlines become spaces. ``write_report`` writes a document as report.md
and, beside it, a self-contained report.html.

Text is text: a string cell, a header, a report's title and its headings are escaped (`escape`),
so a class name or a config value like ``![p](/etc/x.svg)``, ``*bold*`` or ``[a](b)`` reads as
written instead of becoming an image, emphasis or a link. Markdown that code means as Markdown
is a `Markup` (`code` makes a code span of any text); a cell that is one code span is kept.
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnzoo.errors import ConfigError
from nnzoo.io import write_atomic
from nnzoo.report.html import html_path, markdown_to_html

Cell = Any
# What could turn text into markup inside a line: escapes, code, emphasis, links and images,
# autolinks (their closing ``>``; raw HTML is off, so ``<`` is text); `|` would split a table
# cell. ``_`` only at a word's edge. These are all characters Markdown lets a backslash escape.
SPECIAL = re.compile(r"([\\`*\[\]!>|{}]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
BLOCK_START = re.compile(r"^(\s*\d{0,9})([-+#]|(?<=\d)[.)])(?=\s|$)")
CODE_SPAN = re.compile(r"(`+)(?!`)[^`](?:.*?[^`])?\1(?!`)")


class Markup(str):
    """Markdown written by nnzoo itself (a link to its own plot, a code span): not escaped."""


def escape(text: Any) -> Markup:
    """``text`` as literal Markdown text: every character that could start markup is escaped,
    and newlines become spaces."""
    if isinstance(text, Markup):
        return text
    flat = str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    flat = SPECIAL.sub(r"\\\1", flat)
    return Markup(BLOCK_START.sub(r"\1\\\2", flat))  # not a list item or heading at a line start


def code(text: Any) -> Markup:
    """``text`` as one inline code span, whatever backticks it holds (newlines as spaces)."""
    flat = str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return Markup(f"{ticks}{pad}{flat}{pad}{ticks}")


def fenced(text: str, language: str = "") -> Markup:
    """``text`` as a fenced code block that no line of it can close."""
    longest = max((len(run) for run in re.findall(r"^\s*(`{3,})", text, flags=re.M)), default=2)
    fence = "`" * (longest + 1)
    return Markup(f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}")


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
    if isinstance(value, str) and not isinstance(value, Markup) and CODE_SPAN.fullmatch(value):
        return value  # one code span: inert already (a table keeps | inside code)
    return escape(value)


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
    headers = [h if isinstance(h, str) else str(h) for h in headers]
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
    return table(
        [[name, *row] for name, row in zip(names, counts)], [Markup("true \\ predicted"), *names]
    )


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
    ``report.html``, images inlined; see `nnzoo.report.html`). The title and the headings are
    text (`escape`); each body is Markdown. The page is built first, so a
    missing image writes neither file; each is written atomically (a temporary file, then
    os.replace), and folders are created. Returns the Markdown file's path.
    """
    path = Path(path)
    parts = [f"# {escape(title)}"]
    for heading, body in sections:
        parts.append(f"## {escape(heading)}")
        if body.strip():
            parts.append(body.strip("\n"))
    text = "\n\n".join(parts) + "\n"
    page = markdown_to_html(text, path.parent, title=title, source=str(path))
    write_atomic(path, text)
    write_atomic(html_path(path), page)
    return path
