"""From-scratch BatchNorm (Q2B) against torch: random shapes, edge cases, modules, bad input.

Tolerances: max-norm relative error (see numeric._norm_checks) of TOL_FLOAT64 = 1e-10 in float64
and TOL_FLOAT32 = 1e-5 in float32; the large-offset case allows 64 ulp(offset) / sigma.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numeric._norm_checks import (
    max_rel_error,
    module_errors,
    offset_tolerance,
    pair_tolerance,
    params,
    run_norm,
    torch_reference,
)
from numeric.batchnorm import BatchNorm1d, BatchNormFunction, batchnorm_backward, batchnorm_forward
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64


def _compare(x, tol, seed=0):
    n, d = x.shape
    gamma, beta, dy = params(d, n, seed, x.dtype)
    ref = torch_reference(0, x, gamma, beta, dy)
    mine = run_norm(batchnorm_forward, batchnorm_backward, x, gamma, beta, dy)
    assert mine.keys() == ref.keys()
    for key, value in mine.items():
        assert max_rel_error(value, ref[key]) <= tol, key


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 40),
    d=st.integers(1, 12),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    shift=st.floats(-5, 5),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_match_torch_float64(n, d, scale, shift, seed):
    # n >= 3: groups of two cancel to O(eps) and have their own, conditioned tolerance (below).
    x = scale * torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift
    _compare(x, TOL_FLOAT64, seed)


def test_float32_matches_torch():
    _compare(torch.randn(128, 64, generator=torch.Generator().manual_seed(1)) * 2 + 1, TOL_FLOAT32)


def test_edge_cases():
    g = torch.Generator().manual_seed(2)
    const = torch.randn(16, 5, generator=g, dtype=torch.float64)
    const[:, 1] = 2.5  # sigma^2 = 0: xhat = 0, and eps alone sets the scale of dx
    _compare(const, TOL_FLOAT64)
    _compare(1e-6 * torch.randn(16, 5, generator=g, dtype=torch.float64), TOL_FLOAT64)
    _compare(torch.randn(16, 5, generator=g, dtype=torch.float64) + 1e6, offset_tolerance(1e6, 1.0))
    # N = 2: dx ~ eps / (sigma^2 + eps); 64 ulp times the condition number (sigma^2 + eps)/eps.
    two = torch.tensor([[0.3, -1.0], [1.1, 0.5]], dtype=torch.float64)
    tol, _ = pair_tolerance(0, two)
    assert tol < 64 * 2**-53 * 1e6 / 10  # the measured kappa, not a blanket 1e6
    _compare(two, tol)


def test_constant_feature_gives_beta_and_centred_gradient():
    x = torch.full((4, 1), 2.5, dtype=torch.float64)
    gamma, beta = torch.tensor([2.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    out, cache = batchnorm_forward(x, gamma, beta)
    dy = torch.tensor([[1.0], [2.0], [3.0], [6.0]], dtype=torch.float64)
    dx, _, _ = batchnorm_backward(dy, cache)
    assert torch.equal(out, beta.expand(4, 1))
    expected = gamma * (dy - dy.mean()) / np.sqrt(1e-5)  # xhat = 0 leaves gamma (dy - mean dy) / sqrt(eps)
    assert max_rel_error(dx, expected) <= TOL_FLOAT64


def test_cache_says_which_path_made_it():
    x, gamma, beta = torch.randn(6, 3), torch.ones(3), torch.zeros(3)
    assert batchnorm_forward(x, gamma, beta, fused=False)[1].fused is False
    rm, rv = torch.zeros(3), torch.ones(3)
    from numeric.batchnorm import batchnorm_eval_forward

    assert batchnorm_eval_forward(x, gamma, beta, rm, rv)[1].fused is False


def test_numpy_in_numpy_out():
    x, g, b = np.random.default_rng(0).normal(size=(5, 3)), np.ones(3), np.zeros(3)
    out, cache = batchnorm_forward(x, g, b)
    grads = batchnorm_backward(np.ones((5, 3)), cache)
    assert isinstance(out, np.ndarray) and all(isinstance(t, np.ndarray) for t in grads)


def test_gradcheck():
    g = torch.Generator().manual_seed(3)
    args = (
        torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True),
        torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True),
        torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(lambda x, w, b: BatchNormFunction.apply(x, w, b, 1e-5)[0], args)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, TOL_FLOAT64), (torch.float32, TOL_FLOAT32)])
def test_module_train_then_eval(momentum, dtype, tol):
    mine, ref = (
        BatchNorm1d(6, momentum=momentum, dtype=dtype),
        torch.nn.BatchNorm1d(6, momentum=momentum, dtype=dtype),
    )
    g = torch.Generator().manual_seed(4)
    batches = [
        (
            step < 3,
            (torch.randn(10, 6, generator=g) * 2 + 1).to(dtype),
            torch.randn(10, 6, generator=g).to(dtype),
        )
        for step in range(4)
    ]  # three training steps, then eval
    errs = module_errors(mine, ref, batches)
    assert set(errs) == {"out", "dx", "dgamma", "dbeta", "running_mean", "running_var"}
    assert all(e <= tol for e in errs.values()), errs
    assert not mine.training and not ref.training
    assert int(mine.num_batches_tracked) == int(ref.num_batches_tracked) == 3


def test_one_sample_per_channel_raises_like_torch():
    x = torch.randn(1, 3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(3)(x)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(x)
    out = BatchNorm1d(3).eval()(x)  # eval mode uses running statistics: fine with N = 1
    assert out.shape == (1, 3)


@pytest.mark.parametrize(
    ("args", "exc", "name"),
    [
        ((torch.randn(4, 3), torch.ones(2), torch.zeros(3)), ValueError, "gamma"),
        ((torch.randn(4, 3), torch.ones(3), torch.zeros(4)), ValueError, "beta"),
        ((torch.randn(4, 3, 2), torch.ones(3), torch.zeros(3)), ValueError, "x"),
        ((torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), torch.ones(2), torch.zeros(2)), ValueError, "x"),
        ((torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), torch.ones(2), torch.zeros(2)), ValueError, "x"),
        ((torch.randn(4, 2), torch.tensor([1.0, float("nan")]), torch.zeros(2)), ValueError, "gamma"),
        ((torch.ones(4, 2, dtype=torch.long), torch.ones(2), torch.zeros(2)), TypeError, "x"),
        (([[1.0, 2.0]], torch.ones(2), torch.zeros(2)), TypeError, "x"),
        ((torch.randn(4, 2), torch.ones(2, dtype=torch.float64), torch.zeros(2)), TypeError, "gamma"),
    ],
)
def test_bad_input_names_the_argument(args, exc, name):
    with pytest.raises(exc, match=rf"^{name} "):
        batchnorm_forward(*args)


def test_bad_backward_input():
    _, cache = batchnorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match="^dout "):
        batchnorm_backward(torch.randn(4, 2), cache)
    with pytest.raises(ValueError, match="^dout "):
        batchnorm_backward(torch.full((4, 3), float("nan")), cache)
    with pytest.raises(TypeError, match="^cache "):
        batchnorm_backward(torch.randn(4, 3), object())
    with pytest.raises(ValueError, match="^eps "):
        batchnorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3), eps=0.0)
    with pytest.raises(ValueError, match="^x must be a tensor of shape"):
        BatchNorm1d(3)(torch.randn(4, 5))


def test_non_contiguous_inputs():
    x = torch.randn(
        9, 6, generator=torch.Generator().manual_seed(8), dtype=torch.float64
    ).t()  # (6, 9), strided
    assert not x.is_contiguous()
    _compare(x, TOL_FLOAT64)
