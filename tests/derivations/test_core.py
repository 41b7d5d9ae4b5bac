"""The derivation core: steps verify, wrong steps fail and name themselves."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.core import Derivation, DerivationError, Result, Section, Step
from derivations.symbols import N, eps, p

x, y = sp.symbols("x y", real=True)


def _derivation(*steps: Step) -> Derivation:
    return Derivation("demo", "Demo", list(steps), Result("r", x + y, (x, y)))


def test_symbolic_step_holds():
    (c,) = _derivation(Step((x + y) ** 2, x**2 + 2 * x * y + y**2, "expand")).verify(strict=True)
    assert c.passed and c.error == 0


def test_wrong_symbolic_step_fails_and_names_itself():
    d = _derivation(Step(x, x, "ok"), Step((x + y) ** 2, x**2 + y**2, r"freshman's dream"))
    checks = d.verify()
    assert [c.passed for c in checks] == [True, False]
    assert checks[1].error > 0
    with pytest.raises(DerivationError, match="demo step 2"):
        d.verify(strict=True)


def test_substitution_step_exact_with_radicals():
    s = Step(1 / sp.sqrt(x**2 + eps), sp.sqrt(x**2 + eps) / (x**2 + eps), "rationalise", "substitution")
    assert s.verify("s").passed
    bad = Step(1 / sp.sqrt(x**2 + eps), 1 / sp.sqrt(x**2 + 2 * eps), "wrong", "substitution")
    c = bad.verify("bad")
    assert not c.passed and c.error > 0


def test_substitution_step_with_a_tiny_exact_residual_fails():
    # "vanish exactly": a residual far below float precision is still a nonzero residual
    tiny = sp.Rational(1, 10**32)
    c = Step(x + tiny, x, "off by 1e-32", "substitution").verify("tiny")
    assert not c.passed and c.error == pytest.approx(1e-32, rel=1e-12)
    c2 = Step(sp.sqrt(x**2 + eps) + tiny * sp.sqrt(2), sp.sqrt(x**2 + eps), "radical", "substitution").verify(
        "r"
    )
    assert not c2.passed and c2.error > 0


def test_substitution_respects_unit_interval_and_integers():
    # log(1 - p) is real only for p < 1; N**2 >= N only for positive integers.
    s = Step(sp.Abs(N**2 - N), N**2 - N, "N >= 1 integer", "substitution")
    assert s.verify("n").passed
    s2 = Step(sp.Abs(1 - p), 1 - p, "0 < p < 1", "substitution")
    assert s2.verify("p").passed


def test_matrix_shape_mismatch_fails():
    c = Step(sp.eye(2), sp.eye(3), "shapes").verify("m")
    assert not c.passed and "shape" in c.detail


def test_result_callable_and_section_json():
    d = _derivation(Step(x, x, "trivial"))
    assert d.result.callable()(2.0, 3.0) == 5.0
    js = Section(answers={"a": 1}, derivations=[d]).to_json()
    assert js["answer"] == {"a": 1} and js["passed"] is True and js["checks"][0]["passed"] is True
    assert js["derivations"][0]["steps"][0]["check"]["passed"] is True


def test_section_merge_rejects_clashing_answers():
    with pytest.raises(ValueError, match="answers"):
        Section(answers={"a": 1}).merge(Section(answers={"a": 2}))


def test_substitution_step_with_undefined_function_fails_not_crashes():
    g = sp.Function("g")
    c = Step(g(x), 2 * g(x), "wrong", "substitution").verify("u")
    assert not c.passed and c.error == float("inf")


def test_lambda_symbols_print_in_the_problem_sets_notation():
    from derivations.core import latex
    from derivations.symbols import lambda_l2, lambda_wd

    assert latex(lambda_l2 + lambda_wd) == r"\lambda_{\ell_2} + \lambda_{wd}"
    assert str(lambda_l2) == "lambda_l2"  # answers stay sympify-able


def test_a_step_whose_verification_raises_fails_by_name():
    class Boom(sp.Expr):
        def _eval_simplify(self, **kwargs):
            raise StopIteration("inside simplify")

    c = Step(Boom(), 0, "explodes").verify("boom")
    assert not c.passed and "StopIteration" in c.detail
