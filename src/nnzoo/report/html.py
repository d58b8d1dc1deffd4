"""Self-contained HTML from a report's Markdown: one file that opens anywhere, offline.

    report.md --Markdown (tables, fenced code)--> <body> --inline CSS, <title>--> report.html
    ![curves](plots/curves.png)  -->  <img src="data:image/png;base64,...">

Nothing is fetched when the page opens: every image is read from disk (relative to the Markdown
file's folder) and inlined as a ``data:`` URI, the style sheet is inline, and there is no
JavaScript; a Content-Security-Policy in the page forbids anything else (scripts, remote images,
style sheets). Raw HTML in the Markdown is shown as text, so a class name like ``<pad>`` reads
as written. An image that is missing, unreadable, not what its suffix says, or remote
(``http://...``) is a `ReportError` naming it, never a broken page.
"""

from __future__ import annotations

import base64
import html
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nnzoo.errors import NnzooError

MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
}
# The first bytes of each binary format, to catch a file that is not what its suffix says.
MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
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
    """The ``data:`` URI of the image ``src`` (a path relative to ``folder``, as in Markdown).

    Raises:
        ReportError: ``src`` is remote, missing, unreadable, of an unknown type, or not the
            format its suffix names.
    """
    if src.startswith("data:"):
        return src
    if urlsplit(src).scheme or src.startswith("//"):
        raise ReportError(
            f"{source}: image {src!r} is not a local file; a report inlines images from disk only"
        )
    path = Path(folder) / unquote(src)
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ReportError(
            f"{source}: image {src!r} has an unknown type; expected one of {', '.join(MIME)}"
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{source}: image {src!r} not found (looked for {path})") from None
    except OSError as e:
        raise ReportError(f"{source}: cannot read image {src!r} ({e})") from None
    if mime in MAGIC and not data.startswith(MAGIC[mime]):
        raise ReportError(f"{source}: image {src!r} ({path}) is not a {path.suffix[1:]} file")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


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
    body = md.convert(text)
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
        raise ReportError(f"{path}: cannot read it ({e})") from None
    page = markdown_to_html(text, path.parent, title=title, source=str(path))
    return write_atomic(html_path(path), page)
