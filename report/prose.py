"""Prose as the report receives it: plain text with inline ``$...$`` and display ``$$...$$`` math.

`segments` splits a string into ``("text", s)``, ``("inline", tex)``, ``("display", tex)`` and
``("par", "")`` (a blank line: new paragraph). ``\\$`` is a literal dollar sign; a ``$`` with no
closing partner (or whose math would span a blank line) is literal text too, so strings such as
corpus words or shell snippets containing a stray ``$`` still render. `render` turns the segments
into one output format's markup, given a callback per kind; both formats use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_PAR = re.compile(r"\n[ \t]*\n\s*")


def _find_close(s: str, start: int, delim: str) -> int:
    """Index of the next unescaped ``delim`` at or after ``start``, or -1."""
    i = start
    while i < len(s):
        if s.startswith("\\$", i):
            i += 2
            continue
        if s.startswith(delim, i) and (delim == "$$" or not s.startswith("$$", i)):
            return i
        if delim == "$" and s.startswith("$$", i):
            return -1  # "$a $$b$$": the inline math would swallow a display block
        i += 1
    return -1


def segments(s: str) -> list[tuple[str, str]]:
    """Split prose into text, math and paragraph-break segments (see the module docstring)."""
    if not isinstance(s, str):
        raise TypeError(f"prose must be a str, got {type(s).__name__}")
    out: list[tuple[str, str]] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            text = "".join(buf)
            parts = _PAR.split(text)
            for k, part in enumerate(parts):
                if k:
                    out.append(("par", ""))
                if part:
                    out.append(("text", part))
            buf.clear()

    i = 0
    while i < len(s):
        if s.startswith("\\$", i):
            buf.append("$")
            i += 2
        elif s[i] == "$":
            delim, kind = ("$$", "display") if s.startswith("$$", i) else ("$", "inline")
            j = _find_close(s, i + len(delim), delim)
            body = s[i + len(delim) : j] if j >= 0 else ""
            if j < 0 or not body.strip() or _PAR.search(body):
                buf.append(delim)
                i += len(delim)
                continue
            flush()
            out.append((kind, body.strip()))
            i = j + len(delim)
        else:
            buf.append(s[i])
            i += 1
    flush()
    return out


def has_math(s: str) -> bool:
    """Whether ``s`` holds at least one math segment."""
    return any(kind in ("inline", "display") for kind, _ in segments(s))


def render(value: Any, text: Callable[[str], str], inline: Callable[[str], str],
           display: Callable[[str], str], par: str) -> str:
    """``value`` as prose in an output format: each segment through its callback (``text`` for
    text, ``inline``/``display`` for math), ``par`` between paragraphs, joined."""
    make = {"text": text, "inline": inline, "display": display, "par": lambda _: par}
    return "".join(make[kind](body) for kind, body in segments(str(value)))
