"""Self-contained HTML from a report's Markdown: one file that opens anywhere, offline.

    report.md --Markdown (tables, fenced code)--> <body> --inline CSS, <title>--> report.html
    ![curves](plots/curves.png)  -->  <img src="data:image/png;base64,...">

Nothing is fetched when the page opens: every image is read from disk and inlined as a
``data:`` URI, the style sheet is inline, and there is no JavaScript; a Content-Security-Policy
in the page forbids anything else (scripts, remote images, style sheets). Raw HTML in the
Markdown is shown as text, so a class name like ``<pad>`` reads as written.

Only the report's own plots are inlined: a PNG (checked by its first bytes) at a relative path
inside the Markdown file's folder, symbolic links resolved. Any other image (absolute, ``..``
out of the folder, remote ``http://...``, another type such as .svg, a ``data:`` URI, missing,
unreadable or not a PNG inside) is a `ReportError` naming it, never a broken page and never a
file from elsewhere put into the page. Text a user chose (class names, config values, result
fields) reaches the Markdown escaped (`nnzoo.report.markdown.escape`), so it cannot become an
image in the first place.

A list right after a paragraph line (no blank line between, as GitHub allows) is a list here
too, not words run into the paragraph.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nnzoo.errors import NnzooError

# What a report inlines: the PNGs its plots write, checked by their first bytes.
MIME = {".png": "image/png"}
MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",)}
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
  max-width: 62rem; margin: 2rem auto; padding: 0 1.25rem; }
h1, h2, h3 { line-height: 1.25; margin: 1.6em 0 0.6em; }
h1 { font-size: 1.8em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.3em; }
h2 { font-size: 1.35em; border-bottom: 1px solid #d8dee4; padding-bottom: 0.25em; }
table { border-collapse: collapse; margin: 0.8em 0; display: block; overflow-x: auto;
  font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.75em; }
th, td:first-child { overflow-wrap: anywhere; }
th { background: #f6f8fa; font-weight: 600; }
tr:nth-child(even) td { background: #f9fafb; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: #eff1f3; border-radius: 4px; padding: 0.1em 0.3em; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1em;
  overflow-x: auto; }
pre code { background: none; padding: 0; }
img { max-width: 100%; height: auto; display: block; margin: 0.8em 0; }
"""


class ReportError(NnzooError, ValueError):
    """A report that cannot be written or read: a missing image, a folder that is not a run."""


def image_data_uri(src: str, folder: str | os.PathLike, *, source: str = "report") -> str:
    """The ``data:`` URI of the image ``src``: a PNG at a path relative to ``folder`` (as in
    Markdown) that stays inside ``folder``.

    Raises:
        ReportError: ``src`` is remote, a ``data:`` URI, absolute, outside ``folder``, not a
            .png, missing, unreadable, or not a PNG inside.
    """
    inline_only = (
        "a report inlines only the PNG plots it wrote in its own folder: link such a PNG, or "
        "remove the image"
    )
    if urlsplit(src).scheme or src.startswith("//"):
        raise ReportError(f"{source}: image {src!r} is not a local file; {inline_only}")
    relative = unquote(src)
    root = Path(folder).resolve()
    path = Path(folder) / relative
    try:
        inside = not Path(relative).is_absolute() and path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise ReportError(
            f"{source}: image {src!r} is outside the report's folder {folder}; {inline_only}"
        )
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ReportError(
            f"{source}: image {src!r} has an unknown type; expected one of {', '.join(MIME)} "
            f"({inline_only})"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(
            f"{source}: image {src!r} not found (looked for {path}); put the PNG there (rerun "
            "the command that wrote it), or remove the image"
        ) from None
    except OSError as e:
        raise ReportError(
            f"{source}: cannot read image {src!r} ({e}); check its permissions"
        ) from None
    if not data.startswith(MAGIC[mime]):
        raise ReportError(
            f"{source}: image {src!r} ({path}) is not a {path.suffix[1:]} file; replace it with "
            "the plot the report wrote (rerun the command that wrote it), or remove the image"
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])\s+\S")


def _ends_paragraph(line: str) -> bool:
    """A line of paragraph text (not blank, a list item, indented, a table row, heading, quote)."""
    if not line.strip() or LIST_ITEM.match(line) or line[:1].isspace():
        return False
    return not line.startswith(("|", "#", ">"))


def separate_lists(text: str) -> str:
    """A blank line before a list that follows a paragraph line directly (outside fenced code),
    so that Python-Markdown reads it as a list, as GitHub does."""
    out: list[str] = []
    fence = None
    previous = ""
    for line in text.split("\n"):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0] * 3
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None and LIST_ITEM.match(line) and _ends_paragraph(previous):
            out.append("")
        out.append(line)
        previous = line
    return "\n".join(out)


def markdown_to_html(
    text: str, folder: str | os.PathLike, *, title: str | None = None, source: str = "report"
) -> str:
    """A whole HTML page from Markdown, with the images under ``folder`` inlined.

    Args:
        text: the Markdown (headings, paragraphs, pipe tables, fenced code, images, lists,
            links).
        folder: where relative image paths start (the Markdown file's folder).
        title: the page's <title>; default: the first ``# heading``, else ``source``.
        source: names the document in error messages.
    """
    try:
        import markdown
        from markdown.treeprocessors import Treeprocessor
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("nnzoo.report.html needs markdown: pip install markdown") from None

    class InlineImages(Treeprocessor):
        def run(self, root):
            for img in root.iter("img"):
                img.set("src", image_data_uri(img.get("src", ""), folder, source=source))

    md = markdown.Markdown(extensions=["tables", "fenced_code"], output_format="html")
    md.treeprocessors.register(InlineImages(md), "nnzoo-inline-images", 1)  # after inline: 20
    md.preprocessors.deregister("html_block")  # text like <x> in a cell is shown, not parsed
    md.inlinePatterns.deregister("html")
    body = md.convert(separate_lists(text))
    if title is None:
        first = re.search(r"^# +(.+?)\s*$", text, flags=re.M)
        title = first.group(1) if first else source
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def html_path(markdown_path: str | os.PathLike) -> Path:
    """report.md -> report.html, beside it."""
    return Path(markdown_path).with_suffix(".html")


def write_html(markdown_path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the self-contained page of an existing Markdown file beside it; return its path."""
    from nnzoo.report.markdown import write_atomic

    path = Path(markdown_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ReportError(
            f"{path}: cannot read it ({e}); give an existing, readable UTF-8 Markdown file"
        ) from None
    page = markdown_to_html(text, path.parent, title=title, source=str(path))
    return write_atomic(html_path(path), page)
