"""Render the report from results.json alone: report.tex, report.pdf and report.html beside it.

    python -m report.render build/results.json [--no-pdf]

Figures are read from the paths results.json records (relative to its folder): PDF for LaTeX,
SVG inlined into the HTML. Every file is written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numeric.files import write_text_atomic
from report import compile as texcompile
from report import html, latex, mathml
from report.view import report_view


@dataclass
class Rendered:
    """What `render` wrote, and what the caller should tell the user."""

    tex: Path
    html: Path
    pdf: Path | None = None
    pdf_ran: bool = False
    notes: list[str] = field(default_factory=list)  # one line each: missing TeX, math not converted, ...
    passed: bool = False  # every check in results.json passed


def _figure_path(out: Path, rel: str) -> Path | None:
    """``rel`` resolved under ``out`` if it is a plain relative path to an existing file."""
    try:
        latex.path(rel)
    except ValueError:
        return None
    path = out / rel
    return path if path.is_file() else None


def _attach_figures(view: dict[str, Any], out: Path) -> list[str]:
    notes = []
    for q in view["questions"]:
        for i, f in enumerate(q["figures"]):
            f["pdf_ok"] = _figure_path(out, f["pdf"]) is not None
            svg = _figure_path(out, f["svg"])
            f["svg_markup"] = html.inline_svg(svg, f"{q['id']}-f{i}") if svg else None
            if not f["pdf_ok"] or f["svg_markup"] is None:
                notes.append(f"{q['id']}: figure {f['name']!r} is missing a file ({f['pdf']!r}, {f['svg']!r})")
    return notes


def load(results_path: Path) -> dict[str, Any]:
    path = Path(results_path)
    if not path.is_file():
        raise FileNotFoundError(f"results_path {path} does not exist")
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    if not isinstance(results, dict):
        raise ValueError(f"results_path {path} does not hold a JSON object")
    return results


def render(results_path: Path, pdf: bool = True, force: bool = False) -> Rendered:
    """Write report.tex and report.html (and report.pdf when ``pdf``) beside ``results_path``.

    A missing TeX engine is a note, not an error; a LaTeX failure raises `report.compile.LatexError`.
    """
    results_path = Path(results_path)
    out = results_path.parent
    view = report_view(load(results_path))
    notes = _attach_figures(view, out)
    tex_path, html_path = out / "report.tex", out / "report.html"
    write_text_atomic(tex_path, latex.render(view))
    before = len(mathml.failures)
    write_text_atomic(html_path, html.render(view))
    bad_math = mathml.failures[before:]
    if bad_math:
        notes.append(f"{len(bad_math)} math snippet(s) could not be converted to MathML, e.g. {bad_math[0]!r}")
    done = Rendered(tex=tex_path, html=html_path, notes=notes, passed=view["passed"])
    if pdf:
        try:
            done.pdf, done.pdf_ran = texcompile.compile_pdf(tex_path, force=force)
        except texcompile.TexMissing as exc:
            done.notes.append(str(exc))
    return done


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render report.tex/.pdf/.html from a results.json.")
    ap.add_argument("results", type=Path, help="path to results.json")
    ap.add_argument("--no-pdf", action="store_true", help="skip the LaTeX compile")
    args = ap.parse_args(argv)
    try:
        done = render(args.results, pdf=not args.no_pdf, force=True)
    except (FileNotFoundError, ValueError, texcompile.LatexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    for note in done.notes:
        print(note)
    print(f"wrote {done.tex}, {done.html}" + (f", {done.pdf}" if done.pdf else ""))
    return 0 if done.passed else 1


if __name__ == "__main__":
    sys.exit(main())
