"""From-scratch BatchNorm (Q2B) against torch: what only BatchNorm has (test_norms.py: the shared cases).

Tolerances: max-norm relative error (see numeric._norm_checks) of TOL_FLOAT64 = 1e-10 in float64
and TOL_FLOAT32 = 1e-5 in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from numeric._norm_checks import max_rel_error, module_errors
from numeric.batchnorm import BatchNorm1d, batchnorm_backward, batchnorm_forward
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64


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


