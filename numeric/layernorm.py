"""Q3B: LayerNorm from scratch, forward and closed-form backward (no autograd inside).

cs231n-style contract on an (N, D) batch, normalising each example over its D features, with
per-feature gamma and beta of length D (as ``torch.nn.LayerNorm(D)``):

    out, cache = layernorm_forward(x, gamma, beta, eps=1e-5)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)

The backward is the Q3A result (`derivations.q3_layernorm`): with h = gamma * dY (gamma stays
inside the feature sums, unlike BatchNorm), rstd_i = (sigma_i^2 + eps)^(-1/2),
dX_i = (rstd_i / D) * (D h_i - sum_j h_ij - xhat_i * sum_j h_ij xhat_ij); dgamma = sum_i dY * xhat,
dbeta = sum_i dY. `LayerNorm` wraps it as an ``nn.Module`` over the last dimension of (..., D)
inputs, matching ``torch.nn.LayerNorm(D)``. NumPy in gives NumPy out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from numeric import _norm_fused
from numeric._norm_common import (
    as_tensor,
    check_eps,
    check_finite_stats,
    check_inputs,
    check_same_shape,
    restore,
)


@dataclass(frozen=True)
class LayerNormCache:
    """What the backward pass needs: xhat (N, D), per-example rstd (N, 1), gamma (D,).

    A fused forward stores the input x (and its version, to catch in-place changes) and the row
    means instead of xhat (None), as torch's own LayerNorm does; the fused backward recomputes
    xhat inside its loop.
    """

    xhat: torch.Tensor | None
    rstd: torch.Tensor
    gamma: torch.Tensor
    numpy_in: bool
    x: torch.Tensor | None = None  # fused only
    mean: torch.Tensor | None = None  # fused only, (N, 1)
    x_version: int = 0  # fused only: x._version at the forward

    @property
    def fused(self) -> bool:
        """Made by the compiled kernels (numeric._norm_fused), whose backward is used too."""
        return self.xhat is None


def layernorm_forward(
    x: Any, gamma: Any, beta: Any, eps: float = 1e-5, fused: bool | None = None
) -> tuple[Any, LayerNormCache]:
    """LayerNorm of each row of x: (N, D) with gamma, beta: (D,). Returns out (N, D) and the cache.

    ``fused``: True runs the same closed forms through `numeric._norm_fused` (torch.compile),
    forward and backward; False the eager torch ops below; None (default) the fused kernels for
    CPU inputs of at least 2**19 elements where torch.compile works (`_norm_fused.use_fused`).
    The first fused call per shape compiles (seconds); later calls are about 2x faster.
    """
    x, gamma, beta, eps, numpy_in = check_inputs(x, gamma, beta, eps)
    if _norm_fused.use_fused(fused, x):
        out, mean, _, rstd, x = _norm_fused.checked_forward(x, gamma, beta, eps, 1, numpy_in)
        cache = LayerNormCache(None, rstd, gamma.detach(), numpy_in, x=x, mean=mean, x_version=x._version)
        return restore(numpy_in, out)[0], cache
    with torch.no_grad():
        # Two-pass statistics over the contiguous last dim: mean, then the norm of x - mean
        # (exact for large offsets, and no temporary beyond xhat itself).
        mean = x.mean(1, keepdim=True)
        xhat = x - mean
        var = torch.linalg.vector_norm(xhat, dim=1, keepdim=True).square_().div_(x.shape[1])
        check_finite_stats("x", mean, var)
        rstd = var.add_(eps).rsqrt_()
        xhat.mul_(rstd)
        out = torch.addcmul(beta, xhat, gamma)
    return restore(numpy_in, out)[0], LayerNormCache(xhat, rstd, gamma.detach(), numpy_in)


def layernorm_backward(dout: Any, cache: LayerNormCache) -> tuple[Any, Any, Any]:
    """Closed-form LayerNorm backward. dout: (N, D). Returns dx (N, D), dgamma (D,), dbeta (D,)."""
    if not isinstance(cache, LayerNormCache):
        raise TypeError(
            f"cache must be the LayerNormCache from layernorm_forward, got {type(cache).__name__}"
        )
    dout, _ = as_tensor("dout", dout)
    if cache.fused:
        return _norm_fused.checked_backward(
            dout, cache.x, cache.x_version, cache.mean, cache.rstd, cache.gamma, 1, cache.numpy_in
        )
    xhat, rstd, gamma = cache.xhat, cache.rstd, cache.gamma
    check_same_shape("dout", dout, xhat)
    d = xhat.shape[1]
    with torch.no_grad():
        # Every reduction is a matrix-vector product (BLAS): column sums with a ones vector, the row
        # sums of h = gamma * dY and of h * xhat with gamma. Fewer elementwise passes to synchronise.
        ones = xhat.new_ones(xhat.shape[0])
        dbeta = torch.mv(dout.t(), ones)
        check_finite_stats("dout", dbeta)
        dx = torch.mul(dout, xhat)  # dY * xhat, held in dx's buffer until the sums are taken
        dgamma = torch.mv(dx.t(), ones)
        s1 = torch.mv(dout, gamma).unsqueeze_(1).mul_(-1.0 / d)
        s2 = torch.mv(dx, gamma).unsqueeze_(1).mul_(-1.0 / d)
        torch.addcmul(s1, dout, gamma, out=dx).addcmul_(xhat, s2).mul_(rstd)
    return restore(cache.numpy_in, dx, dgamma, dbeta)


class LayerNormFunction(torch.autograd.Function):
    """LayerNorm over the rows of a 2-D input as an autograd op whose backward is `layernorm_backward`."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float
    ) -> torch.Tensor:
        out, ctx.cache = layernorm_forward(x, gamma, beta, eps)
        return out

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> Any:
        dx, dgamma, dbeta = layernorm_backward(dout.contiguous(), ctx.cache)
        return dx, dgamma, dbeta, None


class LayerNorm(nn.Module):
    """``torch.nn.LayerNorm(normalized_shape)`` for an int shape D: normalise the last dimension."""

    def __init__(
        self, normalized_shape: int, eps: float = 1e-5, device: Any = None, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        if (
            isinstance(normalized_shape, bool)
            or not isinstance(normalized_shape, int)
            or normalized_shape < 1
        ):
            raise ValueError(f"normalized_shape must be a positive int, got {normalized_shape!r}")
        self.normalized_shape, self.eps = normalized_shape, check_eps(eps)
        self.weight = nn.Parameter(torch.ones(normalized_shape, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(normalized_shape, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 1 or x.shape[-1] != self.normalized_shape:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (..., {self.normalized_shape}), got {shape}")
        flat = x.reshape(-1, self.normalized_shape).contiguous()
        out = LayerNormFunction.apply(flat, self.weight, self.bias, self.eps)
        return out.reshape(x.shape)

    def extra_repr(self) -> str:
        return f"({self.normalized_shape},), eps={self.eps}"
