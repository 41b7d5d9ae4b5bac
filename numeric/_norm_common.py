"""Input checking shared by the from-scratch BatchNorm (Q2B) and LayerNorm (Q3B).

Every public function of `numeric.batchnorm` and `numeric.layernorm` takes torch tensors or
NumPy arrays; these helpers turn the inputs into floating-point tensors and reject bad ones with
an error that names the argument (wrong type, dimension, length, dtype or a non-finite value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def as_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    """``value`` as a floating tensor, and whether it came in as a NumPy array."""
    if isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name} must hold floating-point values, got dtype {value.dtype}")
        return torch.from_numpy(value), True
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must hold floating-point values, got dtype {value.dtype}")
    return value, False


def check_matrix(name: str, x: torch.Tensor) -> tuple[int, int]:
    """(N, D) of a 2-D tensor; ValueError naming ``name`` otherwise."""
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D of shape (N, D), got shape {tuple(x.shape)}")
    n, d = x.shape
    if n == 0 or d == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(x.shape)}")
    return int(n), int(d)


def check_vector(name: str, v: torch.Tensor, length: int, like: torch.Tensor) -> None:
    """``v`` must be shape (length,), on ``like``'s device and dtype, and finite."""
    if v.dim() != 1 or v.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got shape {tuple(v.shape)}")
    if v.dtype != like.dtype:
        raise TypeError(f"{name} has dtype {v.dtype} but x has dtype {like.dtype}")
    if v.device != like.device:
        raise ValueError(f"{name} is on {v.device} but x is on {like.device}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} contains non-finite values (inf or nan)")


def check_inputs(
    x: Any, gamma: Any, beta: Any, eps: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, bool]:
    """The checked ``(x, gamma, beta, eps, numpy_in)`` of a forward: x (N, D), gamma and beta (D,)
    on x's device and dtype, eps finite and > 0; ``numpy_in``: x came in as a NumPy array."""
    x, numpy_in = as_tensor("x", x)
    gamma, _ = as_tensor("gamma", gamma)
    beta, _ = as_tensor("beta", beta)
    _, d = check_matrix("x", x)
    check_vector("gamma", gamma, d, x)
    check_vector("beta", beta, d, x)
    return x, gamma, beta, check_eps(eps), numpy_in


def check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a real number, got {type(eps).__name__}")
    eps = float(eps)
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be finite and > 0, got {eps}")
    return eps


def check_finite_stats(name: str, *stats: torch.Tensor) -> None:
    """Raise if a reduction of ``name`` is non-finite.

    A sum over entries is non-finite exactly when some entry is inf or nan (or the sum overflows),
    so checking the O(D) statistics replaces a full pass over the input.
    """
    for s in stats:
        if not bool(torch.isfinite(s).all()):
            raise ValueError(f"{name} contains non-finite values (inf or nan) or overflows its dtype")


def check_same_shape(name: str, a: torch.Tensor, like: torch.Tensor) -> None:
    """``a`` must have ``like``'s shape and dtype (``like``: the forward input, or xhat)."""
    if a.shape != like.shape:
        raise ValueError(
            f"{name} must have shape {tuple(like.shape)} (the forward input's), got {tuple(a.shape)}"
        )
    if a.dtype != like.dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but the forward input had dtype {like.dtype}")


def check_unchanged(name: str, t: torch.Tensor, version: int) -> None:
    """A fused backward recomputes xhat from the saved input: refuse if it was changed in place."""
    if t._version != version:
        raise RuntimeError(
            f"{name} was modified in place after the forward; the fused backward recomputes from it"
            " (run the forward again, or pass fused=False to keep xhat instead)"
        )


def restore(numpy_in: bool, *tensors: torch.Tensor) -> tuple[Any, ...]:
    """Return NumPy arrays if the caller passed NumPy, else the tensors."""
    if numpy_in:
        return tuple(t.detach().cpu().numpy() for t in tensors)
    return tensors
