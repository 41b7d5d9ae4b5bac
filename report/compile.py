"""LaTeX -> PDF with latexmk (or pdflatex run three times), the relevant log lines on failure.

Auxiliary files stay in ``<out>/_latex/``; the PDF is copied atomically to ``<out>/report.pdf``, so
an interrupted or failed compile never leaves a half-written report. A compile whose inputs (the
.tex and every figure it includes) are unchanged since the last success is skipped.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from numeric.files import copy_atomic, write_text_atomic

AUX = "_latex"
TIMEOUT_S = 600  # a full report compiles in seconds; this only stops a hung TeX
INSTALL_HINT = (
    "no TeX engine (latexmk/pdflatex) found: report.tex and report.html were written; for the PDF "
    "run `make sysdeps` (installs TeX Live where apt-get works as root) or install texlive-latex-recommended "
    "texlive-fonts-recommended latexmk, then `python -m report.render {results}`"
)
_GRAPHICS = re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]*)\}")


class TexMissing(RuntimeError):
    """No LaTeX engine is installed."""


class LatexError(RuntimeError):
    """The LaTeX run failed; the message holds the relevant log lines."""


def tex_available() -> bool:
    return bool(shutil.which("latexmk") or shutil.which("pdflatex"))


def log_excerpt(log: str, context: int = 3, limit: int = 40) -> str:
    """The error lines of a TeX log (``! ...``, ``file:line: ...``) with a few lines after each."""
    lines = log.splitlines()
    keep: list[int] = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^:\s]+\.\w+:\d+: ", line) or "Fatal error" in line:
            keep.extend(range(max(0, i - 1), min(len(lines), i + context + 1)))
    seen = sorted(set(keep))
    if not seen:
        seen = list(range(max(0, len(lines) - 15), len(lines)))
    return "\n".join(lines[i] for i in seen[:limit])


def _stamp(tex: Path) -> str:
    h = hashlib.sha256(tex.read_bytes())
    for rel in _GRAPHICS.findall(tex.read_text(encoding="utf-8")):
        f = tex.parent / rel
        h.update(rel.encode())
        h.update(f.read_bytes() if f.is_file() else b"<missing>")
    return h.hexdigest()


def compile_pdf(tex: Path, force: bool = False) -> tuple[Path, bool]:
    """Compile ``tex`` (in its folder) to ``report.pdf`` beside it.

    Returns ``(pdf path, ran)``; ``ran`` is False when the inputs were unchanged. Raises
    `TexMissing` without a TeX engine, `LatexError` (with the log's error lines) on failure.
    """
    tex = Path(tex).resolve()
    if not tex.is_file():
        raise FileNotFoundError(f"tex {tex} does not exist")
    out, aux = tex.parent, tex.parent / AUX
    pdf, built = out / f"{tex.stem}.pdf", aux / f"{tex.stem}.pdf"
    stamp_file = aux / f"{tex.stem}.stamp"
    stamp = _stamp(tex)
    if not force and pdf.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return pdf, False
    if shutil.which("latexmk"):
        cmds = [["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                 f"-outdir={AUX}", tex.name]]
    elif shutil.which("pdflatex"):
        cmds = [["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                 f"-output-directory={AUX}", tex.name]] * 3  # contents, longtable widths, references
    else:
        raise TexMissing(INSTALL_HINT.format(results=out / "results.json"))
    aux.mkdir(exist_ok=True)
    for cmd in cmds:
        try:
            proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise LatexError(f"{cmd[0]} did not finish within {TIMEOUT_S} s") from exc
        if proc.returncode != 0:
            log_file = aux / f"{tex.stem}.log"
            log = log_file.read_text(errors="replace") if log_file.is_file() else proc.stdout + proc.stderr
            raise LatexError(f"{cmd[0]} failed on {tex} (full log: {log_file}):\n{log_excerpt(log)}")
    if not built.is_file():
        raise LatexError(f"{cmds[0][0]} reported success but wrote no {built}")
    copy_atomic(built, pdf)
    write_text_atomic(stamp_file, stamp)
    return pdf, True
