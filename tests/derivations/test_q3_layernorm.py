"""Q3A derivation: every step holds for symbolic N and D; gamma must stay inside the feature sums."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from derivations import q3_layernorm as q3
from derivations.core import Context, Result, Step
from derivations.normalization import closed_form_grads, concrete_derivation, concrete_symbols, normalise
from derivations.symbols import D, j, k, l


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    return q3.derive(Context(out_dir=tmp_path_factory.mktemp("q3"), data_dir=None, quick=True))


def test_every_derivation_verifies_strictly(section):
    names = [d.name for d in section.derivations]
    assert names[:2] == ["q3a_one_example", "q3a_all_examples"]
    assert [f"q3a_concrete_N2_D{d}" for d in (2, 3, 4)] == names[2:]
    for d in section.derivations:
        assert all(c.passed and c.error == 0 for c in d.verify(strict=True))


def test_answers_and_prose(section):
    assert {"dbeta", "dgamma", "dx", "dx_matrix", "jacobian"} <= set(section.answers)
    assert "Xhat[k, l]" in section.answers["dx_sympy"] and "\\hat" not in section.answers["dx_sympy"]
    assert list(section.text) == ["answer", "reuse", "gamma", "vectorised", "how_verified"]


def test_batchnorm_style_gamma_outside_the_sum_fails():
    """Factoring gamma_l out of the feature sums (as BatchNorm may) is wrong for LayerNorm."""
    wrong = (
        q3.gamma[l]
        / (D * q3.s[k])
        * (
            D * q3.G[k, l]
            - sp.Sum(q3.G[k, j], (j, 1, D))
            - q3.Xh[k, l] * sp.Sum(q3.G[k, j] * q3.Xh[k, j], (j, 1, D))
        )
    )
    chain = q3.all_examples().steps[-1]
    assert not Step(chain.lhs, wrong, "gamma outside").verify("bad").passed
    # ... and at a concrete size, by substitution.
    X, G, gamma, _ = concrete_symbols(2, 3)
    xhat, scales = normalise(X, 1)
    right = closed_form_grads(G, gamma, xhat, scales, 1)
    bn_style = sp.Matrix(2, 3, lambda a, b: gamma[b] * closed_form_grads(G, [1, 1, 1], xhat, scales, 1)[a, b])
    assert not Step(right, bn_style, "gamma outside", method="substitution").verify("bad2").passed


def test_exported_aggregate_matches_concrete_result():
    rng = np.random.default_rng(1)
    n, d, e = 2, 3, 1e-5
    x, g, gam = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=d)
    conc = concrete_derivation(
        1, n, d, "c", "c", closed_tex=(r"J_{ij,kl}", r"\frac{\partial L}{\partial X_{kl}}")
    ).result
    dx_conc = np.array(conc.callable()(*x.ravel(), *g.ravel(), *gam, e), dtype=float).reshape(n, d)
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    s = np.sqrt(var + e)
    xh, h = (x - mu) / s, g * gam
    dx_gen = Result("dX", q3.DX_AGGREGATE, q3.DX_ARGS).callable()(
        s, h, xh, h.sum(1, keepdims=True), (h * xh).sum(1, keepdims=True), d
    )
    np.testing.assert_allclose(dx_gen, dx_conc, rtol=1e-12, atol=1e-12)  # float64, a few dozen operations


@pytest.mark.slow
def test_full_sizes_d_2_to_8(tmp_path):
    sec = q3.derive(Context(out_dir=tmp_path, data_dir=None, quick=False))
    assert sec.metrics["concrete_sizes"] == [[2, d] for d in range(2, 9)]
    assert all(c.passed for d in sec.derivations for c in d.verify(strict=True))
