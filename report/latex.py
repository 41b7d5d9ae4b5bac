"""The LaTeX output: escaping, prose with math, and the Jinja environment for ``*.tex.j2``.

Templates use LaTeX-safe delimiters: ``\\VAR{x}`` for values, ``\\BLOCK{for ...}`` for statements,
``\\#{...}`` for comments. Every inserted value is escaped unless a filter has marked it as
LaTeX already (`TeX`): ``prose`` (text escaped, math kept), ``mathd``/``mathi`` (SymPy's LaTeX),
``tt`` (monospace with break points). So a corpus word like ``antony's`` or a string with
``& % _ # $ { } ~ ^ \\`` prints as written and never breaks the compile.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from report.prose import render as render_prose

TEMPLATES = Path(__file__).resolve().parent / "templates"


class TeX(Markup):
    """A string that is LaTeX already: templates insert it unescaped.

    It subclasses `markupsafe.Markup` because the environment runs with Jinja's autoescape on, so
    that macro output is marked safe; every other value goes through `_finalize` (LaTeX escaping)
    before autoescape sees it. Build TeX from plain ``str`` operations, never with ``TeX + str``.
    """


_ASCII = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "`": "`{}",  # TS1's grave accent is a bitmap font in this TeX setup
    "'": "'{}",  # an apostrophe, but no '' ligature
    "-": "-{}",  # no -- or --- ligatures: text prints as written
    "\n": " ",
    "\t": " ",
    "\r": " ",
}
_UNICODE = {  # beyond Latin-1, the characters a write-up plausibly holds
    "ℓ": r"\ensuremath{\ell}", "→": r"\ensuremath{\to}", "←": r"\ensuremath{\leftarrow}",
    "≤": r"\ensuremath{\le}", "≥": r"\ensuremath{\ge}", "≈": r"\ensuremath{\approx}",
    "≠": r"\ensuremath{\ne}", "±": r"\ensuremath{\pm}", "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}", "−": r"\ensuremath{-}", "∞": r"\ensuremath{\infty}",
    "√": r"\ensuremath{\surd}", "∑": r"\ensuremath{\sum}", "∂": r"\ensuremath{\partial}",
    "‖": r"\ensuremath{\|}", "✓": r"\ensuremath{\checkmark}", "✗": r"\ensuremath{\times}",
    "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}",
    "\u00a0": "~",
}
_GREEK = {unicodedata.lookup(f"GREEK SMALL LETTER {n.upper().replace('LAMBDA', 'LAMDA')}"): rf"\ensuremath{{\{n}}}" for n in (
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda",
    "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega")}


def _math_unicode(tex: str) -> str:
    """Math source with the Unicode symbols pdflatex cannot read in math (α, ℓ, ≤ ...) as commands."""
    if tex.isascii():
        return tex
    out = []
    for c in tex:
        cmd = _UNICODE.get(c) or _GREEK.get(c)
        if cmd and cmd.startswith(r"\ensuremath{"):
            out.append("{" + cmd[len(r"\ensuremath{") :])  # "{\alpha}": a group, so "αx" stays apart
        else:
            out.append(c)
    return "".join(out)


def _char(c: str) -> str:
    if c in _ASCII:
        return _ASCII[c]
    if c.isascii():
        return c if c.isprintable() else " "
    if c in _UNICODE:
        return _UNICODE[c]
    if c in _GREEK:
        return _GREEK[c]
    if 0xA0 < ord(c) <= 0x17F and unicodedata.category(c).startswith("L"):
        return c  # Latin-1 and Latin Extended-A letters: inputenc (utf8) sets these up
    base = unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
    if base and base.isalnum():
        return base
    return rf"\texttt{{[U+{ord(c):04X}]}}"  # visible, never a compile error


def escape(value: Any) -> TeX:
    """``value`` as LaTeX text that prints exactly as written."""
    return TeX("".join(_char(c) for c in str(value)))


def math(tex: str) -> TeX:
    """LaTeX math source (SymPy's printer output) inserted as is, inside a math context."""
    return TeX(_math_unicode(str(tex)))


def mathi(tex: str) -> TeX:
    """Inline math."""
    return TeX(f"${_math_unicode(str(tex))}$") if str(tex).strip() else TeX("")


def mathd(tex: str) -> TeX:
    """Display math, scaled down to the line width if wider (``\\fitmath`` in the base template)."""
    return TeX(f"\\fitmath{{{_math_unicode(str(tex))}}}") if str(tex).strip() else TeX("")


def prose(value: Any) -> TeX:
    """Prose: text escaped, ``$...$`` and ``$$...$$`` math kept as LaTeX."""
    return TeX(render_prose(
        value, text=escape, inline=lambda tex: f"${_math_unicode(tex)}$",
        display=lambda tex: f"\n\\begin{{center}}{mathd(tex)}\\end{{center}}\n", par="\n\n"))


_BREAK_AFTER = re.compile(r"(\\textbackslash\{\}|\\_|\.(?=[A-Za-z])|[-+*/,=;:)\]]|-\{\})")  # a.b, a_b, a+b ...


def tt(value: Any) -> TeX:
    """Monospace verbatim text (SymPy strings, check names) with line-break opportunities."""
    body = _BREAK_AFTER.sub(lambda m: m.group(1) + r"\allowbreak{}", escape(value))
    return TeX(rf"\texttt{{{body}}}")


_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")


def path(value: Any) -> TeX:
    """A relative file path for ``\\includegraphics``: inserted as is, so only plain characters."""
    text = str(value)
    if not _SAFE_PATH.match(text) or text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"path {text!r} is not a plain relative path")
    return TeX(text)


def _finalize(value: Any) -> TeX:
    if isinstance(value, Markup):  # TeX, or the output of a template macro
        return value
    if value is None:
        return TeX("")
    return escape(value)


def environment() -> jinja2.Environment:
    """The Jinja environment for ``*.tex.j2`` (one place configures it)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=True,  # with finalize: every value is LaTeX-escaped unless it is TeX already
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters.update(path=path, math=math, prose=prose, mathi=mathi, mathd=mathd, tt=tt, e=escape, escape=escape)
    return env


def render(view: dict[str, Any], template: str = "report.tex.j2") -> str:
    """The report's LaTeX source for ``view`` (see `report.view.report_view`)."""
    return environment().get_template(template).render(**view)
