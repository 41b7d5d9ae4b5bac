"""End to end: ``python build.py --quick`` writes results.json for every question, a PDF whose
text holds every question heading in the problem set's order, and an HTML page with the same
sections; its exit status is 0 exactly when the report's verdict is passed (which needs every
check of every question to pass). A second run takes every stage from the cache.

Slow (the whole quick build: about a minute or two on 2 cores), so marked ``slow``; CI runs it
with ``pytest -m slow tests/test_build_e2e.py``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from numeric.datasets import resolve_data_dir
from registry import QUESTIONS
from report.compile import tex_available
from report.render import figure_files
from report.view import heading, report_view

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 900  # the quick build's budget is 3 minutes on 2 cores; this only stops a hang


def _build(repo: Path, out: Path) -> tuple[int, dict]:
    cmd = [sys.executable, "build.py", "--quick", "--out", str(out), "--data-dir", str(resolve_data_dir())]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "results.json").read_text())


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.slow
def test_quick_build_writes_the_whole_write_up(tmp_path):
    # a snapshot of the source, so the second build sees exactly the code the first one ran
    repo = shutil.copytree(ROOT, tmp_path / "repo", ignore=shutil.ignore_patterns(
        ".git", "build", "__pycache__", "*.pyc", ".hypothesis", ".benchmarks", ".venv"))
    out = tmp_path / "build"
    rc, results = _build(repo, out)
    ids = [q.id for q in QUESTIONS]
    assert [k for k in results if k != "build"] == ids
    view = report_view(results, figure_files(out))
    assert rc == (0 if view["passed"] else 1)
    assert not view["passed"] or all(results[q]["passed"] for q in ids)
    assert results["build"]["config"]["quick"] is True and set(results["build"]["stage_seconds"]) == set(ids)
    headings = [heading(q.title) for q in QUESTIONS]

    page = (out / "report.html").read_text(encoding="utf-8")
    sections = re.findall(r'<section class="question" id="([^"]+)">\s*<h2>(.*?)</h2>', page, re.S)
    assert [s[0] for s in sections] == ids
    assert [html.unescape(s[1]) for s in sections] == headings
    assert "DRAFT (--quick)" in page

    assert (out / "report.tex").is_file()
    if tex_available() and shutil.which("pdftotext"):
        text = _flat(subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], capture_output=True,
                                    text=True, check=True).stdout)
        pos = text.find(headings[0], text.find("Build", text.find("Contents")))  # after the contents page
        for h in headings:  # every heading, in the problem set's order
            found = text.find(h, pos)
            assert found >= 0, f"heading {h!r} missing (or out of order) in report.pdf"
            pos = found
        assert "DRAFT (--quick)" in text

    rc2, again = _build(repo, out)
    assert rc2 == rc and set(again["build"]["cache"].values()) == {"cached"}
