"""Text a user chose reaches a report as text; only the report's own PNGs are inlined."""

import base64
import os
import re

import pytest

pytest.importorskip("markdown")

from nnzoo.report.html import ReportError, image_data_uri, markdown_to_html
from nnzoo.report.markdown import (
    classification_table,
    code,
    confusion_table,
    escape,
    fenced,
    table,
    write_report,
)
from nnzoo.report.plots import plot_curves

HISTORY = [{"epoch": e, "loss": 1 / e, "accuracy": e / 4} for e in (1, 2, 3)]


def inlined(page):
    return [base64.b64decode(u) for u in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


@pytest.fixture
def secret_png(tmp_path):
    """A real PNG outside the report's folder (tmp_path/report)."""
    return plot_curves(HISTORY[:2], tmp_path / "secret" / "private.png")


def test_a_label_with_image_syntax_is_text_and_only_the_own_png_is_inlined(tmp_path, secret_png):
    folder = tmp_path / "report"
    own = plot_curves(HISTORY, folder / "plots" / "curves.png")
    svg = tmp_path / "secret.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'><text>secret</text></svg>")
    labels = [f"![p]({secret_png})", "![q](../secret/private.png)", f"![s]({svg})"]
    cm = [[1, 0, 0], [0, 2, 0], [0, 0, 3]]
    row = {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    report = {"classes": dict.fromkeys(labels, row), "accuracy": 1.0, "support": 3}
    report |= {"macro": row, "weighted": row}
    sections = [
        ("Curves", "![curves](plots/curves.png)"),
        ("Confusion", confusion_table(cm, labels)),
        ("Per class", classification_table(report)),
        ("Results", table([["stop_reason", f"![r]({secret_png})"]], ["", ""])),
    ]
    md = write_report(folder / "report.md", f"![t]({svg})", sections)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert inlined(page) == [own.read_bytes()]  # the report's own plot, byte for byte
    assert page.count("<img") == 1
    assert "svg+xml" not in page and "secret</text>" not in page
    for label in labels:  # shown as written, in the confusion table, the class table, the title
        assert page.count(label) >= 2
    assert f"<h1>![t]({svg})</h1>" in page
    assert f"<td>![r]({secret_png})</td>" in page
    assert f"\\!\\[p\\]({secret_png})" in md.read_text()  # escaped in the Markdown too


@pytest.mark.parametrize(
    ("src", "needle"),
    [
        ("{secret}", "is outside the report's folder"),
        ("../secret/private.png", "is outside the report's folder"),
        ("link.png", "is outside the report's folder"),  # a symbolic link out of the folder
        ("data:image/png;base64,AAAA", "is not a local file"),
        ("data:image/svg+xml;base64,AAAA", "is not a local file"),
        ("pic.svg", "unknown type; expected one of .png"),
        ("pic.webp", "unknown type; expected one of .png"),
        ("fake.png", "is not a png file"),
    ],
)
def test_images_that_the_report_did_not_write_are_refused(tmp_path, secret_png, src, needle):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "pic.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    (folder / "fake.png").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    os.symlink(secret_png, folder / "link.png")
    src = src.format(secret=secret_png)
    with pytest.raises(ReportError, match=re.escape(needle)) as e:
        image_data_uri(src, folder, source="report.md")
    assert "\n" not in str(e.value)
    with pytest.raises(ReportError, match=re.escape(needle)):  # and so is the whole page
        markdown_to_html(f"# R\n\n![x]({src})\n", folder, source="report.md")


def test_a_png_in_a_subfolder_of_the_report_is_inlined(tmp_path):
    own = plot_curves(HISTORY, tmp_path / "runs" / "a" / "plots" / "curves.png")
    assert image_data_uri("runs/a/plots/../plots/curves.png", tmp_path).endswith(
        base64.b64encode(own.read_bytes()).decode()
    )


@pytest.mark.parametrize(
    "text", ["*bold* _it_", "[a](https://x.org)", "<b>x</b>", "a|b", "`x`y` \\ ! {}", "1.\n- 2"]
)
def test_escaped_text_renders_as_written(tmp_path, text):
    page = markdown_to_html(f"# t\n\n{escape(text)}\n", tmp_path)
    body = page[page.index("<body>") :]
    shown = re.sub(r"<[^>]+>", "", body).strip()
    import html

    assert html.unescape(shown) == "t\n" + text.replace("\n", " ")


def test_code_and_fenced_blocks_hold_any_backticks(tmp_path):
    command = "nnzoo train --set 'data.name=`![p](/etc/x.svg)`'"
    block = fenced('a = "```"', "toml")
    page = markdown_to_html(f"# t\n\n{code(command)}\n\n{block}\n", tmp_path)
    assert "<img" not in page
    assert "<code>nnzoo train --set 'data.name=`![p](/etc/x.svg)`'</code>" in page
    assert '<code class="language-toml">a = &quot;```&quot;\n</code>' in page


def test_a_list_right_after_a_paragraph_line_is_a_list(tmp_path):
    text = (
        "# t\n\nThe runs:\n- one\n- two\n\nSteps:\n1. first\n2. second\n\n"
        "```\nx\n- not a list\n```\n"
    )
    page = markdown_to_html(text, tmp_path)
    assert "<p>The runs:</p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in page
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in page
    assert "<code>x\n- not a list\n</code>" in page  # code stays as it was


def test_name_columns_of_tables_may_wrap(tmp_path):
    page = markdown_to_html("# t\n", tmp_path)
    assert "th, td:first-child { overflow-wrap: anywhere; }" in page
