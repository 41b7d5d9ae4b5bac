"""The fused (torch.compile) BatchNorm/LayerNorm kernels against torch, like the eager ones.

Same tolerances as tests/numeric/test_batchnorm.py and test_layernorm.py: max-norm relative
error TOL_FLOAT64 = 1e-10 (float64), TOL_FLOAT32 = 1e-5 (float32). Shapes with N >= 256 rows take
the two-stage column sum (`_norm_fused.ROW_BLOCKS` blocks of rows), N = 300 with leftover rows.
Also: which path ``fused=None`` picks, and that a fused backward refuses an input changed in
place. Skipped, with the reason, where torch.compile cannot build kernels (no C++ compiler).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from numeric import _norm_fused
from numeric._norm_checks import max_rel_error, module_errors, params, run_norm, torch_reference
from numeric.batchnorm import BatchNorm1d, batchnorm_backward, batchnorm_forward
from numeric.checks import TOL_FLOAT32, TOL_FLOAT64
from numeric.layernorm import LayerNorm, layernorm_backward, layernorm_forward

pytestmark = pytest.mark.skipif(not _norm_fused.available(), reason="torch.compile unavailable here")

NORMS = {0: (batchnorm_forward, batchnorm_backward), 1: (layernorm_forward, layernorm_backward)}


@pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])
@pytest.mark.parametrize(
    ("dtype", "tol", "shape", "shift"),
    [(torch.float64, TOL_FLOAT64, (16, 24), 0.0), (torch.float64, TOL_FLOAT64, (9, 5), 3.0),
     (torch.float32, TOL_FLOAT32, (64, 128), 1.0), (torch.float64, TOL_FLOAT64, (256, 5), 1e3),
     (torch.float64, TOL_FLOAT64, (300, 3), -2.0), (torch.float32, TOL_FLOAT32, (300, 3), 0.0)],
)  # fmt: skip
def test_fused_matches_torch(axis, dtype, tol, shape, shift):
    forward, backward = NORMS[axis]
    x = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(3)) * 2 + shift
    gamma, beta, dy = params(shape[1], shape[0], 5, dtype)
    ref = torch_reference(axis, x, gamma, beta, dy)
    caches = []

    def fused_forward(*args):
        out, cache = forward(*args, fused=True)
        caches.append(cache)
        return out, cache

    mine = run_norm(fused_forward, backward, x, gamma, beta, dy)
    assert [c.fused for c in caches] == [True] and caches[0].xhat is None
    assert mine.keys() == ref.keys()
    for key, value in mine.items():
        assert max_rel_error(value, ref[key]) <= tol, key


def test_fused_checks_inputs_like_the_eager_path():
    x = torch.randn(6, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="gamma"):
        layernorm_forward(
            x, torch.ones(3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), fused=True
        )
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="x contains non-finite"):
        batchnorm_forward(
            bad, torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), fused=True
        )


def test_two_stage_column_sum_matches_a_plain_sum():
    for n in (3, 255, 256, 300, 1024):
        t = torch.randn(n, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        assert max_rel_error(_norm_fused._column_sum(t), t.sum(0, keepdim=True)) <= TOL_FLOAT64, n


def test_more_shapes_than_dynamos_default_limit_still_compile():
    from torch._dynamo.utils import counters

    ones, zeros = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for n in range(20, 29):  # 9 new shapes: past dynamo's default of 8 recompiles per function
        before = counters["stats"]["unique_graphs"]
        _norm_fused.forward(torch.randn(n, 2, dtype=torch.float64), ones, zeros, 1e-5, 0)
        assert counters["stats"]["unique_graphs"] == before + 1, f"shape ({n}, 2) ran uncompiled"


def test_default_picks_fused_only_for_large_cpu_inputs(monkeypatch):
    small = torch.randn(8, 4)
    assert not _norm_fused.use_fused(None, small)
    assert _norm_fused.use_fused(True, small) and not _norm_fused.use_fused(False, small)
    with pytest.raises(TypeError, match="fused must be True, False or None"):
        _norm_fused.use_fused("yes", small)
    assert batchnorm_forward(small, torch.ones(4), torch.zeros(4))[1].fused is False
    monkeypatch.setattr(_norm_fused, "AUTO_MIN_NUMEL", small.numel())
    assert _norm_fused.use_fused(None, small)
    assert layernorm_forward(small, torch.ones(4), torch.zeros(4))[1].fused is True


def test_fused_true_without_a_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_norm_fused, "available", lambda: False)
    with pytest.raises(RuntimeError, match="fused=True needs torch.compile"):
        batchnorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3), fused=True)
    probe = OSError("InvalidCxxCompiler: No working C++ compiler found")
    monkeypatch.setattr(_norm_fused, "build_error", lambda: probe)
    with pytest.raises(RuntimeError, match="OSError: InvalidCxxCompiler") as info:
        layernorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3), fused=True)
    assert info.value.__cause__ is probe  # the probe's own exception, chained
    monkeypatch.setattr(_norm_fused, "AUTO_MIN_NUMEL", 1)
    assert layernorm_forward(torch.randn(4, 3), torch.ones(3), torch.zeros(3))[1].fused is False


@pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])
def test_fused_backward_refuses_an_input_changed_in_place(axis):
    forward, backward = NORMS[axis]
    x = torch.randn(6, 4, dtype=torch.float64)
    gamma, beta, dy = params(4, 6, 1, torch.float64)
    _, cache = forward(x, gamma, beta, fused=True)
    x.mul_(2)
    with pytest.raises(RuntimeError, match="x was modified in place"):
        backward(dy, cache)


@pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])
def test_fused_keeps_its_own_copy_of_numpy_input(axis):
    forward, backward = NORMS[axis]
    x = np.random.default_rng(2).standard_normal((6, 4))
    gamma, beta, dy = (t.numpy() for t in params(4, 6, 2, torch.float64))
    ref = torch_reference(axis, torch.from_numpy(x.copy()), *(torch.from_numpy(a) for a in (gamma, beta, dy)))
    _, cache = forward(x, gamma, beta, fused=True)
    x *= 3  # NumPy does not bump the tensor's version counter: the cache must not share x
    dx, _, _ = backward(dy, cache)
    assert isinstance(dx, np.ndarray) and max_rel_error(dx, ref["dx"]) <= TOL_FLOAT64


@pytest.mark.parametrize("axis", [0, 1], ids=["batchnorm", "layernorm"])
def test_modules_on_the_fused_default_path_match_torch(axis, monkeypatch):
    monkeypatch.setattr(_norm_fused, "AUTO_MIN_NUMEL", 1)  # every input counts as large
    g = torch.Generator().manual_seed(4)
    x = 3 * torch.randn(12, 5, generator=g, dtype=torch.float64) + 2
    dy = torch.randn(12, 5, generator=g, dtype=torch.float64)
    mine = (BatchNorm1d if axis == 0 else LayerNorm)(5, dtype=torch.float64)
    ref = (torch.nn.BatchNorm1d if axis == 0 else torch.nn.LayerNorm)(5, dtype=torch.float64)
    fused = []
    monkeypatch.setattr(_norm_fused, "checked_backward", _recording(_norm_fused.checked_backward, fused))
    errs = module_errors(mine, ref, [(True, x, dy)])
    assert fused, "the module's backward did not take the fused path"
    expected = {"out", "dx", "dgamma", "dbeta"} | ({"running_mean", "running_var"} if axis == 0 else set())
    assert set(errs) == expected
    assert all(e <= TOL_FLOAT64 for e in errs.values()), errs


def _recording(fn, calls):
    def wrapper(*args, **kwargs):
        calls.append(fn.__name__)
        return fn(*args, **kwargs)

    return wrapper
