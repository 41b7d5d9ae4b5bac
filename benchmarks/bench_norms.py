"""Benchmark: from-scratch BatchNorm/LayerNorm forward+backward against torch's native kernels.

    python benchmarks/bench_norms.py [--rows 4096] [--cols 1024] [--repeats 15]

On a (4096, 1024) float32 input, times ``batchnorm_forward`` + ``batchnorm_backward`` (and the
LayerNorm pair) against ``F.batch_norm(training=True)`` / ``F.layer_norm`` forward plus
``torch.autograd.grad`` for (x, gamma, beta), in the same process. The default call (``fused=None``,
which picks the compiled kernels of `numeric._norm_fused` at this size where torch.compile works)
and the eager one (``fused=False``) are both timed; where the default is eager (below
``AUTO_MIN_NUMEL`` elements, or no torch.compile here) it is timed once, and the reason printed.
Warm-up first (the first fused call's compile time is printed), then each pair is timed
alternately and the median of the repeats is reported, as a ratio (target <= 2x), with the ratio
of the fastest runs beside it (less sensitive to other processes on a shared machine).

Both sides allocate fresh 16 MB outputs every call. Whether glibc's malloc hands such a block
back to the kernel when it is freed (its thresholds move with what was freed before) decides
whether the next allocation faults in 4096 new pages, about 3 ms here: more than torch's whole
step, and a matter of allocation order rather than of the kernels. So the benchmark first fixes
the thresholds (``mallopt``: no mmap or trimming below 1 GiB), and neither side pays that;
``--malloc-defaults`` leaves glibc's dynamic thresholds, to see the other regime.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numeric import _norm_fused  # noqa: E402
from numeric.batchnorm import batchnorm_backward, batchnorm_forward  # noqa: E402
from numeric.layernorm import layernorm_backward, layernorm_forward  # noqa: E402

TARGET_RATIO = 2.0


def _fix_malloc_thresholds() -> str:
    """Keep freed buffers below 1 GiB in the heap (glibc only); say what was done."""
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from <malloc.h>
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    except (OSError, AttributeError, TypeError):
        ok = False
    return "malloc thresholds fixed at 1 GiB" if ok else "malloc left at its defaults (no glibc mallopt here)"


def _time_pair(
    a: Callable[[], object], b: Callable[[], object], repeats: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        a()
        b()
    ta, tb = [], []
    for _ in range(repeats):  # alternate, so that load from other processes hits both alike
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return ta, tb


def _default_path(x: torch.Tensor, fused_default: bool) -> str:
    """Which path ``fused=None`` takes for ``x``, and why (`numeric._norm_fused.use_fused`)."""
    if fused_default:
        return "fused (torch.compile kernels)"
    if x.device.type != "cpu":
        return f"eager: the fused kernels are chosen for CPU inputs only, this one is on {x.device}"
    if x.numel() < _norm_fused.AUTO_MIN_NUMEL:
        return f"eager: {x.numel():,} elements < AUTO_MIN_NUMEL = {_norm_fused.AUTO_MIN_NUMEL:,}"
    err = _norm_fused.build_error()
    return f"eager: torch.compile cannot build kernels here ({type(err).__name__}: {str(err).strip()[:200]})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument(
        "--malloc-defaults", action="store_true", help="keep glibc's dynamic malloc thresholds (see above)"
    )
    args = ap.parse_args(argv)
    allocator = "malloc at its defaults (--malloc-defaults)" if args.malloc_defaults else _fix_malloc_thresholds()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.rows, args.cols, generator=g)
    gamma, beta = torch.randn(args.cols, generator=g), torch.randn(args.cols, generator=g)
    dy = torch.randn(args.rows, args.cols, generator=g)
    xr, gr, br = (t.clone().requires_grad_() for t in (x, gamma, beta))

    def mine_bn(fused: bool | None = None) -> object:
        _, cache = batchnorm_forward(x, gamma, beta, fused=fused)
        return batchnorm_backward(dy, cache)

    def torch_bn() -> object:
        out = F.batch_norm(xr, None, None, gr, br, training=True)
        return torch.autograd.grad(out, (xr, gr, br), dy)

    def mine_ln(fused: bool | None = None) -> object:
        _, cache = layernorm_forward(x, gamma, beta, fused=fused)
        return layernorm_backward(dy, cache)

    def torch_ln() -> object:
        out = F.layer_norm(xr, (args.cols,), gr, br)
        return torch.autograd.grad(out, (xr, gr, br), dy)

    print(
        f"input ({args.rows}, {args.cols}) float32, {torch.get_num_threads()} threads, {args.repeats} repeats;"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {allocator}"
    )
    fused_default = _norm_fused.use_fused(None, x)
    print(f"default path at this size: {_default_path(x, fused_default)}")
    eager_rows = [
        ("BatchNorm eager", lambda: mine_bn(False), torch_bn),
        ("LayerNorm eager", lambda: mine_ln(False), torch_ln),
    ]
    if fused_default:
        default_rows = [("BatchNorm fused", mine_bn, torch_bn), ("LayerNorm fused", mine_ln, torch_ln)]
        for name, mine, _ in default_rows:
            t0 = time.perf_counter()
            mine()
            print(f"{name} first call (compiles once per shape and dtype): {time.perf_counter() - t0:.2f} s")
        rows = default_rows + eager_rows
    else:  # the default call is the eager one: time it once
        rows = eager_rows
    print(
        f"{'norm':15s} {'scratch ms':>11s} {'torch ms':>9s} {'ratio':>6s} {'min ratio':>10s}  (median; target <= {TARGET_RATIO:g}x)"
    )
    for name, mine, ref in rows:
        ta, tb = _time_pair(mine, ref, args.repeats)
        tm, tr = statistics.median(ta), statistics.median(tb)
        verdict = "meets" if tm / tr <= TARGET_RATIO else "misses"
        print(
            f"{name:15s} {tm * 1e3:11.2f} {tr * 1e3:9.2f} {tm / tr:6.2f} {min(ta) / min(tb):10.2f}  {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
