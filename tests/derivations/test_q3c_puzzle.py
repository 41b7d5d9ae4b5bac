"""Q3C derivations: every step holds; the claims fail where they should (non-symmetric X, wrong R)."""

from __future__ import annotations

import random

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
    symmetric_matrix,
    unit_derivation,
    z_entry,
    z_from_y,
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


def test_layernorm_has_its_own_row_statistics():
    # control for q3c_unit: on a random non-symmetric X the identity LN(X) = BN(X)^T is false,
    # on a random symmetric one it holds exactly (layernorm reads rows, batchnorm columns).
    rng = random.Random(3)
    one, zero = sp.ones(1, 3), sp.zeros(1, 3)
    point = {eps: sp.Rational(1, 7)}
    X = sp.Matrix(3, 3, lambda a, b: sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)))
    assert X != X.T
    diff = (layernorm(X, one, zero) - batchnorm(X, one, zero).T).subs(point).applyfunc(sp.simplify)
    assert any(e != 0 for e in diff)
    S = X + X.T
    diff_sym = (layernorm(S, one, zero) - batchnorm(S, one, zero).T).subs(point).applyfunc(sp.simplify)
    assert all(e == 0 for e in diff_sym)


def test_unit_steps_fail_with_column_statistics_for_layernorm():
    # the step compares two constructions: a LayerNorm that (wrongly) used column statistics fails it
    X, one, zero = symmetric_matrix(2), sp.ones(1, 2), sp.zeros(1, 2)
    step = unit_derivation().steps[-1]
    assert step.lhs == layernorm(X, one, zero)
    assert not Step(batchnorm(X, one, zero), step.rhs, "column stats", method="substitution", points=2).verify("w").passed


def test_z_result_is_the_entry_formula_of_z_from_y():
    Y = sp.Matrix(2, 2, sp.symbols("y_11 y_12 y_21 y_22", real=True))
    gam, bet = sp.Matrix([[2, 3]]), sp.Matrix([[5, 7]])
    assert z_from_y(Y, gam, bet)[0, 1] == z_entry(Y[1, 0], 2, 3, 5, 7)
    assert affine_derivation().result.expr == z_entry(sp.Symbol("Y_ji"), *affine_derivation().result.args[1:])


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
