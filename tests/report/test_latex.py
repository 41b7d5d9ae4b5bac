"""LaTeX: escaping is table-driven and total; the fixture compiles to a PDF whose text holds the
hostile strings as written and the failures as FAILED; a compile error reports the log's error
lines, not the whole log; no TeX engine is a one-line note."""

from __future__ import annotations

import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from report import compile as texcompile
from report import latex
from report.render import render

needs_tex = pytest.mark.skipif(not texcompile.tex_available(), reason="no latexmk/pdflatex (make sysdeps installs it)")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="no pdftotext (poppler-utils)")


@pytest.mark.parametrize(
    ("raw", "tex"),
    [
        ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}"),
        ("~", r"\textasciitilde{}"), ("^", r"\textasciicircum{}"), ("\\", r"\textbackslash{}"),
        ("<", r"\textless{}"), (">", r"\textgreater{}"), ("antony's", "antony'{}s"), ("a--b", "a-{}-{}b"),
        ("ℓ2", r"\ensuremath{\ell}2"), ("é", "é"), ("α", r"\ensuremath{\alpha}"), ("\u2603", r"\texttt{[U+2603]}"),
    ],
)
def test_escape(raw, tex):
    assert latex.escape(raw) == tex


def test_prose_keeps_math_and_escapes_the_rest():
    assert latex.prose("50% of $x_1$") == r"50\% of $x_1$"
    assert r"\fitmath{y}" in latex.prose("so $$y$$")


def test_unicode_symbols_in_math_become_commands():
    assert latex.prose("$α ≤ ℓ_2$") == r"${\alpha} {\le} {\ell}_2$"


def test_untrusted_paths_are_refused():
    assert latex.path("figures/q1b_loss.pdf") == "figures/q1b_loss.pdf"
    for bad in ("../x.pdf", "/etc/x.pdf", "a b.pdf", "x}.pdf"):
        with pytest.raises(ValueError, match="path"):
            latex.path(bad)


def _pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@needs_tex
@needs_pdftotext
def test_fixture_compiles_and_shows_what_it_holds(fixture_out, hostile):
    done = render(fixture_out / "results.json")
    assert done.pdf is not None and done.pdf.is_file() and done.pdf_ran
    text = _pdftotext(done.pdf)
    flat = " ".join(text.split())
    assert hostile in flat  # & % _ # $ { } ~ ^ \ printed as written
    assert "antony’s" in flat and "<script>alert(1)</script>" in flat
    assert "DRAFT (--quick)" in flat
    assert "Question 1A Dropout equivalence to l2 regularization" in flat
    assert "FAILED" in flat and "3 of 4 steps hold" in flat and "2 of 6 checks failed" in flat
    assert "figure file missing" in flat
    again = render(fixture_out / "results.json")  # nothing changed: no second compile
    assert again.pdf == done.pdf and not again.pdf_ran


@needs_tex
def test_random_text_never_breaks_the_compile(tmp_path):
    rng = random.Random(0)
    alphabet = string.printable + "éüßøℓαβ→≤✓–—’“”…\u2603"
    lines = [latex.escape("".join(rng.choice(alphabet) for _ in range(60))) for _ in range(200)]
    lines.append(latex.tt(string.printable))
    lines.append(latex.prose("unicode in math: $α ≤ ℓ_2 → ∞$ and $$β · x ≈ y$$"))
    body = "\n\n".join(lines)
    tex = tmp_path / "report.tex"
    tex.write_text(latex.environment().from_string(
        r"\documentclass{article}\usepackage[T1]{fontenc}\usepackage[utf8]{inputenc}\usepackage{amssymb,graphicx}"
        r"\newsavebox{\fitbox}\newcommand{\fitmath}[1]{\sbox{\fitbox}{$\displaystyle #1$}\usebox{\fitbox}}"
        r"\begin{document}\VAR{body}\end{document}").render(body=latex.TeX(body)))
    pdf, ran = texcompile.compile_pdf(tex)
    assert ran and pdf.stat().st_size > 1000


@needs_tex
def test_a_compile_error_reports_the_relevant_log_lines(tmp_path):
    tex = tmp_path / "report.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nfine\n\n\\undefinedmacro{}\n\\end{document}\n")
    with pytest.raises(texcompile.LatexError) as info:
        texcompile.compile_pdf(tex)
    message = str(info.value)
    assert "Undefined control sequence" in message and "report.tex:5" in message
    assert len(message.splitlines()) < 45  # an excerpt, not the log (hundreds of lines)
    assert not (tmp_path / "report.pdf").exists()  # no half-written report


@needs_tex
def test_a_failed_compile_keeps_the_previous_pdf(tmp_path):
    tex = tmp_path / "report.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nfirst\n\\end{document}\n")
    pdf, _ = texcompile.compile_pdf(tex)
    before = pdf.read_bytes()
    tex.write_text("\\documentclass{article}\n\\begin{document}\n\\broken\n\\end{document}\n")
    with pytest.raises(texcompile.LatexError):
        texcompile.compile_pdf(tex)
    assert pdf.read_bytes() == before


def test_no_tex_engine_is_a_note_with_the_fix(fixture_out, monkeypatch):
    monkeypatch.setattr(texcompile.shutil, "which", lambda name: None)
    (fixture_out / "report.pdf").write_bytes(b"%PDF- an earlier build's")
    done = render(fixture_out / "results.json")
    assert done.pdf is None and done.tex.is_file() and done.html.is_file()
    (note,) = [n for n in done.notes if n.startswith("no TeX engine")]
    assert "make sysdeps" in note and "make report" not in note and "\n" not in note
    assert not (fixture_out / "report.pdf").exists() and any(n.startswith("removed ") for n in done.notes)


def test_log_excerpt_falls_back_to_the_tail():
    log = "\n".join(f"line {i}" for i in range(100))
    assert texcompile.log_excerpt(log).splitlines()[-1] == "line 99"
