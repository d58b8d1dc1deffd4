"""report.html: one page that needs nothing but itself, or a clear error."""

import base64
import os
import re

import pytest

pytest.importorskip("markdown")

from nnzoo.report.html import ReportError, image_data_uri, markdown_to_html, write_html
from nnzoo.report.markdown import table, write_report
from nnzoo.report.plots import plot_curves

HISTORY = [{"epoch": e, "loss": 1 / e, "val_loss": 1.1 / e} for e in (1, 2, 3)]


def data_uris(page):
    return re.findall(r'src="data:image/png;base64,([^"]+)"', page)


def test_images_are_inlined_byte_for_byte(tmp_path):
    png = plot_curves(HISTORY, tmp_path / "plots" / "curves.png")
    page = markdown_to_html("# Run\n\n![curves](plots/curves.png)\n", tmp_path)
    (uri,) = data_uris(page)
    assert base64.b64decode(uri) == png.read_bytes()
    assert 'alt="curves"' in page


def test_the_page_is_complete_and_fetches_nothing(tmp_path):
    text = (
        "# Résumé: a <b> & c\n\n"
        + table([["lstm", 0.5], ["gru", 0.25]], ["cell", "accuracy"])
        + '\n\n```toml\n[model]\ncell = "lstm"\n```\n\n- one\n- two\n\n[the paper](https://x.org)\n'
    )
    page = markdown_to_html(text, tmp_path)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<title>Résumé: a &lt;b&gt; &amp; c</title>" in page
    assert "<h1>Résumé: a &lt;b&gt; &amp; c</h1>" in page  # raw HTML is shown as text
    assert page.count("<tr>") == 3 and '<td style="text-align: right;">0.5000</td>' in page
    assert '<code class="language-toml">[model]\ncell = &quot;lstm&quot;\n</code>' in page
    assert "<li>one</li>" in page and '<a href="https://x.org">the paper</a>' in page
    assert "<script" not in page and "<link" not in page and 'src="' not in page
    assert "default-src 'none'; img-src data:" in page  # the browser loads nothing else


@pytest.mark.parametrize(
    "src, needle",
    [
        ("plots/missing.png", "image 'plots/missing.png' not found"),
        ("https://example.org/a.png", "is not a local file"),
        ("//example.org/a.png", "is not a local file"),
        ("notes.txt", "unknown type"),
        ("fake.png", "is not a png file"),
    ],
)
def test_a_bad_image_is_an_error_naming_it(tmp_path, src, needle):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(ReportError, match=re.escape(needle)):
        image_data_uri(src, tmp_path, source="report.md")


def test_a_missing_image_writes_neither_file_and_keeps_the_old_ones(tmp_path):
    path = write_report(tmp_path / "report.md", "Old", [("Notes", "fine")])
    old = {name: (tmp_path / name).read_bytes() for name in ("report.md", "report.html")}
    with pytest.raises(ReportError, match=r"report\.md: image 'plots/curves\.png' not found"):
        write_report(path, "New", [("Curves", "![curves](plots/curves.png)")])
    assert {name: (tmp_path / name).read_bytes() for name in old} == old
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.md"]


def test_write_report_writes_the_page_beside_the_markdown(tmp_path):
    plot_curves(HISTORY, tmp_path / "plots" / "curves.png")
    path = write_report(tmp_path / "report.md", "Run", [("Curves", "![c](plots/curves.png)")])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page == markdown_to_html(path.read_text(), tmp_path, title="Run")
    assert len(data_uris(page)) == 1


def test_write_html_of_an_existing_markdown_file(tmp_path):
    (tmp_path / "notes.md").write_text("# Notes\n\nHello.\n", encoding="utf-8")
    assert write_html(tmp_path / "notes.md") == tmp_path / "notes.html"
    assert "<title>Notes</title>" in (tmp_path / "notes.html").read_text()
    with pytest.raises(ReportError, match="cannot read it"):
        write_html(tmp_path / "absent.md")
