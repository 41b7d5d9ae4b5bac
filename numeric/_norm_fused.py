"""Fused kernels for the from-scratch BatchNorm/LayerNorm: the same closed forms, compiled.

The eager implementations in `numeric.batchnorm` and `numeric.layernorm` take about nine separate
elementwise and reduction passes over the (N, D) input; torch's native kernels take two or three.
Here the identical closed-form forward and backward (no autograd) are handed to `torch.compile`,
which fuses them into a few loops. Normalisation is over ``dim`` (0: BatchNorm, 1: LayerNorm);
gamma and beta are per column (D,) in both, as in the problem set.

Like torch's own kernels, the forward returns only ``out`` and the statistics (mean, rstd) and the
backward recomputes xhat = (x - mean) * rstd inside its loop: no (N, D) buffer is written beyond
``out`` and ``dx``.

Column sums (over dim 0) are taken in two stages, over blocks of rows and then over the blocks
(`_column_sum`). Inductor's one-stage sum over dim 0 walks each 16-column strip down all N rows,
a 4 KB stride; on a (4096, 1024) float32 input that took 1.6 ms for sum(dY * xhat, 0), the
two-stage sum 0.5 ms, which is what brings the kernels within 2x of torch's
(`python benchmarks/bench_norms.py`).

`forward` / `backward` are called by the public functions with ``fused=True`` (or by default for
large CPU inputs, see `use_fused`), through `checked_forward` / `checked_backward`, which add the
input checks and the saved-input bookkeeping both norms share; the first call per shape and dtype
compiles (seconds), later calls are fast. `available()` says whether compilation works here, and
`build_error()` why not.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from numeric._norm_common import check_finite_stats, check_same_shape, check_unchanged, restore

ROW_BLOCKS = 128  # first stage of a column sum: this many blocks of rows (measured: 32-256 alike)
# fused=None picks the compiled kernels from this many elements up. Measured forward+backward,
# float32, 2 threads: eager is faster below 2**18 elements (0.10 vs 0.14 ms at 256 x 256), the two
# are level at 2**18, and from 2**19 up the compiled kernels take about half the time.
AUTO_MIN_NUMEL = 1 << 19
# Each shape and dtype compiles its own kernels. Dynamo's default keeps 8 per function and then
# silently runs the Python eagerly; these kernels keep up to this many (about 1 MB of code each).
RECOMPILE_LIMIT = 64


@functools.cache
def _limit_key() -> str:
    """Dynamo's name for the per-function recompile limit (``cache_size_limit`` before torch 2.6).

    Resolved on first use: reading ``torch._dynamo.config`` imports dynamo, about 0.7 s, which
    importing the eager BatchNorm/LayerNorm should not pay.
    """
    import torch._dynamo

    return "recompile_limit" if hasattr(torch._dynamo.config, "recompile_limit") else "cache_size_limit"


def _column_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over dim 0, keepdim: per block of rows, then over the blocks (and any leftover rows)."""
    n, d = t.shape
    if n < 2 * ROW_BLOCKS:
        return t.sum(0, keepdim=True)
    whole = n - n % ROW_BLOCKS
    s = t[:whole].reshape(ROW_BLOCKS, whole // ROW_BLOCKS, d).sum(1).sum(0, keepdim=True)
    return s + t[whole:].sum(0, keepdim=True) if whole < n else s


def _mean(t: torch.Tensor, dim: int) -> torch.Tensor:
    if dim == 0:
        return _column_sum(t) / t.shape[0]
    return t.mean(dim, keepdim=True)


def _forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float, dim: int):
    mean = _mean(x, dim)
    xc = x - mean
    var = _mean(xc * xc, dim)  # two-pass: exact for large offsets
    rstd = torch.rsqrt(var + eps)
    return torch.addcmul(beta, xc * rstd, gamma), mean, var, rstd


def _backward(
    dout: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, gamma: torch.Tensor, dim: int
):
    # dX = rstd * (h - mean_dim(h) - xhat * mean_dim(h * xhat)), h = dY * gamma; for BatchNorm
    # gamma is constant along dim 0 and this is (gamma rstd / N)(N dY - sum dY - xhat sum dY xhat).
    # xhat is recomputed from x here, inside the fused loop, instead of stored by the forward.
    xhat = (x - mean) * rstd
    h = dout * gamma
    dx = rstd * (h - _mean(h, dim) - xhat * _mean(h * xhat, dim))
    return dx, _column_sum(dout * xhat).squeeze(0), _column_sum(dout).squeeze(0)


@functools.cache
def _compiled(name: str):
    return torch.compile({"forward": _forward, "backward": _backward}[name], dynamic=False)


def forward(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float, dim: int):
    """(out, mean, var, rstd), the statistics with ``dim`` kept (size 1); var is biased (1/n)."""
    with torch.no_grad(), torch._dynamo.config.patch({_limit_key(): RECOMPILE_LIMIT}):
        return _compiled("forward")(x, gamma, beta, float(eps), dim)


def backward(
    dout: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, gamma: torch.Tensor, dim: int
):
    """(dx, dgamma, dbeta) from the forward's input x and the statistics `forward` returned."""
    with torch.no_grad(), torch._dynamo.config.patch({_limit_key(): RECOMPILE_LIMIT}):
        return _compiled("backward")(dout, x, mean, rstd, gamma, dim)


def checked_forward(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float, dim: int, numpy_in: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """`forward` with the eager path's finiteness check: (out, mean, var, rstd, saved x).

    The saved x is what `checked_backward` recomputes xhat from: a copy of NumPy input (NumPy
    changes in place would not bump the tensor's version), the input itself otherwise.
    """
    out, mean, var, rstd = forward(x, gamma, beta, eps, dim)
    check_finite_stats("x", mean, var)
    return out, mean, var, rstd, x.clone() if numpy_in else x.detach()


def checked_backward(
    dout: torch.Tensor,
    x: torch.Tensor,
    x_version: int,
    mean: torch.Tensor,
    rstd: torch.Tensor,
    gamma: torch.Tensor,
    dim: int,
    numpy_in: bool,
) -> tuple[Any, Any, Any]:
    """`backward` after checking dout against the saved x and that x is unchanged since the
    forward (``x_version``); NumPy out if the forward had NumPy in."""
    check_same_shape("dout", dout, x)
    check_unchanged("x", x, x_version)
    dx, dgamma, dbeta = backward(dout, x, mean, rstd, gamma, dim)
    check_finite_stats("dout", dbeta)
    return restore(numpy_in, dx, dgamma, dbeta)


@functools.cache
def build_error() -> Exception | None:
    """The exception compiling a tiny probe raised here (no C++ compiler, say), or None if it works."""
    try:
        x = torch.randn(4, 3)
        forward(x, torch.ones(3), torch.zeros(3), 1e-5, 1)
    except Exception as exc:  # noqa: BLE001 - any failure means: use the eager path; kept for the message
        return exc
    return None


def available() -> bool:
    """Whether torch.compile works on this machine (it needs a C++ compiler for the CPU)."""
    return build_error() is None


def use_fused(fused: bool | None, x: torch.Tensor) -> bool:
    """Resolve a ``fused`` argument: True/False as given; None (the default) picks the compiled
    kernels for CPU inputs of at least `AUTO_MIN_NUMEL` elements when they can be built here.

    fused=True on the CPU where they cannot be built raises RuntimeError, chained to the
    exception the probe compile raised (`build_error`).
    """
    if fused is not None:
        if not isinstance(fused, bool):
            raise TypeError(f"fused must be True, False or None, got {fused!r}")
        if fused and x.device.type == "cpu" and not available():
            err = build_error()
            why = (
                f"{type(err).__name__}: {str(err).strip()[:300]}" if err is not None else "no error recorded"
            )
            raise RuntimeError(
                f"fused=True needs torch.compile, which cannot build CPU kernels here ({why});"
                " pass fused=False, or None to choose automatically"
            ) from err
        return fused
    return x.device.type == "cpu" and x.numel() >= AUTO_MIN_NUMEL and available()
