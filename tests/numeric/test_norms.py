"""From-scratch BatchNorm (Q2B, axis 0) and LayerNorm (Q3B, axis 1) against torch: what both share.

Random shapes, float32, the edge cases, NumPy in/out, gradcheck and strided input, each run for
both norms; LayerNorm's shapes are BatchNorm's transposed (`oriented`), so the normalised groups
keep their sizes. What only one norm has (constant features, modules, bad input) stays in
test_batchnorm.py and test_layernorm.py.

Tolerances: max-norm relative error (see numeric._norm_checks) of TOL_FLOAT64 = 1e-10 in float64
and TOL_FLOAT32 = 1e-5 in float32; the large-offset case allows 64 ulp(offset) / sigma, groups of
two the conditioned `pair_tolerance`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numeric._norm_checks import (
    max_rel_error,
    offset_tolerance,
    pair_tolerance,
    params,
    run_norm,
    torch_reference,
)
from numeric._norm_sections import oriented
from numeric.batchnorm import BatchNormFunction, batchnorm_backward, batchnorm_forward
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64
from numeric.layernorm import LayerNormFunction, layernorm_backward, layernorm_forward

NORMS = {0: (batchnorm_forward, batchnorm_backward), 1: (layernorm_forward, layernorm_backward)}
FUNCTIONS = {0: lambda x, w, b: BatchNormFunction.apply(x, w, b, 1e-5)[0],
             1: lambda x, w, b: LayerNormFunction.apply(x, w, b, 1e-5)}  # fmt: skip
AXES = pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])


def _compare(axis, x, tol, seed=0):
    n, d = x.shape
    gamma, beta, dy = params(d, n, seed, x.dtype)
    ref = torch_reference(axis, x, gamma, beta, dy)
    mine = run_norm(*NORMS[axis], x, gamma, beta, dy)
    assert mine.keys() == ref.keys()
    for key, value in mine.items():
        assert max_rel_error(value, ref[key]) <= tol, key


@AXES
@settings(max_examples=25, deadline=None)
@given(
    groups=st.integers(1, 12),
    size=st.integers(3, 40),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    shift=st.floats(-5, 5),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_torch_float64(axis, groups, size, scale, shift, seed):
    # groups of size >= 3: groups of two cancel to O(eps) and have their own, conditioned tolerance (below).
    shape = oriented(axis, size, groups)
    x = scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift
    _compare(axis, x, TOL_FLOAT64, seed)


@AXES
def test_float32_matches_torch(axis):
    x = torch.randn(*oriented(axis, 128, 64), generator=torch.Generator().manual_seed(1)) * 2 + 1
    _compare(axis, x, TOL_FLOAT32)


@AXES
def test_edge_cases(axis):
    g = torch.Generator().manual_seed(2)
    shape = oriented(axis, 16, 5)
    const = torch.randn(*shape, generator=g, dtype=torch.float64)
    const.select(1 - axis, 1).fill_(2.5)  # one group with sigma^2 = 0: xhat = 0, eps alone sets dx's scale
    _compare(axis, const, TOL_FLOAT64)
    _compare(axis, 1e-6 * torch.randn(*shape, generator=g, dtype=torch.float64), TOL_FLOAT64)
    _compare(axis, torch.randn(*shape, generator=g, dtype=torch.float64) + 1e6, offset_tolerance(1e6, 1.0))
    # groups of two: dx ~ eps / (sigma^2 + eps); 64 ulp times the condition number (sigma^2 + eps)/eps.
    two = torch.tensor([[0.3, -1.0], [1.1, 0.5]], dtype=torch.float64)
    tol, _ = pair_tolerance(axis, two)
    assert tol < 64 * 2**-53 * 1e6 / 10  # the measured kappa, not a blanket 1e6
    _compare(axis, two, tol)


@AXES
def test_numpy_in_numpy_out(axis):
    forward, backward = NORMS[axis]
    x, g, b = np.random.default_rng(0).normal(size=(5, 3)), np.ones(3), np.zeros(3)
    out, cache = forward(x, g, b)
    grads = backward(np.ones((5, 3)), cache)
    assert isinstance(out, np.ndarray) and all(isinstance(t, np.ndarray) for t in grads)


@AXES
def test_gradcheck(axis):
    g = torch.Generator().manual_seed(3)
    n, d = oriented(axis, 5, 3)
    args = (
        torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True),
        torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True),
        torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(FUNCTIONS[axis], args)


@AXES
def test_non_contiguous_inputs(axis):
    x = torch.randn(9, 6, generator=torch.Generator().manual_seed(8), dtype=torch.float64).t()  # (6, 9), strided
    assert not x.is_contiguous()
    _compare(axis, x, TOL_FLOAT64)
