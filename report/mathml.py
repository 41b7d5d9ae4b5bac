"""LaTeX math -> MathML for the HTML page (latex2mathml), so math renders offline, no scripts.

Browsers lay MathML out natively (Chromium >= 109, Firefox, Safari). A snippet the converter
cannot read is shown as its LaTeX source, marked, and remembered in `failures` so the build can
say which ones.
"""

from __future__ import annotations

import functools
import html

from latex2mathml.converter import convert
from markupsafe import Markup

failures: list[str] = []  # LaTeX snippets that could not be converted during this process


@functools.lru_cache(maxsize=4096)
def _convert(tex: str, display: bool) -> str:
    return convert(tex, display="block" if display else "inline")


def to_mathml(tex: str, display: bool = False) -> Markup:
    """``tex`` as a ``<math>`` element (block when ``display``); its source kept as ``alttext``."""
    if not isinstance(tex, str):
        raise TypeError(f"tex must be a str, got {type(tex).__name__}")
    tex = tex.strip()
    if not tex:
        return Markup("")
    try:
        mathml = _convert(tex, display)
    except Exception:  # latex2mathml raises many kinds; any of them means "cannot render"
        failures.append(tex)
        cls = "tex-error block" if display else "tex-error"
        return Markup(f'<code class="{cls}" title="math that could not be converted">{html.escape(tex)}</code>')
    alt = html.escape(tex, quote=True)
    return Markup(mathml.replace("<math ", f'<math alttext="{alt}" ', 1))
