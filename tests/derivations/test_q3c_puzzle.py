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
    ratio,
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
