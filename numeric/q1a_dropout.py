"""Q1A numerically: the expected dropout loss equals the ridge form, by Monte-Carlo and by enumeration.

For a fixed ``(X, y, w)`` the mean of ``||y - (X * sM) w||^2`` over random masks (inverted dropout
through ``torch.nn.functional.dropout``; plain masks through ``torch.bernoulli``) must match
``||y - f X w||^2 + g ||Gamma w||^2`` with ``f, g`` from `derivations.q1_dropout` within
``Z_BOUND`` standard errors, and must *reject* the unregularised loss ``||y - f X w||^2``. For a
3 x 3 design the expectation over all 512 masks is computed exactly in float64.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from derivations.core import Check, Context, Result, Section
from derivations.q1_dropout import CONVENTIONS, mask_moments, mask_scale
from derivations.symbols import p as p_sym
from numeric.checks import TOL_FLOAT64, bound, compare, to_numpy

Z_BOUND = 4.5  # |MC mean - closed form| / standard error; two-sided normal tail 7e-6 per check
MAX_ENUM = 16  # N * D above this: 2^(N D) masks is too many to enumerate


@functools.cache
def _lambdified(convention: str) -> tuple[Callable[[float], Any], Callable[[float], Any]]:
    """``(p -> (f, g), p -> s)`` for one convention, lambdified once from `derivations.q1_dropout`.

    The SymPy expectation and the lambdify take about 15 ms, and Q1B evaluates ``fg`` some 80
    times. A bad convention raises ValueError (from `mask_scale`) and is not cached.
    """
    f, g = mask_moments(convention)
    return Result("fg", (f, g), (p_sym,)).callable(), Result("s", mask_scale(convention), (p_sym,)).callable()


def fg(p: float, convention: str) -> tuple[float, float]:
    """``(f(p), g(p))`` evaluated from the SymPy result of the derivation (lambdified)."""
    p = validate_p(p)
    fv, gv = _lambdified(convention)[0](p)
    return float(fv), float(gv)


def kept_scale(p: float, convention: str) -> float:
    """``s(p)``, the factor on a kept entry (1 plain, 1/(1-p) inverted), from `derivations.q1_dropout.mask_scale`."""
    return float(_lambdified(convention)[1](validate_p(p)))


def validate_p(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"p must be a real number, got {type(p).__name__}")
    p = float(p)
    if not (0.0 <= p < 1.0):
        raise ValueError(f"p must lie in [0, 1), got {p}")
    return p


def validate_problem(X: Any, y: Any, w: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 copies of ``X: (N, D)``, ``y: (N,)``, ``w: (D,)``; errors name the bad argument."""
    out = []
    for name, arr, ndim in (("X", X, 2), ("y", y, 1), ("w", w, 1)):
        a = to_numpy(arr).astype(np.float64)
        if a.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"{name} must not be empty")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} has non-finite values")
        out.append(a)
    X, y, w = out
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} entries but X has {X.shape[0]} rows")
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has {w.shape[0]} entries but X has {X.shape[1]} columns")
    return X, y, w


def closed_form_loss(X: Any, y: Any, w: Any, p: float, convention: str = "plain",
                     f: float | None = None, g: float | None = None) -> float:
    """``||y - f X w||^2 + g ||Gamma w||^2``, ``Gamma = diag(X^T X)^{1/2}``; ``f``/``g`` override."""
    X, y, w = validate_problem(X, y, w)
    f0, g0 = fg(p, convention)
    f = f0 if f is None else f
    g = g0 if g is None else g
    gamma = np.sqrt((X**2).sum(axis=0))
    return float(np.sum((y - f * X @ w) ** 2) + g * np.sum((gamma * w) ** 2))


def _masked_designs(X: torch.Tensor, p: float, convention: str, samples: int, gen: torch.Generator) -> torch.Tensor:
    """``samples`` masked copies of ``X``: ``(samples, N, D)``."""
    Xs = X.expand(samples, *X.shape)
    if convention == "inverted":  # PyTorch's dropout: zero with probability p, scale kept by 1/(1-p)
        with torch.random.fork_rng(devices=[]):  # F.dropout takes no generator; leave global state alone
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            return F.dropout(Xs, p=p, training=True)
    if convention == "plain":
        return Xs * torch.bernoulli(torch.full(Xs.shape, 1.0 - p, dtype=X.dtype), generator=gen)
    raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def mc_loss(X: Any, y: Any, w: Any, p: float, convention: str, samples: int, seed: int = 0) -> tuple[float, float]:
    """Monte-Carlo mean of the dropout loss over ``samples`` masks and its standard error."""
    X, y, w = validate_problem(X, y, w)
    p = validate_p(p)
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
    gen = torch.Generator().manual_seed(seed)
    Xt, yt, wt = (torch.from_numpy(a) for a in (X, y, w))
    losses = ((yt - _masked_designs(Xt, p, convention, samples, gen) @ wt) ** 2).sum(dim=1)
    return float(losses.mean()), float(losses.std() / np.sqrt(samples))


def exact_loss(X: Any, y: Any, w: Any, p: float, convention: str) -> float:
    """The expectation over all ``2^(N D)`` masks, summed exactly (float64); ``N D <= 16``."""
    X, y, w = validate_problem(X, y, w)
    p = validate_p(p)
    if X.size > MAX_ENUM:
        raise ValueError(f"X has {X.size} entries; enumeration needs at most {MAX_ENUM}")
    s = kept_scale(p, convention)  # ValueError naming the convention if it is not one of CONVENTIONS
    bits = np.array(list(itertools.product((0.0, 1.0), repeat=X.size))).reshape(-1, *X.shape)
    probs = np.prod(np.where(bits == 1.0, 1.0 - p, p), axis=(1, 2))
    losses = (((y - (X * s * bits) @ w)) ** 2).sum(axis=1)
    return float(probs @ losses)


def _problem(rng: np.random.Generator, n: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scales = np.geomspace(0.5, 3.0, d)  # unequal feature scales, so Gamma is not a multiple of I
    return rng.normal(size=(n, d)) * scales, rng.normal(size=n), rng.normal(size=d)


def _verdict(checks: list[Check]) -> str:
    failed = [c.name for c in checks if not c.passed]
    if not failed:
        return f"All {len(checks)} numeric checks pass."
    return f"{len(failed)} of {len(checks)} numeric checks FAIL ({'; '.join(failed)}): the agreement is not confirmed."


def _dropout_convention_check(X: np.ndarray, seed: int, p: float = 0.3) -> Check:
    """F.dropout zeroes a fraction ~p of the entries and scales the rest by 1/(1-p) (inverted dropout)."""
    Xt = torch.from_numpy(X)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = F.dropout(Xt.expand(2000, *Xt.shape), p=p, training=True)
    zero, kept = out == 0, torch.isclose(out, Xt / (1 - p), rtol=1e-12, atol=0.0)
    frac = float(zero.double().mean())
    z = abs(frac - p) / np.sqrt(p * (1 - p) / out.numel())  # binomial z-score of the dropped fraction
    ok = bool(torch.all(zero | kept)) and z <= Z_BOUND
    return Check(f"F.dropout is the inverted convention (entries 0 or x/(1-p)), p={p}", ok, z, Z_BOUND,
                 f"every entry is 0 or X/(1-p); dropped fraction {frac:.4f}, binomial z of it vs p")


def check(ctx: Context) -> Section:
    """MC over masks (both conventions, a grid of p) and exact enumeration against the closed form."""
    rng = np.random.default_rng(ctx.seed)
    n, d = 8, 4
    samples = 4_000 if ctx.quick else 40_000
    X, y, w = _problem(rng, n, d)
    checks: list[Check] = []
    rows = []
    for conv in CONVENTIONS:
        for k, p in enumerate((0.1, 0.3, 0.5, 0.8)):
            closed = closed_form_loss(X, y, w, p, conv)
            plain_ols = closed_form_loss(X, y, w, p, conv, g=0.0)  # the loss without the ridge term
            mean, se = mc_loss(X, y, w, p, conv, samples, seed=ctx.seed + k)
            z, z_ols = abs(mean - closed) / se, abs(mean - plain_ols) / se
            checks.append(bound(f"MC {conv} p={p}: mean within {Z_BOUND} s.e. of ridge form", z, Z_BOUND,
                                f"|MC - closed| / s.e. over {samples} masks"))
            checks.append(Check(f"MC {conv} p={p}: rejects the unregularised loss", z_ols > Z_BOUND, z_ols,
                                Z_BOUND, "|MC - ||y - fXw||^2| / s.e. must exceed the bound"))
            rows.append([conv, p, closed, mean, se, z, plain_ols, z_ols])
    Xs, ys, ws = _problem(rng, 3, 3)
    for conv in CONVENTIONS:
        for p in (0.0, 0.25, 0.6):
            checks.append(compare(f"exact over {2**Xs.size} masks, {conv} p={p}", exact_loss(Xs, ys, ws, p, conv),
                                  closed_form_loss(Xs, ys, ws, p, conv), TOL_FLOAT64,
                                  f"float64 sum of {2**Xs.size} weighted terms vs closed form"))
    checks.append(_dropout_convention_check(X, ctx.seed))
    table = {
        "columns": ["convention", "p", "closed form", "MC mean", "MC s.e.", "z", "no-penalty loss", "z (no penalty)"],
        "rows": [[r[0], r[1], *(float(v) for v in r[2:])] for r in rows],
        "caption": (f"Monte-Carlo dropout loss over {samples} masks ($N={n}$, $D={d}$, seed {ctx.seed}) against "
                    f"the ridge form; $z$ must be at most {Z_BOUND}, and the loss without the ridge term must be "
                    f"rejected ($z > {Z_BOUND}$)."),
    }
    worst = max(r[5] for r in rows)
    return Section(
        checks=checks,
        tables={"mc": table},
        metrics={"mc_samples": samples, "mc_worst_z": worst, "mc_min_z_no_penalty": min(r[7] for r in rows)},
        text={"numeric": (f"Monte-Carlo over {samples} masks {'agrees' if all(r[5] <= Z_BOUND for r in rows) else 'does NOT agree'} "
                          f"with the closed form in all {len(rows)} settings: the largest deviation is {worst:.2f} standard "
                          f"errors (bound {Z_BOUND}), while the loss without the $g\\|\\Gamma w\\|^2$ term is off by at least "
                          f"{min(r[7] for r in rows):.1f} standard errors. " + _verdict(checks))},
    )
