"""Prose as the report receives it: plain text with inline ``$...$`` and display ``$$...$$`` math.

`segments` splits a string into ``("text", s)``, ``("inline", tex)``, ``("display", tex)`` and
``("par", "")`` (a blank line: new paragraph). ``\\$`` is a literal dollar sign; a ``$`` with no
closing partner (or whose math would span a blank line) is literal text too, so strings such as
corpus words or shell snippets containing a stray ``$`` still render. Both output formats use it.
"""

from __future__ import annotations

import re

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
        elif s.startswith("$$", i):
            j = _find_close(s, i + 2, "$$")
            body = s[i + 2 : j] if j >= 0 else ""
            if j < 0 or not body.strip() or _PAR.search(body):
                buf.append("$$")
                i += 2
                continue
            flush()
            out.append(("display", body.strip()))
            i = j + 2
        elif s[i] == "$":
            j = _find_close(s, i + 1, "$")
            body = s[i + 1 : j] if j >= 0 else ""
            if j < 0 or not body.strip() or _PAR.search(body):
                buf.append("$")
                i += 1
                continue
            flush()
            out.append(("inline", body.strip()))
            i = j + 1
        else:
            buf.append(s[i])
            i += 1
    flush()
    return out


def has_math(s: str) -> bool:
    """Whether ``s`` holds at least one math segment."""
    return any(kind in ("inline", "display") for kind, _ in segments(s))
