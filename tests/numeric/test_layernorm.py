"""From-scratch LayerNorm (Q3B) against torch: what only LayerNorm has (test_norms.py: the shared cases).

Tolerances: max-norm relative error (see numeric._norm_checks) of TOL_FLOAT64 = 1e-10 in float64
and TOL_FLOAT32 = 1e-5 in float32.
"""

from __future__ import annotations

import pytest
import torch

from numeric._norm_checks import max_rel_error, module_errors
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64
from numeric.layernorm import LayerNorm, layernorm_backward, layernorm_forward


def test_single_feature_is_beta_with_zero_gradient():
    """D = 1: xhat = 0, so out = beta and dX = 0 up to round-off of gamma dY / sqrt(eps) (~1e3 |dY|)."""
    g = torch.Generator().manual_seed(6)
    x, dy = (
        torch.randn(4, 1, generator=g, dtype=torch.float64),
        torch.randn(4, 1, generator=g, dtype=torch.float64),
    )
    gamma, beta = torch.tensor([1.5], dtype=torch.float64), torch.tensor([0.25], dtype=torch.float64)
    out, cache = layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layernorm_backward(dy, cache)
    assert torch.equal(out, beta.expand(4, 1)) and float(dgamma) == 0.0
    assert float(dx.abs().max()) <= 1e3 * 1e-15 * float(dy.abs().max())
    assert max_rel_error(dbeta, dy.sum(0)) <= TOL_FLOAT64


def test_gamma_varies_along_the_normalised_axis():
    """dX depends on gamma through the feature sums: scaling one gamma_j changes every dX entry of the row."""
    g = torch.Generator().manual_seed(5)
    x, dy = (
        torch.randn(3, 4, generator=g, dtype=torch.float64),
        torch.randn(3, 4, generator=g, dtype=torch.float64),
    )
    gamma = torch.ones(4, dtype=torch.float64)
    _, c1 = layernorm_forward(x, gamma, torch.zeros(4, dtype=torch.float64))
    gamma2 = gamma.clone()
    gamma2[0] = 3.0
    _, c2 = layernorm_forward(x, gamma2, torch.zeros(4, dtype=torch.float64))
    dx1, _, _ = layernorm_backward(dy, c1)
    dx2, _, _ = layernorm_backward(dy, c2)
    assert bool((dx1[:, 1:] - dx2[:, 1:]).abs().min() > 1e-6)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, TOL_FLOAT64), (torch.float32, TOL_FLOAT32)])
@pytest.mark.parametrize("shape", [(7, 12), (2, 3, 12)])
def test_module_matches_torch_in_train_and_eval(dtype, tol, shape):
    mine, ref = LayerNorm(12, dtype=dtype), torch.nn.LayerNorm(12, dtype=dtype)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        w = torch.randn(12, generator=g).to(dtype)
        for mod in (mine, ref):
            mod.weight.copy_(w)
    batches = [
        (
            train,
            (torch.randn(*shape, generator=g) * 2 + 1).to(dtype),
            torch.randn(*shape, generator=g).to(dtype),
        )
        for train in (True, False)
    ]
    errs = module_errors(mine, ref, batches)
    assert set(errs) == {"out", "dx", "dgamma", "dbeta"}  # no running statistics in LayerNorm
    assert all(e <= tol for e in errs.values()), errs


@pytest.mark.parametrize(
    ("args", "exc", "name"),
    [
        ((torch.randn(4, 3), torch.ones(4), torch.zeros(3)), ValueError, "gamma"),
        ((torch.randn(4, 3), torch.ones(3), torch.zeros(2)), ValueError, "beta"),
        ((torch.randn(3), torch.ones(3), torch.zeros(3)), ValueError, "x"),
        ((torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), torch.ones(2), torch.zeros(2)), ValueError, "x"),
        ((torch.randn(4, 2), torch.ones(2), torch.tensor([0.0, float("inf")])), ValueError, "beta"),
        ((torch.ones(4, 2, dtype=torch.int32), torch.ones(2), torch.zeros(2)), TypeError, "x"),
    ],
)
def test_bad_input_names_the_argument(args, exc, name):
    with pytest.raises(exc, match=rf"^{name} "):
        layernorm_forward(*args)


def test_bad_backward_and_module_input():
    _, cache = layernorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match="^dout "):
        layernorm_backward(torch.randn(3, 4), cache)
    with pytest.raises(TypeError, match="^cache "):
        layernorm_backward(torch.randn(4, 3), None)
    with pytest.raises(ValueError, match="^x must be a tensor of shape"):
        LayerNorm(3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match="^normalized_shape "):
        LayerNorm(0)


