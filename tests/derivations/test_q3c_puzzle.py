"""Q3C derivations: every step holds; the claims fail where they should (non-symmetric X, wrong R)."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.core import Step
from derivations.q3c_puzzle import (
    affine_derivation,
    ambiguity_derivation,
    batchnorm,
    derive,
    eps,
    lam,
    layernorm,
    proof_text,
    prose,
    ratio,
    ratio_sq_minus_one,
    s_i,
    s_j,
)


def test_section_derivations_verify_strictly():
    sec = derive(None)
    assert [d.name for d in sec.derivations] == ["q3c_unit", "q3c_affine", "q3c_ambiguity"]
    for d in sec.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed for c in checks)


def test_transpose_identity_needs_symmetry():
    X = sp.Matrix(3, 3, lambda a, b: sp.Symbol(f"x_{a}{b}", real=True))  # not symmetric
    one, zero = sp.ones(1, 3), sp.zeros(1, 3)
    wrong = Step(layernorm(X, one, zero), batchnorm(X, one, zero).T, "asymmetric", method="substitution", points=1)
    assert not wrong.verify("s").passed  # the symmetric case is a step of q3c_unit, verified above


def test_ratio_is_not_one_off_the_diagonal():
    R = ratio()
    point = {lam: sp.Rational(1, 3), s_i: 1, s_j: 2, eps: sp.Rational(1, 100)}
    assert R.subs(point) != 1  # eps > 0, lam^2 != 1, sigma_i != sigma_j
    assert R.subs({**point, lam: -1}) == 1 and R.subs({**point, eps: 0}) == 1
    wrong = Step(R**2 - 1, eps * (lam**2 - 1) * (s_i**2 - s_j**2) / ((s_j**2 + eps) * (lam**2 * s_i**2 + eps)), "sign")
    assert not wrong.verify("w").passed


def test_results_are_callables():
    R = ambiguity_derivation().result.callable()
    assert R(0.5, 1.0, 1.0, 0.1) == pytest.approx(1.0)
    assert R(0.5, 1.0, 2.0, 0.0) == pytest.approx(1.0)
    assert R(0.01, 1.0, 2.0, 1e-2) != pytest.approx(1.0, rel=1e-3)
    z = affine_derivation().result.callable()  # (Y_ji, gamma_i, gamma_j, beta_i, beta_j)
    assert z(3.0, 2.0, 4.0, 1.0, 0.5) == pytest.approx(4.0 * (3.0 - 1.0) / 2.0 + 0.5)


def test_prose_answers_first_and_reports_failures():
    answers = {"known_unit_affine": 256, "known_known_affine": 256, "known_arbitrary": 16,
               "known_arbitrary_eps0": 256, "which_known_arbitrary": "diagonal"}
    num = {"exact_nullity": 2, "nullity": 2, "shift": 0.7, "worst_y": 1e-14, "lam": 0.01, "lam_max": 0.3,
           "lam_median": 0.02, "min_off_change": 2e-4, "max_diag": 1e-14, "eps_tex": "10^{-5}", "naive_err": 4e-5}
    text = prose(16, answers, num, [], 28)
    assert list(text)[:4] == ["answer", "unit_case", "diagonal", "off_diagonal"]
    assert "exactly 16 entries: the diagonal" in text["answer"] and "All 28 numeric checks pass." in text["numbers"]
    assert "240 entries" in text["off_diagonal"]  # 16^2 - 16, computed from the side
    bad = prose(16, answers, num, ["arbitrary: the known entries are exactly the diagonal"], 28)
    assert "1 of 28 numeric checks FAIL" in bad["numbers"] and "not confirmed" in bad["numbers"]


def test_proof_states_the_derived_ratio():
    text = proof_text(16)["off_diagonal"]
    assert sp.latex(ratio()) in text and sp.latex(ratio_sq_minus_one()) in text
    assert sp.simplify(ratio() ** 2 - 1 - ratio_sq_minus_one()) == 0
