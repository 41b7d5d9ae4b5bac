"""Q3C numerically: what Bob knows of Z = LN(X) from Y = BN(X), X a random symmetric 16 x 16.

Bob's unknowns are per-column scales and shifts: ``X_ij = a_j U_ij + m_j`` with ``U = Y - colmean(Y)``
(``beta`` is Y's column mean), and symmetry ``X_ij = X_ji`` is a homogeneous linear system in
``(a, m)``. Its null space is computed (float SVD and exact rank over Q): it is 2-dimensional,
spanned by the truth and a common shift, so the consistent inputs are exactly ``X' = lam X + t``.
Each reading fixes which of them stay consistent; an entry of Z is known when every consistent
alternative leaves it unchanged. Counts: 256 (gamma = 1, beta = 0), 256 (gamma, beta known),
16 (unknown, eps > 0: the diagonal), 256 (unknown, eps = 0).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F
from sympy.polys.matrices import DomainMatrix

from derivations.core import Check, Context, Section
from derivations.q3c_puzzle import affine_derivation, ambiguity_derivation, prose
from numeric._norm_checks import stats
from numeric.checks import TOL_FLOAT64, bound, compare, to_numpy

SIDE = 16  # Alice's matrix is SIDE x SIDE
EPS = 1e-5  # PyTorch's default epsilon
LAMS = (-0.7, 0.01, 0.3, 1.0, 2.0, 5.0)  # scales of the alternatives X' = lam X + t (1.0: a pure shift)
SHIFT = 0.7
TOL_INVARIANT = 1e-9  # |Z' - Z| below this counts as unchanged: float64 noise is ~1e-14 on O(1) entries
NULL_RTOL = 1e-10  # singular values below this times the largest count as zero


def _vec(name: str, v: Any, n: int) -> np.ndarray:
    a = to_numpy(v).astype(np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has non-finite values")
    return a


def validate(X: Any, gamma: Any = None, beta: Any = None, eps: float = EPS,
             symmetric: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """float64 ``X: (n, n)``, ``gamma, beta: (n,)`` (default 1, 0) and ``eps >= 0``; errors name the argument."""
    X = to_numpy(X).astype(np.float64)
    if X.ndim != 2 or X.shape[0] != X.shape[1] or X.shape[0] < 2:
        raise ValueError(f"X must be a square matrix of side >= 2, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X has non-finite values")
    if symmetric and not np.allclose(X, X.T, rtol=0.0, atol=1e-12 * max(1.0, np.abs(X).max())):
        raise ValueError("X must be symmetric")
    n = X.shape[0]
    gamma = np.ones(n) if gamma is None else _vec("gamma", gamma, n)
    beta = np.zeros(n) if beta is None else _vec("beta", beta, n)
    if np.any(gamma == 0):
        raise ValueError("gamma must have no zero entries (a zero scale erases its column)")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return X, gamma, beta, float(eps)


def batchnorm(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Column statistics (biased variance); unlike ``F.batch_norm`` this allows ``eps = 0``."""
    X, gamma, beta, eps = validate(X, gamma, beta, eps, symmetric=False)
    return gamma * stats(0, X, eps)[0] + beta


def layernorm(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Row statistics, then the per-column affine map."""
    X, gamma, beta, eps = validate(X, gamma, beta, eps, symmetric=False)
    return gamma * stats(1, X, eps)[0] + beta


def alice(rng: np.random.Generator, n: int = SIDE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random symmetric ``X`` and random affine parameters (``|gamma|`` in [0.5, 2], random signs)."""
    A = rng.normal(size=(n, n))
    gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    return (A + A.T) / 2, gamma, rng.normal(size=n)


def symmetry_system(U: np.ndarray) -> np.ndarray:
    """Rows ``a_j U_ij - a_i U_ji + m_j - m_i = 0`` (``i < j``) over unknowns ``(a_1..a_n, m_1..m_n)``."""
    n = U.shape[0]
    iu, ju = np.triu_indices(n, 1)
    A = np.zeros((len(iu), 2 * n), dtype=U.dtype if U.dtype == object else np.float64)
    r = np.arange(len(iu))
    A[r, ju], A[r, iu] = U[iu, ju], -U[ju, iu]
    A[r, n + ju], A[r, n + iu] = 1, -1
    return A


def null_space(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bob's null space from Y alone: ``(basis (2n, k), singular values)``."""
    Y = validate(Y, symmetric=False)[0]
    U = Y - Y.mean(axis=0)
    _, s, vt = np.linalg.svd(symmetry_system(U))
    k = int(np.sum(s <= NULL_RTOL * s[0])) + (vt.shape[0] - len(s))
    return vt[vt.shape[0] - k :].T, s


def exact_nullity(X: np.ndarray) -> int:
    """Nullity over Q of the system built from ``X - colmean(X)`` (exact rationals of the floats).

    ``U = (X - mu) diag(c)`` with ``c_j != 0``, so substituting ``a_j -> a_j / c_j`` shows the
    system for Y has the same rank as this exactly representable one.
    """
    X = validate(X, symmetric=False)[0]
    Q = [[Fraction(float(v)) for v in row] for row in X]
    n = len(Q)
    mu = [sum(Q[r][c] for r in range(n)) / n for c in range(n)]
    U = np.array([[Q[r][c] - mu[c] for c in range(n)] for r in range(n)], dtype=object)
    A = symmetry_system(U)
    dm = DomainMatrix([[sp.QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else sp.QQ(int(v))
                        for v in row] for row in A.tolist()], A.shape, sp.QQ)
    return A.shape[1] - dm.rank()


def alternative(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, lam: float, t: float,
                eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X', gamma', beta')`` with ``X' = lam X + t`` and ``gamma'`` chosen so ``BN(X') = BN(X)``."""
    X, gamma, beta, eps = validate(X, gamma, beta, eps)
    if not (np.isfinite(lam) and lam != 0 and np.isfinite(t)):
        raise ValueError(f"lam must be finite and nonzero and t finite, got lam={lam!r}, t={t!r}")
    s2 = X.var(axis=0)
    gamma_p = gamma * np.sqrt(lam**2 * s2 + eps) / (lam * np.sqrt(s2 + eps))
    return lam * X + t, gamma_p, beta.copy()


def z_from_y(Y: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Bob's formula, the lambdified result of `derivations.q3c_puzzle.affine_derivation`."""
    fn = affine_derivation().result.callable()  # args (Y_ji, gamma_i, gamma_j, beta_i, beta_j)
    return fn(Y.T, gamma[:, None], gamma[None, :], beta[:, None], beta[None, :])


def bob_eps0(Y: np.ndarray) -> np.ndarray:
    """Bob's reconstruction of Z when eps = 0: beta = colmean, |gamma| = colstd, signs from the null space."""
    basis, _ = null_space(Y)
    a_dir = np.linalg.svd(basis[: Y.shape[0]])[0][:, 0]  # the a-part of the null space is one line
    gamma = np.sign(a_dir) * Y.std(axis=0)  # a_j = sigma_j / gamma_j: same signs up to a global one
    return z_from_y(Y, gamma, Y.mean(axis=0))


def known_entries(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                  knows_affine: bool) -> dict[str, Any]:
    """Entries of Z unchanged by every consistent alternative ``lam X + t`` (the upper bound on the count)."""
    X, gamma, beta, eps = validate(X, gamma, beta, eps)
    Y, Z = batchnorm(X, gamma, beta, eps), layernorm(X, gamma, beta, eps)
    change, worst_y, used = np.zeros_like(Z), 0.0, []
    for lam in LAMS:
        Xp, gp, bp = alternative(X, gamma, beta, lam, SHIFT, eps)
        if knows_affine and np.max(np.abs(gp - gamma)) > TOL_INVARIANT:
            continue  # Bob would know this gamma' is not Alice's: not a consistent alternative
        worst_y = max(worst_y, float(np.max(np.abs(batchnorm(Xp, gp, bp, eps) - Y))))
        change = np.maximum(change, np.abs(layernorm(Xp, gp, bp, eps) - Z))
        used.append(lam)
    return {"mask": change <= TOL_INVARIANT, "change": change, "worst_y": worst_y, "lams": used}


def _readings(rng: np.random.Generator) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, float, bool]]:
    X, gamma, beta = alice(rng)
    one, zero = np.ones(SIDE), np.zeros(SIDE)
    return [
        ("unit_affine", "gamma = 1, beta = 0 (known)", X, one, zero, EPS, True),
        ("known_affine", "arbitrary gamma, beta known to Bob", X, gamma, beta, EPS, True),
        ("arbitrary", "arbitrary gamma, beta unknown, eps > 0", X, gamma, beta, EPS, False),
        ("arbitrary_eps0", "arbitrary gamma, beta unknown, eps = 0", X, gamma, beta, 0.0, False),
    ]


def _null_space_checks(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                       rng: np.random.Generator, trials: int) -> tuple[list[Check], dict[str, Any]]:
    Y = batchnorm(X, gamma, beta, eps)
    basis, s = null_space(Y)
    A = symmetry_system(Y - Y.mean(axis=0))
    truth = np.concatenate([np.sqrt(X.var(axis=0) + eps) / gamma, X.mean(axis=0)])
    shift = np.concatenate([np.zeros(SIDE), np.ones(SIDE)])
    res = max(np.linalg.norm(A @ v) / (s[0] * np.linalg.norm(v)) for v in (truth, shift))
    in_span = max(np.linalg.norm(v - basis @ (basis.T @ v)) / np.linalg.norm(v) for v in (truth, shift))
    exact = exact_nullity(X)
    others = [null_space(batchnorm(*alice(rng)[:2], np.zeros(SIDE), eps))[0].shape[1] for _ in range(trials)]
    coef = rng.normal(size=basis.shape[1])  # Bob's side: any null vector with a_j != 0 is an alternative
    a, m = np.split(basis @ coef, 2)
    Xb = (Y - Y.mean(axis=0)) * a + m
    gb, bb = np.sqrt(Xb.var(axis=0) + eps) / a, Y.mean(axis=0)
    lam_fit = np.linalg.lstsq(np.stack([X.ravel(), np.ones(X.size)], 1), Xb.ravel(), rcond=None)
    fit_res = float(np.max(np.abs(lam_fit[0][0] * X + lam_fit[0][1] - Xb)) / np.max(np.abs(Xb)))
    checks = [
        Check("symmetry system: float nullity is 2", basis.shape[1] == 2, float(abs(basis.shape[1] - 2)), 0.0,
              f"|nullity - 2|, nullity {basis.shape[1]} (singular values below {NULL_RTOL} x largest; "
              f"next one is {s[-3] / s[0]:.2e} x largest)"),
        Check("symmetry system: exact nullity over Q is 2", exact == 2, float(abs(exact - 2)), 0.0,
              f"|nullity - 2|, nullity {exact} (DomainMatrix rank over QQ)"),
        Check(f"nullity is 2 for {trials} more random symmetric X", all(k == 2 for k in others),
              float(max((abs(k - 2) for k in others), default=0)), 0.0, f"max |nullity - 2|; nullities {others}"),
        bound("truth (1/c, mu) and the common shift solve the system", res, TOL_FLOAT64, "|A v| / (s_max |v|)"),
        bound("null space = span(truth, shift)", in_span, TOL_FLOAT64, "relative residual of the projection"),
        compare("Bob's alternative from the null space reproduces Y", batchnorm(Xb, gb, bb, eps), Y,
                TOL_FLOAT64, "X' = U diag(a) + m from a random null vector, gamma' from its statistics"),
        bound("Bob's alternative is symmetric", float(np.max(np.abs(Xb - Xb.T)) / np.max(np.abs(Xb))),
              TOL_FLOAT64, "max |X' - X'^T| / max |X'|"),
        bound("Bob's alternative is lam X + t", fit_res, TOL_FLOAT64, f"least squares lam = {lam_fit[0][0]:.3g}"),
    ]
    return checks, {"singular_values": s.tolist(), "nullity": int(basis.shape[1]), "exact_nullity": exact,
                    "implied_lam": float(lam_fit[0][0])}


def _counts(readings: list, checks: list[Check]) -> tuple[dict[str, Any], list[list[Any]], float]:
    """Per reading: Bob's computed entries (lower bound) against the entries no alternative moves (upper)."""
    answers: dict[str, Any] = {}
    rows, masks, worst = [], {}, {}
    for key, label, Xr, g, b, eps, knows in readings:
        Y, Z = batchnorm(Xr, g, b, eps), layernorm(Xr, g, b, eps)
        up = known_entries(Xr, g, b, eps, knows)
        if knows:  # Bob applies the formula with the gamma, beta he knows
            bob = z_from_y(Y, g, b)
        elif eps == 0:
            bob = bob_eps0(Y)
        else:  # only the diagonal is free of the unknown ratios gamma_j / gamma_i
            bob = np.where(np.eye(SIDE, dtype=bool), Y, np.nan)
        low = np.isfinite(bob) & (np.abs(np.nan_to_num(bob) - Z) <= TOL_INVARIANT)
        n_up, n_low = int(up["mask"].sum()), int(low.sum())
        checks.append(bound(f"{key}: alternatives reproduce Y", up["worst_y"], TOL_INVARIANT, "max |BN(X') - Y|"))
        checks.append(Check(f"{key}: Bob's certain entries = entries no alternative changes",
                            bool(np.all(low == up["mask"])), float(np.sum(low != up["mask"])), 0.0,
                            f"lower bound {n_low} (Bob computes them), upper bound {n_up} "
                            f"(alternatives lam in {up['lams']}); error: entries where the two differ"))
        off = up["change"][~np.eye(SIDE, dtype=bool)]
        answers[f"known_{key}"], masks[key], worst[key] = n_up, up["mask"], up["worst_y"]
        rows.append([label, eps, len(up["lams"]), n_low, n_up, float(off.min()), float(np.median(off)), float(off.max())])
    diag = masks["arbitrary"] == np.eye(SIDE, dtype=bool)
    checks.append(Check("arbitrary: the known entries are exactly the diagonal", bool(np.all(diag)),
                        float(np.sum(~diag)), 0.0, "entries where the known-mask differs from the identity"))
    answers["which_known_arbitrary"] = "diagonal" if np.all(diag) else f"{int(masks['arbitrary'].sum())} entries, not the diagonal"
    return answers, rows, worst["arbitrary"]


def _alternatives(X: np.ndarray, gamma: np.ndarray, beta: np.ndarray, checks: list[Check]) -> list[list[float]]:
    """How much each ``lam X + t`` moves Z, against the derived ``(R - 1)(Z - beta)``."""
    Z = layernorm(X, gamma, beta, EPS)
    R = ambiguity_derivation().result.callable()  # R_ij(lam, sigma_i, sigma_j, eps)
    sd = X.std(axis=0)
    rows = []
    for lam in LAMS:
        Xp, gp, bp = alternative(X, gamma, beta, lam, SHIFT, EPS)
        dz = layernorm(Xp, gp, bp, EPS) - Z
        pred = (R(lam, sd[:, None], sd[None, :], EPS) - 1) * (Z - beta)
        checks.append(bound(f"lam={lam}: Z' - Z = (R - 1)(Z - beta)", float(np.max(np.abs(dz - pred))), TOL_INVARIANT,
                            "max |measured - derived| change"))
        offd = np.abs(dz[~np.eye(SIDE, dtype=bool)])
        rows.append([lam, float(np.max(np.abs(np.diag(dz)))), float(offd.min()), float(np.median(offd)), float(offd.max())])
    return rows


def check(ctx: Context) -> Section:
    """Count the entries of Z Bob knows in each reading, with lower bound = upper bound as the check."""
    rng = np.random.default_rng(ctx.seed)
    readings = _readings(rng)
    X, gamma, beta = readings[2][2:5]
    checks: list[Check] = []
    for name, g, b in (("unit", np.ones(SIDE), np.zeros(SIDE)), ("affine", gamma, beta)):  # torch in float64
        Xt, gt, bt = (torch.from_numpy(a) for a in (X, g, b))
        y_ref = F.batch_norm(Xt, None, None, weight=gt, bias=bt, training=True, eps=EPS)
        z_ref = F.layer_norm(Xt, (SIDE,), weight=gt, bias=bt, eps=EPS)
        checks.append(compare(f"local BN = F.batch_norm ({name})", batchnorm(X, g, b, EPS), y_ref, TOL_FLOAT64))
        checks.append(compare(f"local LN = F.layer_norm ({name})", layernorm(X, g, b, EPS), z_ref, TOL_FLOAT64))
    Y0 = batchnorm(X, np.ones(SIDE), np.zeros(SIDE), EPS)
    checks.append(compare("unit: Z = Y^T", layernorm(X, np.ones(SIDE), np.zeros(SIDE), EPS), Y0.T, TOL_FLOAT64,
                          "LN(X) against the transpose of BN(X), gamma = 1, beta = 0"))
    ns_checks, ns = _null_space_checks(X, gamma, beta, EPS, rng, trials=3 if ctx.quick else 20)
    checks += ns_checks
    answers, rows, worst_y = _counts(readings, checks)
    lam_rows = _alternatives(X, gamma, beta, checks)
    naive_err = float(np.max(np.abs(bob_eps0(batchnorm(X, gamma, beta, EPS)) - layernorm(X, gamma, beta, EPS))))
    cols = ["reading", "eps", "consistent alternatives", "known (Bob computes)", "known (no alternative changes)",
            "min max|dZ| off-diag", "median", "max"]
    eps_tex = f"10^{{{int(np.log10(EPS))}}}"
    return Section(
        answers=answers,
        checks=checks,
        tables={"readings": {"columns": cols, "rows": rows, "caption": f"Entries of the {SIDE}x{SIDE} Z Bob knows, "
                             f"per reading (seed {ctx.seed}); dZ over the consistent alternatives $\\lambda X + {SHIFT}$."},
                "alternatives": {"columns": ["lambda", "max |dZ| diagonal", "min |dZ| off-diag", "median", "max"],
                                 "rows": lam_rows, "caption": "How much each alternative $X' = \\lambda X + t$ "
                                 f"(same $Y$) changes $Z$, arbitrary $\\gamma, \\beta$, $\\epsilon = {eps_tex}$."}},
        metrics={**ns, "eps": EPS, "naive_eps0_recipe_error": naive_err},
        text=prose(SIDE, answers, {**ns, "worst_y": worst_y, "min_off_change": rows[2][5], "lam": LAMS[1], "shift": SHIFT,
                                   "lam_max": lam_rows[1][4], "lam_median": lam_rows[1][3],
                                   "max_diag": max(r[1] for r in lam_rows), "naive_err": naive_err, "eps_tex": eps_tex},
                   [c.name for c in checks if not c.passed], len(checks)),
    )
