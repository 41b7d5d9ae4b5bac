"""LaTeX math -> MathML for the HTML page (latex2mathml), so math renders offline, no scripts.

Browsers lay MathML out natively (Chromium >= 109, Firefox, Safari) but never break a formula
across lines, so a long display formula is cut at its top-level ``+``, ``-`` and ``=`` into pieces
that wrap like words (`to_mathml_wrapping`). A snippet the converter cannot read is shown as its
LaTeX source, marked, and appended to the caller's ``failures`` list so the build can say which.
"""

from __future__ import annotations

import functools
import html
import re

from latex2mathml.converter import convert
from markupsafe import Markup

LONG_MATH = 220  # display LaTeX longer than this (characters) wraps at its top-level operators
_TOKEN = re.compile(r"\\(?:begin|end|left|right)\b|\\[A-Za-z]+|\\.|[{}+=-]|[^\\{}+=-]+")


_UNKNOWN = re.compile(r"<mi>\\[A-Za-z]+</mi>")  # latex2mathml's output for a command it does not know


class UnknownCommand(ValueError):
    """The LaTeX uses a command latex2mathml passes through as text."""


@functools.lru_cache(maxsize=4096)
def _convert(tex: str, display: bool) -> str:
    mathml = convert(tex, display="block" if display else "inline")
    unknown = _UNKNOWN.search(mathml)
    if unknown:
        raise UnknownCommand(f"latex2mathml does not know {unknown.group(0)[4:-5]}")
    return mathml


def to_mathml(tex: str, display: bool = False, failures: list[str] | None = None) -> Markup:
    """``tex`` as a ``<math>`` element (block when ``display``); its source kept as ``alttext``.
    LaTeX that cannot be converted is shown as marked source and appended to ``failures``."""
    if not isinstance(tex, str):
        raise TypeError(f"tex must be a str, got {type(tex).__name__}")
    tex = tex.strip()
    if not tex:
        return Markup("")
    try:
        mathml = _convert(tex, display)
    except Exception:  # latex2mathml raises many kinds; any of them means "cannot render"
        if failures is not None:
            failures.append(tex)
        cls = "tex-error block" if display else "tex-error"
        return Markup(f'<code class="{cls}" title="math that could not be converted">{html.escape(tex)}</code>')
    alt = html.escape(tex, quote=True)
    return Markup(mathml.replace("<math ", f'<math alttext="{alt}" ', 1))


def split_top_level(tex: str) -> list[str]:
    """``tex`` cut before each ``+``, ``-``, ``=`` outside braces, ``\\left..\\right`` and
    environments; the pieces concatenate back to ``tex``."""
    pieces, current, depth = [], [], 0
    for tok in _TOKEN.findall(tex):
        if tok in ("{", "\\left", "\\begin"):
            depth += 1
        elif tok in ("}", "\\right", "\\end"):
            depth -= 1
        if depth == 0 and tok in "+=-" and "".join(current).strip():
            pieces.append("".join(current))
            current = []
        current.append(tok)
    pieces.append("".join(current))
    return [p for p in pieces if p.strip()]


def to_mathml_wrapping(tex: str, failures: list[str] | None = None) -> Markup:
    """Display math; when long, as pieces that wrap across lines (each in display style)."""
    pieces = split_top_level(tex) if len(tex) > LONG_MATH else [tex]
    if len(pieces) < 2:
        return to_mathml(tex, display=True, failures=failures)
    try:
        # "{}" before a leading operator keeps its binary spacing ("a" "{}+ b" reads as a + b)
        parts = [_convert("\\displaystyle " + ("{}" if k else "") + p.strip(), False) for k, p in enumerate(pieces)]
    except Exception:  # a piece that does not parse alone: fall back to one block
        return to_mathml(tex, display=True, failures=failures)
    alt = html.escape(tex, quote=True)
    return Markup(f'<div class="math-long" role="math" aria-label="{alt}">' + " ".join(parts) + "</div>")
