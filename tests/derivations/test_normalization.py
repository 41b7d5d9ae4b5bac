"""The shared normalisation algebra: general steps hold, concrete checks catch wrong closed forms."""

from __future__ import annotations

import pytest
import sympy as sp

from derivations import normalization as nz
from derivations.core import Step
from derivations.symbols import N, eps, i, k


def test_general_steps_hold_for_symbolic_n():
    for n, step in enumerate(nz.general_steps(N, i, k), start=1):
        c = step.verify(f"general {n}")
        assert c.passed and c.error == 0, (n, step.why)


def test_in_range_refuses_conditions_it_does_not_know():
    with pytest.raises(ValueError, match="unexpected Piecewise"):
        nz.in_range(sp.Piecewise((1, sp.Symbol("z") > 0), (0, True)), N)
    with pytest.raises(ValueError, match="unexpected Piecewise"):
        nz.in_range(sp.Piecewise((1, N >= 2), (0, True)), N)  # not an index range
    assert nz.in_range(sp.Piecewise((7, N >= k), (0, True)), N) == 7
    assert nz.in_range(sp.Piecewise((7, k <= N), (0, True)), N) == 7


def test_shown_matrix_prints_its_label_but_verifies_every_entry():
    x = sp.Symbol("x", real=True)
    m = nz.shown(sp.Matrix([[x, 1], [2, x**2]]), r"\text{label}")
    assert sp.latex(m) == r"\text{label}" and sp.sstr(m) == r"\text{label}"
    assert (
        not Step(m, sp.Matrix([[x, 1], [2, x**3]]), "wrong entry", method="substitution").verify("s").passed
    )


@pytest.mark.parametrize("axis", [0, 1])
def test_concrete_closed_forms_hold_and_a_perturbed_one_fails(axis):
    d = nz.concrete_derivation(
        axis, 3, 2, "c", "c", gradients=True, closed_tex=(r"J_{ij,kl}", r"\frac{\partial L}{\partial X_{kl}}")
    )
    assert all(c.passed for c in d.verify(strict=True))
    X, _, _, _ = nz.concrete_symbols(3, 2)
    xhat, scales = nz.normalise(X, axis)
    exact = sp.Matrix(list(xhat)).jacobian(list(X))
    # Shift every in-group entry by 1/7: a wrong closed form must fail the substitution check.
    wrong = nz.closed_form_jacobian(xhat, scales, axis).applyfunc(
        lambda e: e + sp.Rational(1, 7) if e != 0 else e
    )
    check = Step(exact, wrong, "perturbed", method="substitution").verify("bad")
    assert not check.passed and check.error > 0


def test_concrete_jacobian_is_block_diagonal():
    X, _, _, _ = nz.concrete_symbols(3, 2)
    xhat, scales = nz.normalise(X, 0)
    J = nz.closed_form_jacobian(xhat, scales, 0)
    # Entry (i, j) and (k, l) with j != l: different features never interact in BatchNorm.
    assert all(J[a * 2 + 0, b * 2 + 1] == 0 for a in range(3) for b in range(3))
    assert eps in J.free_symbols
