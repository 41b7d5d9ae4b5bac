"""How values print in the report: numbers, measured errors, and nested answer values.

`tree` turns a JSON value (answers, metrics) into nodes the templates render recursively
(`scalar` makes the leaves, and table cells):
``{"kind": "scalar", "text": str, "style": "number"|"mono"|"prose"|"literal"}``,
``{"kind": "list", "entries": [node], "inline": bool, "more": int}`` and
``{"kind": "dict", "entries": [(key, node)], "inline": bool}``. Strings print verbatim in monospace (SymPy strings as
given) unless they hold ``$...$`` math, which renders as prose.
"""

from __future__ import annotations

import math
from typing import Any

from report.prose import has_math

INLINE_WIDTH = 70  # a dict of scalars that fits in about this many characters prints on one line
MAX_ITEMS = 200  # longer lists print their first MAX_ITEMS and say how many more results.json holds


def number(x: Any, digits: int = 6) -> str:
    """A number for reading: ints exactly, floats to ``digits`` significant digits."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return f"{x:.{digits}g}"
    if isinstance(x, str) and x.lower() in ("inf", "-inf", "nan", "infinity", "-infinity"):
        return x.lower().replace("infinity", "inf")
    return str(x)


def error(x: Any) -> str:
    """A measured error or tolerance: 0 as "0", otherwise 3 significant digits in e-notation."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return "0" if x == 0 else f"{x:.2e}"
    return number(x)


def as_float(x: Any) -> float:
    """A check's error as a float (results.json stores infinities as strings)."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(str(x))
    except ValueError:
        return math.inf


def scalar(value: Any, in_table: bool = False) -> dict[str, Any]:
    """A scalar node. Strings print in monospace (SymPy strings as given) unless they hold math,
    which renders as prose; in a table cell (``in_table``) every string is prose (a column of
    words) and null is blank."""
    if value is None:
        return {"kind": "scalar", "text": "", "style": "number"} if in_table else {
            "kind": "scalar", "text": "null", "style": "literal"}
    if isinstance(value, (bool, int, float)):
        return {"kind": "scalar", "text": number(value), "style": "number"}
    text = str(value)
    prose = isinstance(value, str) and (in_table or has_math(text))
    return {"kind": "scalar", "text": text, "style": "prose" if prose else "mono"}


def tree(value: Any, max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """The node for ``value`` (see the module docstring)."""
    if isinstance(value, dict):
        entries = [(str(k), tree(v, max_items)) for k, v in value.items()]
        width = sum(len(k) + len(n.get("text", "")) + 4 for k, n in entries)
        inline = bool(entries) and width <= INLINE_WIDTH and all(
            n["kind"] == "scalar" and n["style"] != "prose" for _, n in entries)
        return {"kind": "dict", "entries": entries, "inline": inline}
    if isinstance(value, (list, tuple)):
        shown = list(value)[:max_items]
        items = [tree(v, max_items) for v in shown]  # lists of plain scalars print inline, wrapping
        inline = all(n["kind"] == "scalar" and n["style"] != "prose" for n in items)
        return {"kind": "list", "entries": items, "inline": inline, "more": len(value) - len(shown)}
    return scalar(value)
