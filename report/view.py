"""results.json -> the format-neutral view that the LaTeX and HTML templates both render.

The view holds raw strings tagged with how they print (prose, monospace, number); escaping and
math conversion are the output format's filters. It computes every count the report states:
steps verified per derivation, checks passed per question and in all, and flags what failed.
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter
from typing import Any

from report import values
from report.prose import has_math

STEP_CHECK = "{name}: step {i}"  # how derivations/core.py names a derivation's step checks
SPLIT_CHARS = 150  # a step whose LaTeX is longer prints lhs and "= rhs" on two lines
LONG_TABLE = 40  # longer tables break across pages (longtable) instead of shrinking to fit
HEADER_CHARS = 14  # table headings wrap at about this many characters
WRAP_CHARS = 32  # a table column with longer text wraps (a paragraph column)


def heading(qid: str, title: str) -> str:
    """A question's heading in the problem set's numbering: "Question 1A ...", "Bonus: ..."."""
    return f"Question {title}" if title[:1].isdigit() else title


def _label(key: str) -> str:
    words = str(key).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _step_view(i: int, step: dict[str, Any]) -> dict[str, Any]:
    check = step.get("check")
    lhs, rhs = str(step.get("lhs", "")), str(step.get("rhs", ""))
    return {
        "number": i,
        "lhs": lhs,
        "rhs": rhs,
        "sign": r"\coloneqq" if step.get("kind") == "definition" else "=",
        "split": len(lhs) + len(rhs) > SPLIT_CHARS,
        "why": step.get("why", ""),
        "method": step.get("method", ""),
        "kind": step.get("kind", "identity"),
        "passed": bool(check and check.get("passed")),
        "checked": check is not None,
        "error": values.error(check["error"]) if check else "",
        "detail": check.get("detail", "") if check else "not verified",
    }


def _verification(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """What was checked for one derivation, how, and the largest residual."""
    held = [s for s in steps if s["passed"]]
    how = Counter(s["detail"] for s in steps if s["checked"])
    residuals = [values.as_float(s["error"]) for s in steps if s["checked"]]
    worst = max(residuals, default=0.0)
    return {
        "passed": bool(steps) and len(held) == len(steps),
        "held": len(held),
        "total": len(steps),
        "methods": [{"count": n, "detail": d} for d, n in how.items()],
        "worst": values.error(worst),
        "failed_steps": [s["number"] for s in steps if not s["passed"]],
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
        "result": {"name": result.get("name", ""), "latex": result.get("latex", ""), "sympy": result.get("sympy", "")},
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


def _checks_view(section: dict[str, Any], derivs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per derivation (its steps summarised; each step is shown in the derivation) and
    one row per other check."""
    step_names = {STEP_CHECK.format(name=d["name"], i=s["number"]) for d in derivs for s in d["steps"]}
    rows = []
    for d in derivs:
        v = d["verification"]
        rows.append({
            "name": f"{d['name']}: {v['total']} derivation steps",
            "passed": v["passed"],
            "error": v["worst"],
            "tolerance": "0",
            "detail": f"{v['held']} of {v['total']} steps hold exactly",
        })
    rows += [_check_row(c) for c in section.get("checks", []) if c.get("name") not in step_names]
    return rows


def _figures_view(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": str(k), "pdf": f.get("pdf", ""), "svg": f.get("svg", ""), "caption": f.get("caption", ""),
         "pdf_ok": False, "svg_markup": None}  # the renderer fills these in once it has found the files
        for k, f in figures.items()
    ]


def _header(value: Any) -> dict[str, Any]:
    """A column heading; long plain-text headings are broken into short lines (no wide columns)."""
    c = values.cell(value)
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
        rows = [[values.cell(v) for v in row] for row in t.get("rows", [])]
        width = max([len(columns)] + [len(r) for r in rows])
        columns += [_header("")] * (width - len(columns))
        rows = [r + [values.cell("")] * (width - len(r)) for r in rows]
        out.append({
            "name": str(name), "caption": t.get("caption", ""), "columns": columns, "rows": rows,
            "spec": _column_spec(columns, rows), "long": len(rows) > LONG_TABLE,
        })
    return out


def _block(node: dict[str, Any]) -> dict[str, Any]:
    """A top-level key/value block: one key a line, however short."""
    node["inline"] = False
    return node


def question_view(qid: str, title: str, section: dict[str, Any]) -> dict[str, Any]:
    """Everything the templates print for one question."""
    derivs = [_derivation_view(d) for d in section.get("derivations", [])]
    checks = _checks_view(section, derivs)
    all_checks = section.get("checks", [])
    n_failed = sum(1 for c in all_checks if not c.get("passed"))
    return {
        "id": qid,
        "title": title,
        "heading": heading(qid, title),
        "passed": bool(section.get("passed")) and n_failed == 0,
        "text": [{"key": str(k), "label": _label(k), "prose": str(v)} for k, v in section.get("text", {}).items()],
        "answers": _block(values.tree(section.get("answer", {}))),
        "has_answers": bool(section.get("answer")),
        "derivations": derivs,
        "figures": _figures_view(section.get("figures", {})),
        "tables": _tables_view(section.get("tables", {})),
        "metrics": _block(values.tree(section.get("metrics", {}))),
        "has_metrics": bool(section.get("metrics")),
        "checks": checks,
        "n_checks": len(all_checks),
        "n_failed": n_failed,
    }


def _order(results: dict[str, Any]) -> list[tuple[str, str]]:
    build = results.get("build", {})
    listed = [(q["id"], q.get("title", q["id"])) for q in build.get("questions", [])]
    known = {qid for qid, _ in listed}
    extra = [(k, k) for k in results if k != "build" and k not in known]
    return [(qid, title) for qid, title in listed + extra if qid in results]


def _seconds(build: dict[str, Any]) -> list[dict[str, str]]:
    cache = build.get("cache", {})
    return [
        {"stage": k, "seconds": f"{v:.1f}" if isinstance(v, (int, float)) else str(v), "cache": str(cache.get(k, ""))}
        for k, v in build.get("stage_seconds", {}).items()
    ]


def report_view(results: dict[str, Any]) -> dict[str, Any]:
    """The whole report: title page facts, the questions in the problem set's order, the build."""
    if not isinstance(results, dict):
        raise TypeError(f"results must be a dict (results.json), got {type(results).__name__}")
    build = results.get("build", {})
    questions = [question_view(qid, title, results[qid]) for qid, title in _order(results)]
    missing = [q.get("title", q["id"]) for q in build.get("questions", []) if q["id"] not in results]
    n_checks = sum(q["n_checks"] for q in questions)
    n_failed = sum(q["n_failed"] for q in questions)
    problem_set = build.get("problem_set", {})
    return {
        "title": problem_set.get("title", "Problem Set"),
        "subtitle": problem_set.get("subtitle", ""),
        "date": build.get("date", ""),
        "draft": bool(build.get("quick")),
        "questions": questions,
        "missing": missing,
        "n_checks": n_checks,
        "n_failed": n_failed,
        "n_passed": n_checks - n_failed,
        "failed_questions": [q["heading"] for q in questions if not q["passed"]],
        "passed": n_failed == 0 and all(q["passed"] for q in questions) and bool(questions),
        "device": " ".join(str(build.get("device", {}).get(k, "")) for k in ("used", "name")).strip(),
        "seed": build.get("seeds", {}).get("seed", ""),
        "config": _block(values.tree(build.get("config", {}))),
        "environment": _block(values.tree({k: build[k] for k in ("device", "seeds", "versions") if k in build})),
        "seconds": _seconds(build),
        "total_seconds": f"{math.fsum(v for v in build.get('stage_seconds', {}).values() if isinstance(v, (int, float))):.1f}",
    }
