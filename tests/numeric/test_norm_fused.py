"""The fused (torch.compile) BatchNorm/LayerNorm kernels against torch, like the eager ones.

Same tolerances as tests/numeric/test_batchnorm.py and test_layernorm.py: max-norm relative
error TOL_FLOAT64 = 1e-10 (float64), TOL_FLOAT32 = 1e-5 (float32). Skipped, with the reason,
where torch.compile cannot build kernels (no C++ compiler).
"""

from __future__ import annotations

import pytest
import torch

from numeric import _norm_fused
from numeric._norm_checks import max_rel_error, params, torch_reference
from numeric.batchnorm import batchnorm_backward, batchnorm_forward
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64
from numeric.layernorm import layernorm_backward, layernorm_forward

pytestmark = pytest.mark.skipif(not _norm_fused.available(), reason="torch.compile unavailable here")

NORMS = {0: (batchnorm_forward, batchnorm_backward), 1: (layernorm_forward, layernorm_backward)}


@pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])
@pytest.mark.parametrize(
    ("dtype", "tol", "shape", "shift"),
    [(torch.float64, TOL_FLOAT64, (16, 24), 0.0), (torch.float64, TOL_FLOAT64, (9, 5), 3.0),
     (torch.float32, TOL_FLOAT32, (64, 128), 1.0)],
)  # fmt: skip
def test_fused_matches_torch(axis, dtype, tol, shape, shift):
    forward, backward = NORMS[axis]
    x = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(3)) * 2 + shift
    gamma, beta, dy = params(shape[1], shape[0], 5, dtype)
    ref = torch_reference(axis, x, gamma, beta, dy)
    out, cache = forward(x, gamma, beta, fused=True)
    assert cache.fused
    mine = dict(zip(("dx", "dgamma", "dbeta"), backward(dy, cache), strict=True), out=out)
    for key, value in mine.items():
        assert max_rel_error(value, ref[key]) <= tol, key


def test_fused_checks_inputs_like_the_eager_path():
    x = torch.randn(6, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="gamma"):
        layernorm_forward(x, torch.ones(3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), fused=True)
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="x contains non-finite"):
        batchnorm_forward(bad, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), fused=True)
