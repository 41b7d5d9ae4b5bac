"""Q3C numerics: null space, alternatives that reproduce Y, and the counts; bad input raises."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.q3c_puzzle import (
    EPS,
    SIDE,
    alice,
    alternative,
    batchnorm,
    bob_eps0,
    check,
    exact_nullity,
    known_entries,
    layernorm,
    null_space,
    validate,
    z_from_y,
)

X, GAMMA, BETA = alice(np.random.default_rng(3))


def test_null_space_is_two_dimensional():
    basis, s = null_space(batchnorm(X, GAMMA, BETA, EPS))
    assert basis.shape == (2 * SIDE, 2)
    assert s[-3] / s[0] > 1e-3  # a clear gap to the first nonzero singular value
    assert exact_nullity(X) == 2


def test_nonsymmetric_x_has_only_the_shift():
    A = np.random.default_rng(4).normal(size=(SIDE, SIDE))
    assert exact_nullity(A) == 1  # no scale freedom: the transpose relation alone is violated


def test_alternatives_reproduce_y_and_change_off_diagonal_z():
    Y, Z = batchnorm(X, GAMMA, BETA, EPS), layernorm(X, GAMMA, BETA, EPS)
    Xp, gp, bp = alternative(X, GAMMA, BETA, 0.01, 0.5, EPS)
    assert np.max(np.abs(batchnorm(Xp, gp, bp, EPS) - Y)) < 1e-12
    dz = np.abs(layernorm(Xp, gp, bp, EPS) - Z)
    off = ~np.eye(SIDE, dtype=bool)
    assert np.max(np.diag(dz)) < 1e-12 and np.min(dz[off]) > 1e-6


@pytest.mark.parametrize(
    ("gamma", "beta", "eps", "knows", "count"),
    [(None, None, EPS, True, 256), ("g", "b", EPS, True, 256), ("g", "b", EPS, False, 16), ("g", "b", 0.0, False, 256)],
)
def test_counts(gamma, beta, eps, knows, count):
    g = np.ones(SIDE) if gamma is None else GAMMA
    b = np.zeros(SIDE) if beta is None else BETA
    assert int(known_entries(X, g, b, eps, knows)["mask"].sum()) == count


def test_bob_reconstructions():
    Y = batchnorm(X, GAMMA, BETA, EPS)
    assert np.allclose(z_from_y(Y, GAMMA, BETA), layernorm(X, GAMMA, BETA, EPS), atol=1e-12)
    Y0 = batchnorm(X, GAMMA, BETA, 0.0)
    assert np.allclose(bob_eps0(Y0), layernorm(X, GAMMA, BETA, 0.0), atol=1e-10)
    err = np.max(np.abs(bob_eps0(Y) - layernorm(X, GAMMA, BETA, EPS)))
    assert 1e-9 < err < 1e-3  # the eps = 0 recipe is only approximately right when eps > 0


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="X must be symmetric"):
        validate(np.arange(16.0).reshape(4, 4))
    with pytest.raises(ValueError, match="X must be a square"):
        validate(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="X has non-finite"):
        validate(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="gamma must have shape"):
        validate(X, gamma=np.ones(3))
    with pytest.raises(ValueError, match="gamma must have no zero"):
        validate(X, gamma=np.zeros(SIDE))
    with pytest.raises(ValueError, match="beta has non-finite"):
        validate(X, beta=np.full(SIDE, np.inf))
    with pytest.raises(ValueError, match="eps must"):
        validate(X, eps=-1.0)
    with pytest.raises(ValueError, match="lam must be finite and nonzero"):
        alternative(X, GAMMA, BETA, 0.0, 1.0, EPS)
    with pytest.raises(ValueError, match="X must be a square"):
        null_space(np.zeros((4, 3)))


def test_check_section(ctx):
    sec = check(ctx)
    assert sec.checks and all(c.passed for c in sec.checks), [c.name for c in sec.checks if not c.passed]
    assert sec.answers["known_unit_affine"] == 256 and sec.answers["known_arbitrary"] == 16
    assert sec.answers["which_known_arbitrary"] == "diagonal"
    assert list(sec.text)[0] == "answer" and "exactly 16 entries" in sec.text["answer"]
    assert f"All {len(sec.checks)} numeric checks pass." in sec.text["numbers"]
