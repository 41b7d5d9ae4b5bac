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
from report import html, latex
from report.view import FigureFiles, report_view


@dataclass
class Rendered:
    """What `render` wrote, and what the caller should tell the user."""

    tex: Path
    html: Path
    pdf: Path | None = None
    pdf_ran: bool = False
    notes: list[str] = field(default_factory=list)  # one line each: missing TeX, math not converted, ...
    passed: bool = False  # the report's verdict (`report.view`): every question has checks, all passed, ...
    failed: dict[str, list[str]] = field(default_factory=dict)  # question id -> why it failed


def _figure_path(out: Path, rel: str) -> Path | None:
    """``rel`` resolved under ``out`` if it is a plain relative path to an existing file."""
    try:
        latex.path(rel)
    except ValueError:
        return None
    path = out / rel
    return path if path.is_file() else None


def figure_files(out: Path) -> FigureFiles:
    """The view's figure lookup (`report.view.FigureFiles`) for figures stored under ``out``."""

    def find(prefix: str, fig: dict[str, Any]) -> dict[str, Any]:
        svg = _figure_path(out, fig["svg"])
        return {"pdf_ok": _figure_path(out, fig["pdf"]) is not None,
                "svg_markup": html.inline_svg(svg, prefix) if svg else None}

    return find


def _drop_stale_pdf(out: Path, why: str) -> list[str]:
    """Remove an earlier build's report.pdf, which no longer matches report.tex; a note if there was one."""
    pdf = out / "report.pdf"
    if not pdf.is_file():
        return []
    pdf.unlink()
    return [f"removed {pdf} of an earlier build ({why}): it did not match this report.tex"]


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
    Without a new PDF (``pdf`` false, no TeX, a LaTeX failure) an earlier report.pdf is removed.
    """
    results_path = Path(results_path)
    out = results_path.parent
    view = report_view(load(results_path), figure_files(out))
    notes = [f"{q['id']}: figure {f['name']!r} is missing a file ({f['pdf']!r}, {f['svg']!r})"
             for q in view["questions"] for f in q["figures"] if f["missing"]]
    tex_path, html_path = out / "report.tex", out / "report.html"
    write_text_atomic(tex_path, latex.render(view))
    page, bad_math = html.render(view)
    write_text_atomic(html_path, page)
    if bad_math:
        notes.append(f"{len(bad_math)} math snippet(s) could not be converted to MathML, e.g. {bad_math[0]!r}")
    failed = {q["id"]: q["problems"] for q in view["questions"] if not q["passed"]}
    done = Rendered(tex=tex_path, html=html_path, notes=notes, passed=view["passed"], failed=failed)
    if not pdf:
        done.notes += _drop_stale_pdf(out, "--no-pdf")
        return done
    try:
        done.pdf, done.pdf_ran = texcompile.compile_pdf(tex_path, force=force)
    except texcompile.TexMissing as exc:
        done.notes.append(str(exc))
        done.notes += _drop_stale_pdf(out, "no TeX engine")
    except texcompile.LatexError:
        _drop_stale_pdf(out, "LaTeX failed")
        raise
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
    for qid, problems in done.failed.items():
        print(f"FAILED {qid}: {'; '.join(problems)}")
    return 0 if done.passed else 1


if __name__ == "__main__":
    sys.exit(main())
