"""Q2B: BatchNorm from scratch, forward and closed-form backward (no autograd inside).

cs231n-style contract on an (N, D) batch, normalising each feature over the batch:

    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

The backward is the Q2A result (`derivations.q2_batchnorm`), vectorised over N x D:
dbeta = sum_i dY, dgamma = sum_i dY * xhat, and
dX = (gamma * rstd / N) * (N dY - sum_i dY - xhat * sum_i (dY * xhat)), rstd = (sigma^2 + eps)^(-1/2).
`BatchNorm1d` wraps it as an ``nn.Module`` with running mean, unbiased running variance, momentum
and eval mode, matching ``torch.nn.BatchNorm1d``. Torch tensors or NumPy arrays are accepted;
NumPy in gives NumPy out.
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
    check_vector,
    restore,
)


@dataclass(frozen=True)
class BatchNormCache:
    """What the backward pass needs: xhat (N, D), rstd and gamma (D,), the batch statistics.

    A fused forward stores the input x (and its version, to catch in-place changes) instead of
    xhat (None), as torch's own BatchNorm does; the fused backward recomputes xhat in its loop.
    """

    xhat: torch.Tensor | None
    rstd: torch.Tensor
    gamma: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor  # biased (1/N) batch variance, or the running variance in eval mode
    training: bool  # False: statistics were constants (eval mode), so dx = gamma * rstd * dout
    numpy_in: bool
    x: torch.Tensor | None = None  # fused only
    x_version: int = 0  # fused only: x._version at the forward

    @property
    def fused(self) -> bool:
        """Made by the compiled kernels (numeric._norm_fused), whose backward is used too."""
        return self.xhat is None


def batchnorm_forward(
    x: Any, gamma: Any, beta: Any, eps: float = 1e-5, fused: bool | None = None
) -> tuple[Any, BatchNormCache]:
    """Training-mode BatchNorm.

    x: (N, D), N >= 2; gamma, beta: (D,). Returns out (N, D) and the cache for the backward.
    Raises ValueError for N = 1 (one value per channel has no variance), as torch does.
    ``fused``: True runs the same closed forms through `numeric._norm_fused` (torch.compile),
    forward and backward; False the eager torch ops below; None (default) the fused kernels for
    CPU inputs of at least 2**19 elements where torch.compile works (`_norm_fused.use_fused`).
    The first fused call per shape compiles (seconds); later calls are about 2x faster.
    """
    x, gamma, beta, eps, numpy_in = check_inputs(x, gamma, beta, eps)
    if x.shape[0] < 2:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got x of shape {tuple(x.shape)}"
        )
    if _norm_fused.use_fused(fused, x):
        out, mean, var, rstd, x = _norm_fused.checked_forward(x, gamma, beta, eps, 0, numpy_in)
        rstd, mean, var = rstd.squeeze(0), mean.squeeze(0), var.squeeze(0)  # (1, D) -> (D,)
        cache = BatchNormCache(
            None, rstd, gamma.detach(), mean, var, True, numpy_in, x=x, x_version=x._version
        )
        return restore(numpy_in, out)[0], cache
    with torch.no_grad():
        # Batch sums as matrix-vector products: torch.var_mean over dim 0 (a strided Welford
        # reduction) takes 13 ms on a (4096, 1024) float32 input here, the two passes below 1 ms.
        # Two passes (centre, then square) keep the variance exact for large offsets.
        ones = x.new_ones(x.shape[0])
        mean = torch.mv(x.t(), ones).div_(x.shape[0])
        xhat = x - mean
        out = torch.mul(xhat, xhat)  # the squares, in the output's buffer until it is written
        var = torch.mv(out.t(), ones).div_(x.shape[0])
        check_finite_stats("x", mean, var)
        rstd = (var + eps).rsqrt_()
        xhat.mul_(rstd)
        torch.addcmul(beta, xhat, gamma, out=out)
    cache = BatchNormCache(xhat, rstd, gamma.detach(), mean, var, True, numpy_in)
    return restore(numpy_in, out)[0], cache


def batchnorm_eval_forward(
    x: Any, gamma: Any, beta: Any, running_mean: Any, running_var: Any, eps: float = 1e-5
) -> tuple[Any, BatchNormCache]:
    """Eval-mode BatchNorm: normalise with the running statistics (constants for the backward)."""
    x, gamma, beta, eps, numpy_in = check_inputs(x, gamma, beta, eps)
    mean, _ = as_tensor("running_mean", running_mean)
    var, _ = as_tensor("running_var", running_var)
    check_vector("running_mean", mean, x.shape[1], x)
    check_vector("running_var", var, x.shape[1], x)
    if bool((var < 0).any()):
        raise ValueError("running_var must be >= 0")
    with torch.no_grad():
        rstd = (var + eps).rsqrt()
        xhat = (x - mean).mul_(rstd)
        check_finite_stats("x", xhat.sum(0))
        out = torch.addcmul(beta, xhat, gamma)
    cache = BatchNormCache(xhat, rstd, gamma.detach(), mean, var, False, numpy_in)
    return restore(numpy_in, out)[0], cache


def batchnorm_backward(dout: Any, cache: BatchNormCache) -> tuple[Any, Any, Any]:
    """Closed-form BatchNorm backward.

    dout: (N, D), the upstream gradient dL/dY. Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    if not isinstance(cache, BatchNormCache):
        raise TypeError(
            f"cache must be the BatchNormCache from batchnorm_forward, got {type(cache).__name__}"
        )
    dout, _ = as_tensor("dout", dout)
    xhat, rstd, gamma = cache.xhat, cache.rstd, cache.gamma
    if cache.fused:
        return _norm_fused.checked_backward(
            dout,
            cache.x,
            cache.x_version,
            cache.mean.unsqueeze(0),
            rstd.unsqueeze(0),
            gamma,
            0,
            cache.numpy_in,
        )
    check_same_shape("dout", dout, xhat)
    n = xhat.shape[0]
    with torch.no_grad():
        ones = xhat.new_ones(n)  # batch sums as matrix-vector products (BLAS)
        dbeta = torch.mv(dout.t(), ones)
        check_finite_stats("dout", dbeta)
        dx = torch.mul(dout, xhat)  # dY * xhat, held in dx's buffer until dgamma is taken
        dgamma = torch.mv(dx.t(), ones)
        a = gamma * rstd
        if cache.training:
            # dx = a * dout - (a * dbeta / N) - xhat * (a * dgamma / N): two passes, no new buffer.
            torch.addcmul(a * dbeta / -n, xhat, a * dgamma / -n, out=dx).addcmul_(dout, a)
        else:
            torch.mul(dout, a, out=dx)
    return restore(cache.numpy_in, dx, dgamma, dbeta)


class BatchNormFunction(torch.autograd.Function):
    """Training-mode BatchNorm as an autograd op whose backward is `batchnorm_backward`.

    ``apply(x, gamma, beta, eps) -> (out, mean, var)``; mean and the biased var are
    non-differentiable outputs (for the running statistics).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> Any:
        out, cache = batchnorm_forward(x, gamma, beta, eps)
        ctx.cache = cache
        ctx.mark_non_differentiable(cache.mean, cache.var)
        return out, cache.mean, cache.var

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor, _dmean: Any, _dvar: Any) -> Any:
        dx, dgamma, dbeta = batchnorm_backward(dout.contiguous(), ctx.cache)
        return dx, dgamma, dbeta, None


class BatchNormEvalFunction(torch.autograd.Function):
    """Eval-mode BatchNorm with the running statistics as constants."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, rm: Any, rv: Any, eps: float
    ) -> Any:
        out, ctx.cache = batchnorm_eval_forward(x, gamma, beta, rm, rv, eps)
        return out

    @staticmethod
    def backward(ctx: Any, dout: torch.Tensor) -> Any:
        dx, dgamma, dbeta = batchnorm_backward(dout.contiguous(), ctx.cache)
        return dx, dgamma, dbeta, None, None, None


class BatchNorm1d(nn.Module):
    """``torch.nn.BatchNorm1d(num_features)`` on (N, D) inputs, from scratch.

    Training: batch statistics, running_mean/running_var updated with ``momentum`` (None: the
    cumulative average), the running variance unbiased (N / (N - 1)). Eval: running statistics.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        device: Any = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not (0.0 <= float(momentum) <= 1.0):
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, check_eps(eps), momentum
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_features, **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))
        self.register_buffer("running_mean", torch.zeros(num_features, **kw))
        self.register_buffer("running_var", torch.ones(num_features, **kw))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.num_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (N, {self.num_features}), got {shape}")
        if not self.training:
            return BatchNormEvalFunction.apply(
                x, self.weight, self.bias, self.running_mean, self.running_var, self.eps
            )
        out, mean, var = BatchNormFunction.apply(x, self.weight, self.bias, self.eps)
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
            n = x.shape[0]
            self.running_mean.mul_(1 - m).add_(mean, alpha=m)
            self.running_var.mul_(1 - m).add_(var, alpha=m * n / (n - 1))
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
