"""Q4A.1 numeric: the real model's parameters pass the KS test; wrong inits fail it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from derivations.core import Context
from derivations.q4a_init import mixture_cdf, x
from numeric.mnist_model import LAYER_SIZES, make_mlp
from numeric.q4a_init import ALPHA, FIXED_BOUND, check, ks_check, preactivation_variance


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    out = tmp_path_factory.mktemp("q4a")
    return check(Context(out_dir=out, data_dir=out)), out


@pytest.fixture(scope="module")
def cdf():
    return sp.lambdify(x, mixture_cdf(LAYER_SIZES), "numpy")


def test_all_checks_pass(section):
    sec, _ = section
    assert not [c.name for c in sec.checks if not c.passed]
    assert sec.metrics["init_ks_pvalue"] >= ALPHA
    assert sec.metrics["init_parameter_count"] == 109386
    assert sec.metrics["init_control_ks_statistic"] > sec.metrics["init_ks_critical"]
    assert len(sec.tables["init_preactivation_variance"]["rows"]) == 5


def _values(model: torch.nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().double().numpy().ravel() for p in model.parameters()])


def test_a_wrongly_scaled_init_fails_the_ks_check(cdf):
    model = make_mlp(seed=0)
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_uniform_(m.weight, a=0)  # He-uniform: sqrt(6) times too wide
    assert not ks_check("he", _values(model), cdf).passed
    assert ks_check("default", _values(make_mlp(seed=0)), cdf).passed


def test_ks_check_rejects_too_few_samples(cdf):
    with pytest.raises(ValueError, match="values"):
        ks_check("one", np.array([0.0]), cdf)


def test_variance_grows_with_width_only_for_a_fixed_scale():
    fixed = [preactivation_variance(n, FIXED_BOUND, 0) for n in (64, 1024)]
    default = [preactivation_variance(n, None, 0) for n in (64, 1024)]
    assert fixed[1] / fixed[0] == pytest.approx(16, rel=0.1)  # n a^2 / 3 with n x16; 0.1 as VAR_REL_TOL
    assert default[1] / default[0] == pytest.approx((1 / 3 + 1 / 3072) / (1 / 3 + 1 / 192), rel=0.1)


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_bad_width_rejected(bad):
    with pytest.raises(ValueError, match="width"):
        preactivation_variance(bad, None, 0)
