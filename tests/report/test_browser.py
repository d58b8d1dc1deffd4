"""report.html in a real browser: it loads without errors and every plot is drawn.

Headless Chromium (Debian's ``chromium``, or ``chromium-browser`` / ``google-chrome``) opens a
real run's report from disk. A copy of the page with a small probe script records errors and,
once the page has loaded, whether every <img> decoded (``complete && naturalWidth > 0``) under
the page's own Content-Security-Policy; ``--dump-dom`` hands the verdict back. A screenshot of
the unmodified page must show the plots (blue lines and heat-map cells), not a blank page.
Without a browser these tests skip; ``.ci/run`` installs one, so CI never skips them.
"""

import base64
import json
import os
import re
import shutil
import subprocess

import pytest

from nnzoo.report.html import CSP

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 120  # seconds; a cold start on a busy 2-core machine takes a few
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(
  e.message || ("failed to load " + String(e.target && (e.target.src || e.target.tagName))
    .slice(0, 80))), true);
document.addEventListener("securitypolicyviolation", e => window.__errors.push(
  "blocked by the page's policy: " + e.violatedDirective + " " + e.blockedURI));
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const verdict = {
    images: images.length,
    rendered: images.filter(i => i.complete && i.naturalWidth > 0).length,
    sizes: images.map(i => [i.naturalWidth, i.naturalHeight]),
    errors: window.__errors,
    title: document.title,
  };
  const out = document.createElement("pre");
  out.id = "nnzoo-verdict";
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
});
</script>
"""


def find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def browser(tmp_path):
    """A function running headless chromium with ``args`` and returning its stdout."""
    path = find_browser()
    if path is None:
        message = "no chromium/chrome browser installed: apt-get install chromium"
        if os.environ.get("NNZOO_REQUIRE_BROWSER"):  # set by .ci/run, which installs one
            pytest.fail(message)
        pytest.skip(message)
    profile = tmp_path / "profile"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(*args):
        command = [
            path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", *args,
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    return run


def plots_in(markdown):
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)


def test_the_page_is_self_contained(trained_runs):
    folder = trained_runs["lstm"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    plots = plots_in((folder / "report.md").read_text())
    assert plots == ["plots/curves.png", "plots/confusion.png"]
    assert not re.search(r"""src=["'](?!data:)""", page)  # no file or http image
    assert not re.search(r"https?://|file:", page)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(u) for u in uris] == [(folder / p).read_bytes() for p in plots]


def test_the_page_loads_without_errors_and_every_plot_decodes(trained_runs, browser, tmp_path):
    folder = trained_runs["lstm"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    # the probe script needs permission to run; images stay under the page's own policy
    assert page.count(CSP) == 1
    probe = page.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace(
        '<meta charset="utf-8">\n', '<meta charset="utf-8">\n' + PROBE, 1
    )
    probe_path = tmp_path / "probe.html"  # away from the plots: only inlined images can load
    probe_path.write_text(probe, encoding="utf-8")
    dom = browser("--virtual-time-budget=5000", "--dump-dom", probe_path.as_uri())
    found = re.search(r'<pre id="nnzoo-verdict">(.*?)</pre>', dom, flags=re.S)
    assert found, f"no verdict in the page: {dom[-500:]}"
    verdict = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert verdict["errors"] == []
    assert verdict["images"] == len(plots_in((folder / "report.md").read_text())) == 2
    assert verdict["rendered"] == verdict["images"]
    assert all(w > 100 and h > 100 for w, h in verdict["sizes"])
    title = (folder / "report.md").read_text().splitlines()[0]
    assert f"# {verdict['title']}" == title


def test_a_screenshot_shows_the_plots(trained_runs, browser, tmp_path):
    from matplotlib.image import imread

    page = tmp_path / "report.html"  # the unmodified page, alone in its folder
    shutil.copy(trained_runs["lstm"] / "report.html", page)
    shot = tmp_path / "shot.png"
    browser(f"--screenshot={shot}", "--window-size=1200,3000", page.as_uri())
    pixels = imread(shot)[..., :3]  # (H, W, 3) in [0, 1]
    assert pixels.shape[:2] == (3000, 1200)
    assert pixels.std() > 0.05 and pixels.mean() < 0.99  # not blank, not all white
    red, blue = pixels[..., 0], pixels[..., 2]
    coloured = (blue - red > 0.25) & (blue > 0.5)  # the plots' blue lines and Blues cells
    assert coloured.sum() > 500, f"only {coloured.sum()} blue pixels: are the plots drawn?"
    text = pixels.max(-1) < 0.3  # dark pixels: the report's text
    assert text.sum() > 1000
