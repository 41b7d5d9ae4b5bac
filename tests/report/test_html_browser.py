"""The HTML page in headless Chromium: its math is laid out as math (fractions stacked,
superscripts raised: MathML, not text), and loading it makes no network request.

Both checks run against a control that must fail them (the same markup outside the MathML
namespace; a page with an external image), so they cannot pass vacuously.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from report.render import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian's chromium package; make sysdeps)")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--no-first-run", "--hide-scrollbars", "--disable-spell-checking",
]
TIMEOUT_S = 90  # a cold Chromium start on a busy 2-core machine takes a few seconds

PROBE = """<script>
const r = {};
const box = e => e.getBoundingClientRect();
const frac = document.querySelector("mfrac");
r.fraction_stacked = !!frac && box(frac.children[0]).bottom <= box(frac.children[1]).top + 0.5;
const sup = document.querySelector("msup");
r.superscript_raised = !!sup && box(sup.children[1]).bottom < box(sup.children[0]).bottom - 1;
const row = document.querySelector("mtable mtr:nth-child(2)");
r.matrix_rows_stacked = !!row && box(row).top >= box(row.previousElementSibling).bottom - 0.5;
document.body.setAttribute("data-layout", JSON.stringify(r));
</script>"""


def _chromium(page: Path, *extra: str) -> str:
    proc = subprocess.run([CHROMIUM, *FLAGS, *extra, page.as_uri()], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _layout(page: Path) -> dict[str, bool]:
    dom = _chromium(page, "--dump-dom", "--virtual-time-budget=3000")
    (found,) = re.findall(r'data-layout="([^"]*)"', dom)
    return json.loads(found.replace("&quot;", '"'))


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked the network for (the browser's own update pings have another origin)."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"] for e in log["events"]
        if e["type"] == start and "file://" in e["params"].get("network_isolation_key", "")
    ]


def _probe_copy(page: Path, name: str, mathml: bool = True, external: bool = False) -> Path:
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text(encoding="utf-8"))
    if not mathml:  # the same elements, but not MathML: they lay out as inline text
        text = text.replace("<math", "<x-math").replace("</math>", "</x-math>")
    if external:
        text = text.replace("<main>", '<main><img src="http://127.0.0.1:9/probe.png" alt="">', 1)
    out = page.with_name(name)
    out.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    return out


@pytest.fixture
def page(fixture_out) -> Path:
    return render(fixture_out / "results.json", pdf=False).html


def test_math_is_laid_out_as_math(page):
    assert _layout(_probe_copy(page, "probe.html")) == {
        "fraction_stacked": True, "superscript_raised": True, "matrix_rows_stacked": True}


def test_layout_probe_fails_on_markup_that_is_not_mathml(page):
    layout = _layout(_probe_copy(page, "control.html", mathml=False))
    assert not layout["fraction_stacked"] and not layout["matrix_rows_stacked"]


def test_the_page_makes_no_network_request_and_renders(page):
    netlog, shot = page.with_name("net.json"), page.with_name("page.png")
    _chromium(page, f"--log-net-log={netlog}", f"--screenshot={shot}", "--window-size=1000,2000")
    assert _page_requests(netlog) == []
    assert shot.stat().st_size > 20_000  # a page of text, math and a figure, not a blank one


def test_the_request_probe_sees_a_request_from_the_page(page):
    netlog = page.with_name("net-control.json")
    _chromium(_probe_copy(page, "external.html", external=True), f"--log-net-log={netlog}", "--dump-dom")
    assert _page_requests(netlog) == ["http://127.0.0.1:9/probe.png"]
