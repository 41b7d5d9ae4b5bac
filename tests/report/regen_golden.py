"""Regenerate the golden renderings of the fixture: ``python tests/report/regen_golden.py``.

Run it after an intended change to a template, then review the diff of tests/report/golden/ like
any other code change; test_golden.py fails on any unintended one.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from report import html, latex  # noqa: E402
from report.view import report_view  # noqa: E402

GOLDEN = HERE / "golden"
VERSIONS = GOLDEN / "versions.json"  # the HTML's MathML is latex2mathml's: its version is recorded


def versions() -> dict[str, str]:
    return {"latex2mathml": importlib.metadata.version("latex2mathml")}


def renderings() -> dict[str, str]:
    """The fixture's LaTeX and HTML, figures left out (their SVG depends on matplotlib's version)."""
    view = report_view(json.loads((HERE / "fixtures" / "results.json").read_text(encoding="utf-8")))
    page, bad_math = html.render(view)
    assert not bad_math, f"the fixture's math must all convert to MathML: {bad_math}"
    return {"report.tex": latex.render(view), "report.html": page}


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for name, text in renderings().items():
        (GOLDEN / name).write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN / name}")
    VERSIONS.write_text(json.dumps(versions(), indent=1) + "\n", encoding="utf-8")
