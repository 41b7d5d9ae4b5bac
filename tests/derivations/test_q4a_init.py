"""Q4A.1 derivation: the mixture PDF of a random initial parameter, and the variance argument."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from derivations.core import Step
from derivations.q4a_init import (
    derive,
    kaiming_uniform_bound,
    layers,
    mixture_cdf,
    mixture_pdf,
    mixture_sum,
    mixture_variance,
    n_in,
    x,
)

TOL_DENSITY = 1e-12  # float64 evaluation of exact rationals and sqrt(2)


@pytest.fixture(scope="module")
def section():
    return derive(None)


def test_every_step_verifies(section):
    for d in section.derivations:
        checks = d.verify(strict=True)
        assert checks and all(c.passed for c in checks), d.name


def test_bound_is_one_over_sqrt_fan_in_and_a_wrong_slope_fails():
    assert sp.simplify(kaiming_uniform_bound(sp.sqrt(5), n_in) - 1 / sp.sqrt(n_in)) == 0
    # kaiming_uniform_ with a = 0 (He) would be sqrt(6/n): the step must fail
    assert not Step(kaiming_uniform_bound(sp.Integer(0), n_in), 1 / sp.sqrt(n_in), "wrong").verify("w").passed


def test_layers_match_the_mlp():
    ls = layers()
    assert [(layer["fan_in"], layer["fan_out"]) for layer in ls] == [(784, 128), (128, 64), (64, 10)]
    assert [layer["count"] for layer in ls] == [100480, 8256, 650]
    assert [layer["bound"] for layer in ls] == [sp.Rational(1, 28), 1 / sp.sqrt(128), sp.Rational(1, 8)]


def test_answer_parses_back_and_integrates_to_one(section):
    pdf = sp.sympify(section.answers["pdf"], locals={"x": x})
    assert sp.simplify(sp.integrate(pdf, (x, -1, 1)) - 1) == 0
    f_ans = sp.lambdify(x, pdf, "numpy")
    f_mix = sp.lambdify(x, mixture_sum(), "numpy")
    grid = np.linspace(-0.2, 0.2, 4001)
    assert np.max(np.abs(f_ans(grid) - f_mix(grid))) <= TOL_DENSITY


def test_a_wrong_staircase_fails():
    pdf = mixture_pdf()
    bad = sp.Piecewise((pdf.args[0][0], sp.Abs(x) <= sp.Rational(1, 27)), *pdf.args[1:])  # edge moved
    assert not Step(mixture_sum(), bad, "moved edge").verify("b").passed


def test_cdf_is_the_integral_of_the_pdf():
    F = sp.lambdify(x, mixture_cdf(), "numpy")
    f = sp.lambdify(x, mixture_pdf(), "numpy")
    grid = np.linspace(-0.15, 0.15, 30001)
    numeric = np.concatenate([[0.0], np.cumsum((f(grid[1:]) + f(grid[:-1])) / 2 * np.diff(grid))])
    # trapezoid rule across three jumps of height <= 13.3 on a 1e-5 grid: error <= 3 * 13.3 * 1e-5
    assert np.max(np.abs(F(grid) - numeric)) <= 5e-4
    assert F(-1.0) == 0 and F(1.0) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("sizes", [(5, 3, 2), (4, 4, 4), (9, 1)])
def test_other_architectures(sizes):
    section = derive(None, sizes)
    for d in section.derivations:
        assert all(c.passed for c in d.verify()), (sizes, d.name)
    total = sum(m["count"] for m in layers(sizes))
    expected = sum(sp.Rational(layer["count"], total) * layer["bound"] ** 2 / 3 for layer in layers(sizes))
    assert sp.simplify(mixture_variance(sizes) - expected) == 0


@pytest.mark.parametrize("bad", [(784,), (784, 0), (784.0, 10), (True, 3)])
def test_bad_sizes_rejected(bad):
    with pytest.raises(ValueError, match="sizes"):
        layers(bad)


def test_text_keys_and_metrics(section):
    assert list(section.text) == ["items", "pdf", "why_scale"]
    assert "Question 4B.1" in section.text["items"] and r"2 \lambda_{\ell_2}" in section.text["items"]
    assert sum(layer["share"] for layer in section.metrics["init_layers"]) == pytest.approx(1.0, abs=1e-12)


def test_relu_layer_gain():
    from derivations.q4a_init import relu_layer_gain

    assert relu_layer_gain(1 / (3 * n_in)) == sp.Rational(1, 6)  # PyTorch default: shrinks by 6 per layer
    assert relu_layer_gain(2 / n_in) == 1  # Kaiming: preserved
