"""results.json -> the format-neutral view that the LaTeX and HTML templates both render.

The view holds raw strings tagged with how they print (prose, monospace, number); escaping and
math conversion are the output format's filters. It computes every count and sentence the report
states: steps verified per derivation (and how), checks passed per question and in all, which
stages ran in this build and which came from the cache, and whether each question passed, with
why not (`_problems`: a failed check, no checks, a derivation without verified steps, a missing
figure), which is also the build's verdict.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from collections.abc import Callable
from typing import Any

from report import provenance, values
from report.prose import has_math
from report.provenance import plural

SPLIT_CHARS = 150  # a step whose LaTeX is longer prints lhs and "= rhs" on two lines
LONG_TABLE = 40  # longer tables break across pages (longtable) instead of shrinking to fit
HEADER_CHARS = 14  # table headings wrap at about this many characters
WRAP_CHARS = 32  # a table column with longer text wraps (a paragraph column)

FigureFiles = Callable[[str, dict[str, Any]], dict[str, Any]]
"""``(id prefix, figure) -> {"pdf_ok": bool, "svg_markup": markup or None}``: what the renderer
found of a figure's files (`report.render.figure_files`)."""


def heading(title: str) -> str:
    """A question's heading in the problem set's numbering: "Question 1A ...", "Bonus: ..."."""
    return f"Question {title}" if title[:1].isdigit() else title


def _label(key: str) -> str:
    words = str(key).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _step_view(i: int, step: dict[str, Any]) -> dict[str, Any]:
    check = step.get("check")
    lhs, rhs = str(step.get("lhs", "")), str(step.get("rhs", ""))
    residual = values.as_float(check["error"]) if check else math.inf
    return {
        "number": i,
        "lhs": lhs,
        "rhs": rhs,
        "sign": r"\coloneqq" if step.get("kind") == "definition" else "=",
        "split": len(lhs) + len(rhs) > SPLIT_CHARS,
        "why": step.get("why", ""),
        "kind": step.get("kind", "identity"),
        "passed": bool(check and check.get("passed")),
        "checked": check is not None,
        "residual": residual,
        "tolerance": values.as_float(check.get("tolerance", 0.0)) if check else 0.0,
        "error": values.error(residual),
        "detail": check.get("detail", "") if check else "not verified",
    }


def _methods(steps: list[dict[str, Any]]) -> str:
    """How the steps were verified, from their checks: "3 × exact: simplify(...) == 0; 1 × ..."."""
    how = Counter(s["detail"] for s in steps if s["checked"])
    return "; ".join(f"{n} × {d}" for d, n in how.items())


def _verification(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What was checked for one derivation, how, and the largest residual against its tolerance."""
    held = [s for s in steps if s["passed"]]
    failed = [s["number"] for s in steps if not s["passed"]]
    checked = [s for s in steps if s["checked"]]
    passed = bool(steps) and len(held) == len(steps)
    if not steps:
        verdict = "it has no steps, so nothing was verified"
    elif passed:
        verdict = "its one step holds" if len(steps) == 1 else f"all {len(steps)} steps hold"
    else:
        numbers = ", ".join(str(n) for n in failed)
        verdict = (f"{len(held)} of {len(steps)} steps hold; "
                   + (f"step {numbers} does not" if len(failed) == 1 else f"steps {numbers} do not"))
    return {
        "passed": passed,
        "held": len(held),
        "total": len(steps),
        "verdict": verdict,
        "methods": [{"count": n, "detail": d} for d, n in Counter(s["detail"] for s in checked).items()],
        "worst": values.error(max((s["residual"] for s in checked), default=0.0)),
        "tolerance": values.error(max((s["tolerance"] for s in checked), default=0.0)),
    }


def _derivation_view(d: dict[str, Any]) -> dict[str, Any]:
    steps = [_step_view(i, s) for i, s in enumerate(d.get("steps", []), start=1)]
    result = d.get("result") or {}
    return {
        "name": d.get("name", ""),
        "title": d.get("title", "") or d.get("name", ""),
        "statement": d.get("statement", ""),
        "argument": d.get("argument", ""),
        "steps": steps,
        "result": {"name": result.get("name", ""), "latex": result.get("latex", "")},
        "verification": _verification(steps),
    }


def _check_row(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": str(c.get("name", "")),
        "passed": bool(c.get("passed")),
        "error": values.error(c.get("error")),
        "tolerance": values.error(c.get("tolerance")),
        "detail": str(c.get("detail", "")),
    }


def _other_checks(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's checks other than its derivations' step checks. `Section.to_json` lists the
    step checks first, in derivation order, each a copy of its ``steps[i].check``: they are
    dropped only when the list starts with exactly those, so no check can go missing by its name."""
    checks = list(section.get("checks", []))
    steps = [s["check"] for d in section.get("derivations", []) for s in d.get("steps", []) if s.get("check")]
    return checks[len(steps):] if checks[: len(steps)] == steps else checks


def _checks_view(section: dict[str, Any], derivs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per derivation (its steps summarised; each step is shown in the derivation) and
    one row per other check."""
    rows = []
    for d in derivs:
        v = d["verification"]
        rows.append({
            "name": f"{d['name']}: {plural(v['total'], 'derivation step')}",
            "passed": v["passed"],
            "error": v["worst"],
            "tolerance": v["tolerance"],
            "detail": f"{v['held']} of {v['total']} steps hold" + (f" ({_methods(d['steps'])})" if v["total"] else ""),
        })
    return rows + [_check_row(c) for c in _other_checks(section)]


def _figures_view(qid: str, figures: dict[str, Any], files: FigureFiles | None) -> list[dict[str, Any]]:
    out = []
    for i, (name, f) in enumerate(figures.items()):
        fig = {"name": str(name), "pdf": f.get("pdf", ""), "svg": f.get("svg", ""), "caption": f.get("caption", "")}
        fig.update(files(f"{qid}-f{i}", fig) if files else {"pdf_ok": False, "svg_markup": None})
        fig["missing"] = not fig["pdf_ok"] or fig["svg_markup"] is None
        out.append(fig)
    return out


def _header(value: Any) -> dict[str, Any]:
    """A column heading; long plain-text headings are broken into short lines (no wide columns)."""
    c = values.scalar(value, in_table=True)
    plain = c["style"] != "prose" or not has_math(c["text"])
    c["lines"] = textwrap.wrap(c["text"], HEADER_CHARS, break_long_words=False) if plain and c["text"] else [c["text"]]
    return c


def _column_spec(columns: list[dict[str, Any]], rows: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per column: right-aligned if numeric, a wrapping paragraph column if its text is long."""
    spec = []
    for j in range(len(columns)):
        cells = [r[j] for r in rows if r[j]["text"] != ""]
        numeric = bool(cells) and all(c["style"] == "number" for c in cells)
        longest = max([len(c["text"]) for c in cells + [columns[j]]], default=0)
        spec.append({"align": "r" if numeric else "l", "wrap": longest > WRAP_CHARS and not numeric})
    n_wrap = sum(c["wrap"] for c in spec)
    for c in spec:
        c["width"] = f"{max(0.15, (0.92 - 0.1 * (len(spec) - n_wrap)) / max(n_wrap, 1)):.2f}"
    return spec


def _tables_view(tables: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, t in tables.items():
        columns = [_header(c) for c in t.get("columns", [])]
        rows = [[values.scalar(v, in_table=True) for v in row] for row in t.get("rows", [])]
        width = max([len(columns)] + [len(r) for r in rows])
        columns += [_header("")] * (width - len(columns))
        rows = [r + [values.scalar("", in_table=True)] * (width - len(r)) for r in rows]
        out.append({
            "name": str(name), "caption": t.get("caption", ""), "columns": columns, "rows": rows,
            "spec": _column_spec(columns, rows), "long": len(rows) > LONG_TABLE,
        })
    return out


def _block(node: dict[str, Any]) -> dict[str, Any]:
    """A top-level key/value block: one key a line, however short."""
    node["inline"] = False
    return node


def _problems(section: dict[str, Any], n_checks: int, n_failed: int, derivs: list[dict[str, Any]],
              figures: list[dict[str, Any]]) -> list[str]:
    """Why a question fails, one phrase each; empty when it passes. The one place that decides."""
    problems = []
    if n_failed:
        problems.append(f"{n_failed} of {n_checks} checks failed")
    if not n_checks:
        problems.append("no checks ran")
    problems += [f"derivation {d['name']}: {d['verification']['verdict']}" for d in derivs
                 if not d["verification"]["passed"]]
    problems += [f"figure {f['name']!r} is missing a file ({f['pdf']}, {f['svg']})" for f in figures if f["missing"]]
    if not problems and not section.get("passed"):
        problems.append("results.json marks it failed")
    return problems


def question_view(qid: str, title: str, section: dict[str, Any], files: FigureFiles | None = None) -> dict[str, Any]:
    """Everything the templates print for one question; ``files`` looks up its figures' files
    (without it every figure counts as missing)."""
    derivs = [_derivation_view(d) for d in section.get("derivations", [])]
    all_checks = section.get("checks", [])
    n_failed = sum(1 for c in all_checks if not c.get("passed"))
    figures = _figures_view(qid, section.get("figures", {}), files)
    problems = _problems(section, len(all_checks), n_failed, derivs, figures)
    return {
        "id": qid,
        "title": title,
        "heading": heading(title),
        "passed": not problems,
        "problems": problems,
        "text": [{"label": _label(k), "prose": str(v)} for k, v in section.get("text", {}).items()],
        "answers": _block(values.tree(section.get("answer", {}))),
        "has_answers": bool(section.get("answer")),
        "derivations": derivs,
        "figures": figures,
        "tables": _tables_view(section.get("tables", {})),
        "metrics": _block(values.tree(section.get("metrics", {}))),
        "has_metrics": bool(section.get("metrics")),
        "checks": _checks_view(section, derivs),
        "n_checks": len(all_checks),
        "n_failed": n_failed,
        "n_passed": len(all_checks) - n_failed,
    }


def _order(results: dict[str, Any]) -> list[tuple[str, str]]:
    build = results.get("build", {})
    listed = [(q["id"], q.get("title", q["id"])) for q in build.get("questions", [])]
    known = {qid for qid, _ in listed}
    extra = [(k, k) for k in results if k != "build" and k not in known]
    return [(qid, title) for qid, title in listed + extra if qid in results]


def _claims(questions: list[dict[str, Any]], n_checks: int, n_failed: int) -> str:
    """What the build verified, counted: derivation steps (and how), checks, and what failed."""
    steps = [s for q in questions for d in q["derivations"] for s in d["steps"]]
    held = sum(s["passed"] for s in steps)
    methods = _methods(steps)
    text = f"{held} of {plural(len(steps), 'derivation step')} hold in SymPy" + (f" ({methods})" if methods else "")
    return text + f"; {n_checks - n_failed} of {plural(n_checks, 'check')} passed, derivation steps included"


def report_view(results: dict[str, Any], files: FigureFiles | None = None) -> dict[str, Any]:
    """The whole report: title page facts, the questions in the problem set's order, the build.
    ``files`` looks up the figures' files (see `question_view`)."""
    if not isinstance(results, dict):
        raise TypeError(f"results must be a dict (results.json), got {type(results).__name__}")
    build = results.get("build", {})
    questions = [question_view(qid, title, results[qid], files) for qid, title in _order(results)]
    missing = [q.get("title", q["id"]) for q in build.get("questions", []) if q["id"] not in results]
    n_checks = sum(q["n_checks"] for q in questions)
    n_failed = sum(q["n_failed"] for q in questions)
    n_failed_q = sum(not q["passed"] for q in questions)
    problem_set = build.get("problem_set", {})
    date = build.get("date", "")
    return {
        "title": problem_set.get("title", "Problem Set"),
        "subtitle": problem_set.get("subtitle", ""),
        "date": date,
        "draft": bool(build.get("config", {}).get("quick")),
        "claims": _claims(questions, n_checks, n_failed),
        "questions": questions,
        "missing": missing,
        "n_checks": n_checks,
        "n_failed": n_failed,
        "n_passed": n_checks - n_failed,
        "questions_failed": f"{n_failed_q} of {plural(len(questions), 'question')} FAILED" if n_failed_q else "",
        "passed": bool(questions) and n_failed_q == 0,
        "device": " ".join(str(build.get("device", {}).get(k, "")) for k in ("used", "name")).strip(),
        "seed": build.get("seeds", {}).get("seed", ""),
        "config": _block(values.tree(build.get("config", {}))),
        "environment": _block(values.tree({k: build[k] for k in ("device", "seeds", "versions") if k in build})),
        "provenance": provenance.sentence(build, date),
        "stages": provenance.stages(build),
        "stages_wall": provenance.stages_wall(build),
    }
