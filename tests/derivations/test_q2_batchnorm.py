"""Q2A derivation: every step holds for symbolic N and D, the exports agree, wrong answers fail."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from derivations import q2_batchnorm as q2
from derivations.core import Result, Step
from derivations.normalization import concrete_derivation
from derivations.symbols import N, eps, i, k, l


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    from derivations.core import Context

    return q2.derive(Context(out_dir=tmp_path_factory.mktemp("q2"), data_dir=None, quick=True))


def test_every_derivation_verifies_strictly(section):
    names = [d.name for d in section.derivations]
    assert names[:2] == ["q2a_one_feature", "q2a_all_features"]
    assert [f"q2a_concrete_N{n}_D2" for n in (2, 3, 4)] == names[2:]
    for d in section.derivations:
        assert all(c.passed and c.error == 0 for c in d.verify(strict=True))


def test_answers_and_prose(section):
    assert {"dbeta", "dgamma", "dx", "dx_matrix", "jacobian"} <= set(section.answers)
    assert "Xhat[k, l]" in section.answers["dx_sympy"] and "\\hat" not in section.answers["dx_sympy"]
    assert list(section.text) == ["answer", "one_feature", "jacobian", "chain_rule", "vectorised", "how_verified"]
    assert "from 2 to 4" in section.text["how_verified"]  # the quick sizes, computed


def test_wrong_dx_fails():
    # Forgetting the variance path (the xhat * sum(G xhat) term) is the classic mistake.
    wrong = q2.gamma[l] / (N * q2.s[l]) * (N * q2.G[k, l] - sp.Sum(q2.G[i, l], (i, 1, N)))
    chain = q2.all_features().steps[-1]
    assert not Step(chain.lhs, wrong, "no variance term").verify("bad").passed


def test_exported_aggregate_matches_concrete_result():
    """The broadcasting callable of the general result equals the N = 3 concrete closed form."""
    rng = np.random.default_rng(0)
    n, d, e = 3, 2, 1e-5
    x, g, gam = rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=d)
    conc = concrete_derivation(0, n, d, "c", "c", closed_tex=(r"J_{ij,kl}", r"\frac{\partial L}{\partial X_{kl}}")).result
    dx_conc = np.array(conc.callable()(*x.ravel(), *g.ravel(), *gam, e), dtype=float).reshape(n, d)
    mu, var = x.mean(0), x.var(0)
    s = np.sqrt(var + e)
    xh = (x - mu) / s
    dx_gen = Result("dX", q2.DX_AGGREGATE, q2.DX_ARGS).callable()(gam, s, g, xh, g.sum(0), (g * xh).sum(0), n)
    np.testing.assert_allclose(dx_gen, dx_conc, rtol=1e-12, atol=1e-12)  # float64, a few dozen operations
    assert eps in conc.args


@pytest.mark.slow
def test_full_sizes_n_2_to_8(tmp_path):
    from derivations.core import Context

    sec = q2.derive(Context(out_dir=tmp_path, data_dir=None, quick=False))
    assert sec.metrics["concrete_sizes"] == [[n, 2] for n in range(2, 9)]
    assert all(c.passed for d in sec.derivations for c in d.verify(strict=True))
