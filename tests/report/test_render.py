"""The view of results.json and both renderings (no TeX or browser needed): order, counts,
failures shown as failed (and what else fails a question), hostile strings escaped, math
converted, figures inlined, sentences built from the counts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from report import html, latex, mathml, values
from report.prose import render as render_prose
from report.prose import segments
from report.render import figure_files, render
from report.view import heading, report_view


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a $x$ b", [("text", "a "), ("inline", "x"), ("text", " b")]),
        ("$$y$$", [("display", "y")]),
        ("costs \\$5", [("text", "costs $5")]),
        ("a stray $ sign", [("text", "a stray $ sign")]),
        ("p1\n\np2", [("text", "p1"), ("par", ""), ("text", "p2")]),
        ("$a\n\nb$", [("text", "$a"), ("par", ""), ("text", "b$")]),  # math never spans paragraphs
        ("x $a $$b$$", [("text", "x $a "), ("display", "b")]),
        ("$$ $$", [("text", "$$ $$")]),
    ],
)
def test_prose_segments(text, expected):
    assert segments(text) == expected


def test_prose_renders_each_segment_kind_through_its_callback():
    out = render_prose("a $x$\n\n$$y$$", text=str.upper, inline=lambda t: f"<{t}>", display=lambda t: f"[{t}]", par="|")
    assert out == "A <x>|[y]"


def test_prose_rejects_non_strings():
    with pytest.raises(TypeError, match="prose"):
        segments(3)


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (0.1 + 0.2, "0.3"), (1e-12, "1e-12"), (True, "true"), (float("inf"), "inf"), ("inf", "inf")],
)
def test_numbers_print_for_reading(value, text):
    assert values.number(value) == text


def test_errors_print_zero_exactly_and_others_in_e_notation():
    assert (values.error(0.0), values.error(3.2e-7), values.error("inf")) == ("0", "3.20e-07", "inf")


def test_value_tree_keeps_order_and_kinds():
    node = values.tree({"b": "p*(1 - p)", "a": [1, 2], "c": {"d": "$x$"}, "e": None})
    assert [k for k, _ in node["entries"]] == ["b", "a", "c", "e"]
    kinds = {k: n for k, n in node["entries"]}
    assert kinds["b"]["style"] == "mono" and kinds["a"]["inline"]
    assert kinds["c"]["entries"][0][1]["style"] == "prose" and kinds["e"]["text"] == "null"


def test_small_nested_dicts_print_on_one_line_but_the_top_level_does_not(results):
    node = values.tree({"le_1": {"found": True, "strength": 11.25}, "words": {"k": "x" * 80}})
    assert node["entries"][0][1]["inline"] and not node["entries"][1][1]["inline"]
    assert not report_view(results)["questions"][0]["answers"]["inline"]


def test_long_lists_say_how_many_are_left_out():
    node = values.tree(list(range(values.MAX_ITEMS + 5)))
    assert len(node["entries"]) == values.MAX_ITEMS and node["more"] == 5


def test_view_orders_questions_as_the_problem_set_and_names_the_missing(results):
    view = report_view(results)
    assert [q["id"] for q in view["questions"]] == ["q1a", "q2a"]
    assert view["questions"][0]["heading"] == "Question 1A Dropout equivalence to l2 regularization"
    assert view["missing"] == ["1B Dropout code: loss vs dropout rate"]
    assert heading("Bonus: semantically meaningful directions") == "Bonus: semantically meaningful directions"


def test_view_counts_every_check_and_flags_the_failures(results):
    view = report_view(results)
    q1a, q2a = view["questions"]
    assert (view["n_checks"], view["n_failed"], view["passed"]) == (8, 2, False)
    assert (q1a["n_failed"], q1a["passed"], q2a["passed"]) == (2, False, True)
    v = q1a["derivations"][0]["verification"]
    assert (v["held"], v["total"], v["verdict"], v["passed"], v["worst"], v["tolerance"]) == (
        3, 4, "3 of 4 steps hold; step 3 does not", False, "2.50e-01", "0")
    assert {m["detail"]: m["count"] for m in v["methods"]} == {
        "exact: simplify(lhs - rhs) == 0": 3, "exact rational substitution at 8 random points": 1}
    names = [c["name"] for c in q1a["checks"]]  # step checks are summarised by their derivation, not repeated
    assert names[0].startswith("dropout_expectation: 4 derivation steps") and len(names) == 3
    assert [c["passed"] for c in q1a["checks"]] == [False, True, False]
    assert q1a["checks"][0]["detail"] == (
        "3 of 4 steps hold (3 × exact: simplify(lhs - rhs) == 0; 1 × exact rational substitution at 8 random points)")
    assert (q1a["n_passed"], q2a["n_passed"], view["questions_failed"]) == (4, 2, "1 of 2 questions FAILED")


def test_the_title_page_and_build_sentences_are_counted_not_claimed(results):
    view = report_view(results)
    assert view["claims"] == (
        "4 of 5 derivation steps hold in SymPy (4 × exact: simplify(lhs - rhs) == 0; 1 × exact rational "
        "substitution at 8 random points); 6 of 8 checks passed, derivation steps included")
    assert view["provenance"].startswith("1 of 2 stages ran in this build (2026-12-04); 1 was taken from the stage "
                                         "cache (q2a, which ran 2026-12-03 18:02)")
    assert view["stages"] == [{"stage": "q1a", "time": "1.2 s", "when": "this build"},
                              {"stage": "q2a", "time": "cached (ran in 0.5 s)", "when": "2026-12-03 18:02"}]
    assert view["stages_wall"] == "1.3 s"
    results["build"]["cache"]["q2a"] = "ran"
    assert report_view(results)["provenance"] == "Every stage ran in this build (2026-12-04)."
    tex, (page, _) = latex.render(view), html.render(view)
    for text in (tex, page):
        assert "every derivation step below was verified" not in text and "tolerance 0: exact" not in text
        assert "computed by the build that wrote" not in text


def _passing(results: dict) -> dict:
    """The fixture's q2a alone: a question that passes (derivation, numeric check, no figures)."""
    out = {"q2a": copy.deepcopy(results["q2a"]), "build": results["build"]}
    assert report_view(out)["passed"]
    return out


def test_a_question_without_checks_fails_the_report(results):
    r = _passing(results)
    r["q2a"].update(derivations=[], checks=[])  # Section.to_json's passed: all([]) is True
    q = report_view(r)["questions"][0]
    assert (q["passed"], q["problems"], report_view(r)["passed"]) == (False, ["no checks ran"], False)


def test_a_derivation_without_steps_fails_the_report(results):
    r = _passing(results)
    r["q2a"]["derivations"][0]["steps"] = []
    r["q2a"]["checks"] = r["q2a"]["checks"][1:]
    view = report_view(r)
    assert not view["passed"] and view["questions"][0]["problems"] == [
        "derivation bn_dbeta: it has no steps, so nothing was verified"]


def test_a_missing_figure_fails_the_report(results, fixture_out):
    r = _passing(results)
    r["q2a"]["figures"] = {"loss": results["q1a"]["figures"]["loss"]}
    assert report_view(r, figure_files(fixture_out))["passed"]  # the file is there
    r["q2a"]["figures"]["loss"] = results["q1a"]["figures"]["gone"]
    q = report_view(r, figure_files(fixture_out))["questions"][0]
    assert not q["passed"] and q["problems"][0].startswith("figure 'loss' is missing a file")


def test_a_numeric_check_named_like_a_step_is_not_dropped(results):
    r = _passing(results)
    r["q2a"]["checks"].append({"name": "bn_dbeta: step 1", "passed": False, "error": 1.0, "tolerance": 0.1,
                               "detail": "a numeric check that happens to share the name"})
    q = report_view(r)["questions"][0]
    assert [c["name"] for c in q["checks"]] == ["bn_dbeta: 1 derivation step", "dbeta_vs_torch", "bn_dbeta: step 1"]
    assert not q["passed"]
    r["q2a"]["checks"] = r["q2a"]["checks"][1:]  # the step check is not where Section.to_json puts it: show all
    assert len(report_view(r)["questions"][0]["checks"]) == 1 + 2


def test_view_keeps_text_in_insertion_order(results):
    prose = [t["prose"] for t in report_view(results)["questions"][0]["text"]]
    assert prose == list(results["q1a"]["text"].values())


def test_latex_source_escapes_every_hostile_string(results, hostile):
    tex = latex.render(report_view(results))
    assert latex.escape(hostile) in tex
    assert "<script>" not in tex and r"\textless{}script\textgreater{}" in tex
    assert "antony'{}s" in tex
    assert r"\FAILED" in tex  # the failed step and checks
    assert r"\fitmath{p^{2} = p}" in tex  # SymPy's LaTeX goes in as math


def test_html_escapes_hostile_strings_and_converts_math(fixture_out):
    done = render(fixture_out / "results.json", pdf=False)
    page = done.html.read_text(encoding="utf-8")
    assert "<script" not in page  # the fixture's <script>alert(1)</script> strings are text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<math") > 20 and 'class="tex-error' not in page
    assert page.count('class="failed"') >= 4
    assert re.search(r'<(?:img|script|link|iframe)\b[^>]*(?:src|href)="(?:https?:)?//', page) is None
    assert "Content-Security-Policy" in page


def test_html_inlines_figures_with_unique_ids(fixture_out):
    page = render(fixture_out / "results.json", pdf=False).html.read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "<?xml" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'url\(#([^)]+)\)', page)) | set(re.findall(r'href="#([^"]+)"', page))
    assert refs <= set(ids)


def test_missing_figure_is_shown_and_noted(fixture_out):
    done = render(fixture_out / "results.json", pdf=False)
    assert any("'gone'" in n for n in done.notes) and not any("'loss'" in n for n in done.notes)
    assert any(p.startswith("figure 'gone' is missing") for p in done.failed["q1a"]) and not done.passed
    assert "figure file missing" in done.tex.read_text() and "figure file missing" in done.html.read_text()


def test_unsafe_figure_paths_are_not_included(fixture_out, results):
    tex = render(fixture_out / "results.json", pdf=False).tex.read_text()
    assert r"\includegraphics[width=0.82\linewidth]{figures/fixture_loss.pdf}" in tex  # the control: a safe path is
    results["q1a"]["figures"]["loss"]["pdf"] = "../../etc/passwd"
    (fixture_out / "results.json").write_text(json.dumps(results))
    done = render(fixture_out / "results.json", pdf=False)
    tex = done.tex.read_text()
    assert "includegraphics" not in tex and r"figure file missing: \texttt{../\allowbreak{}../\allowbreak{}etc/" in tex
    assert any(p.startswith("figure 'loss' is missing") for p in done.failed["q1a"])


def test_no_pdf_removes_an_earlier_report_pdf_and_says_so(fixture_out):
    (fixture_out / "report.pdf").write_bytes(b"%PDF- an earlier build's")
    done = render(fixture_out / "results.json", pdf=False)
    assert not (fixture_out / "report.pdf").exists() and done.pdf is None
    assert any(n.startswith(f"removed {fixture_out / 'report.pdf'}") for n in done.notes)


def test_render_rejects_what_is_not_results(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="results_path"):
        render(tmp_path / "nope.json", pdf=False)
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="results_path"):
        render(tmp_path / "results.json", pdf=False)


def test_math_that_cannot_be_converted_is_shown_as_source_and_noted():
    failures: list[str] = []
    out = html.prose(r"see $\left( x$ here", failures)  # \left without \right: latex2mathml rejects it
    assert 'class="tex-error"' in out and r"\left( x" in out
    assert failures == [r"\left( x"]


def test_math_with_a_command_the_converter_does_not_know_is_shown_as_source():
    failures: list[str] = []
    assert 'class="tex-error"' in html.prose(r"$\notacommand x$", failures)
    assert failures == [r"\notacommand x"]


def test_each_html_render_reports_its_own_math_failures(results):
    results["q2a"]["text"] = {"bad": r"$\notacommand y$"}
    assert html.render(report_view(results))[1] == [r"\notacommand y"]
    assert html.render(report_view(results))[1] == [r"\notacommand y"]  # a second render: not accumulated


def test_long_display_math_wraps_at_top_level_operators_only():
    tex = r"a + b - \frac{c+d}{e} = \left(x + y\right) + \begin{matrix}1 & -2\end{matrix}"
    pieces = mathml.split_top_level(tex)
    assert pieces == ["a ", "+ b ", r"- \frac{c+d}{e} ", r"= \left(x + y\right) ", r"+ \begin{matrix}1 & -2\end{matrix}"]
    assert "".join(pieces) == tex
    long = " + ".join(f"x_{{{i}}}^{{2}}" for i in range(40))
    out = mathml.to_mathml_wrapping(long)
    assert out.startswith('<div class="math-long"') and out.count("<math") == 40
    assert mathml.to_mathml_wrapping("a + b").count("<math") == 1


def test_inline_svg_drops_scripts_and_metadata_and_prefixes_ids(tmp_path):
    from report.html import inline_svg

    svg = tmp_path / "f.svg"
    svg.write_text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF>'
        "<dc:format>image/svg+xml</dc:format></rdf:RDF></metadata><script>alert(1)</script>"
        '<defs><path id="p1"/></defs><use href="#p1"/></svg>'
    )
    out = str(inline_svg(svg, "q1b-f0"))
    assert out.startswith("<svg") and "image/svg+xml" not in out and "alert" not in out
    assert 'id="q1b-f0-p1"' in out and 'href="#q1b-f0-p1"' in out
    assert inline_svg(tmp_path / "missing.svg", "x") is None
