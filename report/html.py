"""The HTML output: autoescaped Jinja environment for ``*.html.j2``, prose with MathML math, and
figures inlined as SVG so the page is one self-contained file that works offline.

Filters: ``prose`` (text escaped, ``$...$``/``$$...$$`` to MathML), ``mathi``/``mathd`` (SymPy's
LaTeX to inline/block MathML), ``tt`` (``<code>``). Everything else is escaped by autoescape.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from report.mathml import to_mathml, to_mathml_wrapping
from report.prose import render as render_prose

TEMPLATES = Path(__file__).resolve().parent / "templates"


def prose(value: Any, failures: list[str] | None = None) -> Markup:
    """Prose: text escaped, paragraphs split on blank lines, math as MathML (math that cannot be
    converted is appended to ``failures``)."""
    return Markup(render_prose(
        value, text=lambda t: str(escape(t)), inline=lambda tex: to_mathml(tex, failures=failures),
        display=lambda tex: to_mathml_wrapping(tex, failures), par="<br><br>"))


def mathi(tex: str, failures: list[str] | None = None) -> Markup:
    return to_mathml(str(tex), failures=failures)


def mathd(tex: str, failures: list[str] | None = None) -> Markup:
    return to_mathml_wrapping(str(tex), failures)


def tt(value: Any) -> Markup:
    return Markup(f"<code>{escape(str(value))}</code>")


_SVG_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.S | re.I)
_METADATA = re.compile(r"<metadata\b.*?</metadata\s*>", re.S | re.I)  # RDF: text, not picture
_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(path: Path, prefix: str) -> Markup | None:
    """The SVG file at ``path`` as markup to inline: XML prolog, scripts and metadata dropped, every id
    prefixed with ``prefix`` (several matplotlib figures on one page must not share ids).
    None when the file is missing or holds no ``<svg>``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if "<svg" not in text:
        return None
    text = _METADATA.sub("", _SCRIPT.sub("", _SVG_PROLOG.sub("", text, count=1)))
    ids = set(_ID.findall(text))
    for old in sorted(ids, key=len, reverse=True):
        new = f"{prefix}-{old}"
        text = text.replace(f'id="{old}"', f'id="{new}"')
        text = text.replace(f"url(#{old})", f"url(#{new})").replace(f'href="#{old}"', f'href="#{new}"')
    return Markup(text)


def environment(failures: list[str] | None = None) -> jinja2.Environment:
    """The Jinja environment for ``*.html.j2`` (one place configures it); its math filters append
    the LaTeX they cannot convert to ``failures``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        prose=functools.partial(prose, failures=failures), mathi=functools.partial(mathi, failures=failures),
        mathd=functools.partial(mathd, failures=failures), tt=tt)
    return env


def render(view: dict[str, Any], template: str = "report.html.j2") -> tuple[str, list[str]]:
    """The report as one HTML page for ``view`` (see `report.view.report_view`), and the LaTeX
    snippets that could not be converted to MathML (shown as source on the page)."""
    failures: list[str] = []
    return environment(failures).get_template(template).render(**view), failures
