"""Numeric checks shared by Q2A/Q2B (BatchNorm, axis 0) and Q3A/Q3B (LayerNorm, axis 1).

The reference is torch autograd through ``torch.nn.functional.batch_norm(training=True)`` or
``layer_norm`` in float64. Tensors are compared by their max-norm relative error
||a - e||_inf / ||e||_inf: entry-wise relative error is ill-conditioned wherever an entry
cancels to almost zero (dX at N = 2 is proportional to eps), and would then measure the
cancellation, not the implementation.

Tolerances: float64 `TOL_FLOAT64` and float32 `TOL_FLOAT32` (numeric.checks). Inputs with a
large offset c carry only ulp(c) absolute precision, so two correct implementations differ by a
few ulp(c) / sigma in xhat: `offset_tolerance` allows 64 of those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from derivations.core import Check
from numeric.checks import REL_FLOOR, TOL_FLOAT32, TOL_FLOAT64, to_numpy

OFFSET = 1e6  # the large-offset edge case
TINY = 1e-6  # the tiny-scale edge case: sigma^2 = 1e-12 << eps = 1e-5, eps dominates
CONSTANT = 2.5  # a constant feature/example: exactly representable, so its mean is exact and sigma^2 = 0


def offset_tolerance(offset: float, sigma: float) -> float:
    return float(64 * np.spacing(offset) / sigma)


def pair_tolerance(axis: int, x: torch.Tensor, eps: float = 1e-5) -> tuple[float, str]:
    """Groups of two: dX = gamma (g_1 - g_2)(1 - xhat^2) / (2 s) with 1 - xhat^2 = eps / (sigma^2 + eps),
    a cancellation with condition number kappa = (sigma^2 + eps) / eps; allow 64 ulp times kappa."""
    kappa = float(((x.var(dim=axis, correction=0) + eps) / eps).max())
    tol = max(TOL_FLOAT64, 64 * 2.0**-53 * kappa)
    return tol, f"groups of two cancel to O(eps): 64 ulp x kappa, kappa = {kappa:.1e}"


@dataclass(frozen=True)
class Case:
    name: str
    x: torch.Tensor  # float64 input (N, D)
    tolerance: float
    why: str  # the tolerance's justification


def max_rel_error(actual: Any, expected: Any) -> float:
    """||a - e||_inf / max(||e||_inf, REL_FLOOR); inf if anything is non-finite or shapes differ."""
    a = to_numpy(actual).astype(np.float64)
    e = to_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shape mismatch: actual {a.shape} vs expected {e.shape}")
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return float("inf")
    return float(np.max(np.abs(a - e)) / max(float(np.max(np.abs(e))), REL_FLOOR))


def errors(actual: dict[str, Any], expected: dict[str, Any]) -> dict[str, float]:
    """`max_rel_error` per key of ``actual`` (every key must be in ``expected``)."""
    return {k: max_rel_error(actual[k], expected[k]) for k in actual}


def errors_check(name: str, errs: dict[str, float], tolerance: float, why: str) -> Check:
    """One check over several measured errors: the worst must be at most ``tolerance``; each is in the detail."""
    worst = max(errs.values())
    detail = ", ".join(f"{k} {v:.2e}" for k, v in errs.items()) + f" (max-norm relative error; {why})"
    return Check(name, bool(worst <= tolerance), worst, tolerance, detail)


def compare_all(
    name: str, actual: dict[str, Any], expected: dict[str, Any], tolerance: float, why: str
) -> Check:
    """One check over several tensors: the worst max-norm relative error, each one in the detail."""
    return errors_check(name, errors(actual, expected), tolerance, why)


def run_norm(forward: Callable, backward: Callable, x: Any, gamma: Any, beta: Any, dy: Any) -> dict[str, Any]:
    """``forward(x, gamma, beta) -> (out, cache)`` then ``backward(dy, cache) -> (dx, dgamma, dbeta)``,
    keyed like `torch_reference`."""
    out, cache = forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dy, cache)
    return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def module_step(module: torch.nn.Module, x: torch.Tensor, dy: torch.Tensor) -> dict[str, torch.Tensor]:
    """One forward and backward of ``module`` (in its current train/eval mode) on a fresh leaf copy of x.

    Returns out, dx, dgamma, dbeta (the weight's and bias's gradients) and, where the module keeps
    them, running_mean and running_var after the step.
    """
    module.zero_grad()
    xi = x.detach().clone().requires_grad_()
    out = module(xi)
    out.backward(dy)
    res = {"out": out.detach(), "dx": xi.grad, "dgamma": module.weight.grad, "dbeta": module.bias.grad}
    for key in ("running_mean", "running_var"):
        if getattr(module, key, None) is not None:
            res[key] = getattr(module, key).detach().clone()
    return res


def module_errors(
    mine: torch.nn.Module, ref: torch.nn.Module, batches: Iterable[tuple[bool, torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """Both modules through the same steps, each ``(train, x, dy)`` in order: the worst max-norm
    relative error of every `module_step` quantity over the steps (ours vs ``ref``)."""
    worst: dict[str, float] = {}
    for train, x, dy in batches:
        mine.train(train)
        ref.train(train)
        a, b = module_step(mine, x, dy), module_step(ref, x, dy)
        if a.keys() != b.keys():
            raise ValueError(f"the modules return different quantities: {sorted(a)} vs {sorted(b)}")
        for key, err in errors(a, b).items():
            worst[key] = max(worst.get(key, 0.0), err)
    return worst


def module_check(name: str, errs: dict[str, float], dtype: torch.dtype, setting: str) -> Check:
    """`errors_check` over `module_errors`, at the tolerance of ``dtype``; the dtype is named."""
    tol = TOL_FLOAT64 if dtype == torch.float64 else TOL_FLOAT32
    return errors_check(f"{name}, {str(dtype).removeprefix('torch.')}", errs, tol, setting)


def edge_cases(axis: int, seed: int) -> list[Case]:
    """Random and edge-case float64 inputs: N = 2 (or D = 2), a constant group, offset, tiny scale."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    f64 = "float64 round-off"
    const = r(16, 6)
    if axis == 0:
        const[:, 2] = CONSTANT
        two = r(2, 5)
    else:
        const[2, :] = CONSTANT
        two = r(5, 2)
    group = "feature" if axis == 0 else "example"
    return [
        Case("random (32, 8)", 3 * r(32, 8) + 0.5, TOL_FLOAT64, f64),
        Case("random (7, 33)", r(7, 33), TOL_FLOAT64, f64),
        Case("N = 2" if axis == 0 else "D = 2", two, *pair_tolerance(axis, two)),
        Case(f"constant {group} (sigma^2 = 0)", const, TOL_FLOAT64, f64),
        Case(
            f"offset {OFFSET:g}",
            r(32, 8) + OFFSET,
            offset_tolerance(OFFSET, 1.0),
            f"64 ulp({OFFSET:g}) / sigma: the input's own resolution",
        ),
        Case(f"tiny scale {TINY:g}", TINY * r(32, 8), TOL_FLOAT64, f64 + "; eps dominates sigma^2"),
    ]


def params(d: int, n: int, seed: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """gamma, beta (d,) and an upstream gradient dY (n, d)."""
    g = torch.Generator().manual_seed(seed + 1)
    gamma = torch.randn(d, generator=g, dtype=torch.float64) + 1.0
    beta = torch.randn(d, generator=g, dtype=torch.float64)
    dy = torch.randn(n, d, generator=g, dtype=torch.float64)
    return gamma.to(dtype), beta.to(dtype), dy.to(dtype)


def torch_reference(
    axis: int, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, dy: torch.Tensor, eps: float = 1e-5
) -> dict[str, torch.Tensor]:
    """out, dx, dgamma, dbeta from torch's own kernels and autograd."""
    xr, gr, br = (t.detach().clone().requires_grad_() for t in (x, gamma, beta))
    if axis == 0:
        out = F.batch_norm(xr, None, None, gr, br, training=True, eps=eps)
    else:
        out = F.layer_norm(xr, (x.shape[1],), gr, br, eps=eps)
    dx, dg, db = torch.autograd.grad(out, (xr, gr, br), dy)
    return {"out": out.detach(), "dx": dx, "dgamma": dg, "dbeta": db}


def stats(axis: int, x: np.ndarray, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """xhat and s = sqrt(sigma^2 + eps) from the definitions (float64 NumPy), s broadcastable to x."""
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axis, keepdims=True)
    s = np.sqrt(var + eps)
    return (x - mu) / s, s


def jacobian_closed(axis: int, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """d xhat_ij / d x_kl from the closed form, shape (N, D, N, D)."""
    xhat, s = stats(axis, x, eps)
    n, d = x.shape
    eye_n, eye_d = np.eye(n), np.eye(d)
    if axis == 0:  # delta_jl (delta_ik - 1/N - xhat_ij xhat_kj / N) / s_j
        inner = eye_n[:, None, :, None] - 1.0 / n - xhat[:, :, None, None] * xhat.T[None, :, :, None] / n
        return inner * eye_d[None, :, None, :] / s[0][None, :, None, None]
    # LayerNorm: delta_ik (delta_jl - 1/D - xhat_ij xhat_il / D) / s_i
    inner = eye_d[None, :, None, :] - 1.0 / d - xhat[:, :, None, None] * xhat[:, None, None, :] / d
    return inner * eye_n[:, None, :, None] / s[:, 0][:, None, None, None]


def jacobian_check(axis: int, shape: tuple[int, int], seed: int) -> Check:
    """The closed-form Jacobian against torch.autograd.functional.jacobian of torch's kernel."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    if axis == 0:

        def fn(t: torch.Tensor) -> torch.Tensor:
            return F.batch_norm(t, None, None, training=True, eps=1e-5)
    else:

        def fn(t: torch.Tensor) -> torch.Tensor:
            return F.layer_norm(t, (shape[1],), eps=1e-5)

    ref = torch.autograd.functional.jacobian(fn, x)
    err = max_rel_error(jacobian_closed(axis, x.numpy()), ref)
    return Check(
        f"closed-form Jacobian dXhat/dX vs torch autograd, shape {shape}",
        bool(err <= TOL_FLOAT64),
        err,
        TOL_FLOAT64,
        "max-norm relative error over all (N D)^2 entries; float64 round-off",
    )


def finite_difference_check(name: str, fn: Any, inputs: tuple[torch.Tensor, ...], h: float = 1e-6) -> Check:
    """Analytic gradients (``fn``'s backward) against central differences of sum(fn * W).

    Truncation error is O(h^2) and round-off O(1e-16 / h) = 1e-10, so 1e-6 bounds their sum.
    """
    tol = 1e-6
    w = torch.randn(fn(*inputs).shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    leaves = [t.detach().clone().requires_grad_() for t in inputs]
    grads = torch.autograd.grad((fn(*leaves) * w).sum(), leaves)
    worst = 0.0
    with torch.no_grad():
        for t, g in zip(inputs, grads, strict=True):
            flat = t.detach().clone().reshape(-1)
            fd = torch.empty_like(flat)
            for q in range(flat.numel()):
                old = float(flat[q])
                vals = []
                for step in (h, -h):
                    flat[q] = old + step
                    args = [flat.view_as(t) if a is t else a for a in inputs]
                    vals.append(float((fn(*args) * w).sum()))
                flat[q] = old
                fd[q] = (vals[0] - vals[1]) / (2 * h)
            worst = max(worst, max_rel_error(g.reshape(-1), fd))
    return Check(
        name,
        bool(worst <= tol),
        worst,
        tol,
        f"central differences, h = {h:g}: O(h^2) truncation + O(1e-16/h) round-off",
    )


def expect_value_error(name: str, *attempts: Any) -> Check:
    """Each attempt (a zero-argument callable) must raise ValueError."""
    raised = []
    for attempt in attempts:
        try:
            attempt()
            raised.append("no error")
        except ValueError as exc:
            raised.append(f"ValueError: {str(exc)[:80]}")
    ok = all(r.startswith("ValueError") for r in raised)
    return Check(name, ok, 0.0 if ok else 1.0, 0.0, " | ".join(raised))


__all__ = [
    "Case",
    "TOL_FLOAT32",
    "TOL_FLOAT64",
    "compare_all",
    "edge_cases",
    "errors",
    "errors_check",
    "expect_value_error",
    "finite_difference_check",
    "jacobian_check",
    "max_rel_error",
    "module_check",
    "module_errors",
    "module_step",
    "offset_tolerance",
    "pair_tolerance",
    "params",
    "run_norm",
    "stats",
    "torch_reference",
]
