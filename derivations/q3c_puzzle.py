"""Q3C: the BatchNorm/LayerNorm puzzle. For symmetric ``X``, ``LN(X) = BN(X)^T``.

With ``gamma = 1, beta = 0`` Bob reads ``Z = Y^T``: all 256 entries. With arbitrary affine
parameters ``Z_ij = gamma_j (Y_ji - beta_i) / gamma_i + beta_j``: the diagonal ``Z_ii = Y_ii``
needs nothing else (a lower bound of 16), and every ``X' = lam X + t`` (with matching ``gamma'``)
reproduces ``Y`` while scaling ``Z_ij - beta_j`` by ``R_ij(lam)``; for ``eps > 0``, ``R_ij != 1``
off the diagonal unless ``lam^2 = 1`` (``R^2 - 1`` factors), so no off-diagonal entry is certain
(the upper bound): exactly the 16 diagonal entries. At ``eps = 0``, ``R = 1``. `proof_text` is
the argument as prose; the numeric side (`numeric.q3c_puzzle`) counts the entries and shows that
these ``X'`` are the only alternatives (a null space).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step
from derivations.normalization import group_stats, normalise
from derivations.symbols import eps

STATS_SIZES = (3, 4)  # symmetric sizes at which the row/column statistics are compared entry by entry
MATRIX_SIZE = 2  # size of the full-matrix identities (they are printed, so kept small)

lam = sp.Symbol("lambda", real=True, nonzero=True)  # scale of the alternative X' = lam X + t
t_shift = sp.Symbol("t", real=True)
x = sp.Symbol("x", real=True)
mu_i, mu_j = sp.symbols("mu_i mu_j", real=True)
s_i, s_j = sp.symbols("sigma_i sigma_j", positive=True)
g_i, g_j = sp.symbols("gamma_i gamma_j", real=True, nonzero=True)
b_i, b_j = sp.symbols("beta_i beta_j", real=True)


def symmetric_matrix(n: int) -> sp.Matrix:
    """An ``n x n`` symmetric matrix of real symbols ``x_ij`` (``i <= j``)."""
    return sp.Matrix(n, n, lambda a, b: sp.Symbol(f"x_{min(a, b) + 1}{max(a, b) + 1}", real=True))


def _affine(xhat: sp.Matrix, gamma: sp.Matrix, beta: sp.Matrix) -> sp.Matrix:
    return sp.Matrix(xhat.rows, xhat.cols, lambda r, c: gamma[c] * xhat[r, c] + beta[c])


def batchnorm(X: sp.Matrix, gamma: sp.Matrix, beta: sp.Matrix) -> sp.Matrix:
    """Column statistics (biased variance, `normalisation.normalise` axis 0), then ``gamma_j x + beta_j``; ``gamma, beta: (1, D)``."""
    return _affine(normalise(X, 0)[0], gamma, beta)


def layernorm(X: sp.Matrix, gamma: sp.Matrix, beta: sp.Matrix) -> sp.Matrix:
    """Row statistics (`normalisation.normalise` axis 1, read off the rows), then the same per-column affine map."""
    return _affine(normalise(X, 1)[0], gamma, beta)


def ratio_sq_minus_one() -> sp.Expr:
    """``R_ij^2 - 1`` factored: zero iff ``eps = 0``, ``lam^2 = 1`` or ``sigma_i = sigma_j``."""
    return eps * (lam**2 - 1) * (s_j**2 - s_i**2) / ((s_j**2 + eps) * (lam**2 * s_i**2 + eps))


def ratio(lam_: sp.Expr = lam, e: sp.Expr = eps) -> sp.Expr:
    """``R_ij``: the factor by which ``Z_ij - beta_j`` changes under ``X -> lam X + t``."""
    return sp.sqrt(lam_**2 * s_j**2 + e) * sp.sqrt(s_i**2 + e) / (sp.sqrt(s_j**2 + e) * sp.sqrt(lam_**2 * s_i**2 + e))


def gamma_prime(sigma: sp.Expr, gamma: sp.Expr, e: sp.Expr = eps) -> sp.Expr:
    """The ``gamma'_j`` that makes ``BN(lam X + t)`` equal ``BN(X)`` column by column."""
    return gamma * sp.sqrt(lam**2 * sigma**2 + e) / (lam * sp.sqrt(sigma**2 + e))


def z_entry(y_ji: sp.Expr, gamma_i: sp.Expr, gamma_j: sp.Expr, beta_i: sp.Expr, beta_j: sp.Expr) -> sp.Expr:
    """Bob's formula for one entry: ``Z_ij = gamma_j (Y_ji - beta_i) / gamma_i + beta_j``."""
    return gamma_j * (y_ji - beta_i) / gamma_i + beta_j


def z_from_y(Y: sp.Matrix, gamma: sp.Matrix, beta: sp.Matrix) -> sp.Matrix:
    """`z_entry` for every ``(i, j)`` (symmetric X, same affine map in BN and LN)."""
    n = Y.rows
    return sp.Matrix(n, n, lambda r, c: z_entry(Y[c, r], gamma[r], gamma[c], beta[r], beta[c]))


def _stats(groups: list[sp.Matrix]) -> tuple[sp.Matrix, sp.Matrix]:
    """(means, variances) of the given groups, by `normalisation.group_stats`."""
    means, variances = zip(*(group_stats(list(g)) for g in groups), strict=True)
    return sp.Matrix(means), sp.Matrix(variances)


def unit_derivation() -> Derivation:
    steps = []
    for n in STATS_SIZES:
        X = symmetric_matrix(n)
        (mu_r, var_r) = _stats([X[r, :] for r in range(n)])
        (mu_c, var_c) = _stats([X[:, c] for c in range(n)])
        steps.append(Step(mu_r, mu_c, rf"$X = X^T$: row means $\mu^{{LN}}_i$ are column means $\mu^{{BN}}_i$, $n={n}$"))
        steps.append(Step(var_r, var_c, rf"and row variances are column variances, $\sigma^{{LN}}_i = \sigma^{{BN}}_i$, $n={n}$"))
    n = MATRIX_SIZE
    X, one, zero = symmetric_matrix(n), sp.ones(1, n), sp.zeros(1, n)
    steps.append(Step(layernorm(X, one, zero), batchnorm(X, one, zero).T,
                      rf"same statistics, so $Z_{{ij}} = \hat X_{{ji}}^{{BN}} = Y_{{ji}}$ for $\gamma=1,\beta=0$, $n={n}$"))
    return Derivation(
        "q3c_unit", "Symmetric X: LayerNorm is the transpose of BatchNorm", steps,
        Result("Z", sp.MatrixSymbol("Y", 16, 16).T, (sp.MatrixSymbol("Y", 16, 16),)),
        statement=r"For symmetric $X$ and $\gamma = 1$, $\beta = 0$ (any $\epsilon \ge 0$): $Z = LN(X) = BN(X)^T = Y^T$.",
        argument=(r"For any $n$: $\mu^{LN}_i = \frac{1}{n}\sum_j X_{ij} = \frac{1}{n}\sum_j X_{ji} = \mu^{BN}_i$ and "
                  r"likewise $\sigma^{LN}_i = \sigma^{BN}_i$, so $Z_{ij} = (X_{ij} - \mu_i)/\sqrt{\sigma_i^2 + \epsilon} "
                  r"= (X_{ji} - \mu_i)/\sqrt{\sigma_i^2+\epsilon} = Y_{ji}$. Bob computes $Y^T$: all $n^2$ entries."),
    )


def affine_derivation() -> Derivation:
    steps = []
    for n in (MATRIX_SIZE,):  # the full matrices are printed, so keep them small; the argument covers any n
        X = symmetric_matrix(n)
        gam = sp.Matrix(1, n, lambda _, c: sp.Symbol(f"gamma_{c + 1}", real=True, nonzero=True))
        bet = sp.Matrix(1, n, lambda _, c: sp.Symbol(f"beta_{c + 1}", real=True))
        Y, Z = batchnorm(X, gam, bet), layernorm(X, gam, bet)
        steps.append(Step(Z, z_from_y(Y, gam, bet), rf"$Z_{{ij}} = \gamma_j \hat X^{{BN}}_{{ji}} + \beta_j$ and "
                                                    rf"$\hat X^{{BN}}_{{ji}} = (Y_{{ji}} - \beta_i)/\gamma_i$, $n={n}$"))
        steps.append(Step(sp.Matrix([Z[r, r] for r in range(n)]), sp.Matrix([Y[r, r] for r in range(n)]),
                          rf"on the diagonal the ratio $\gamma_i/\gamma_i$ cancels: $Z_{{ii}} = Y_{{ii}}$, $n={n}$"))
        steps.append(Step(sp.Matrix([[sum(Y[:, c]) / n for c in range(n)]]), bet,
                          rf"a normalised column has mean 0, so $\beta_j$ is the column mean of $Y$, $n={n}$"))
    return Derivation(
        "q3c_affine", "Arbitrary gamma, beta: Z from Y", steps,
        Result("Z_ij", z_entry(sp.Symbol("Y_ji"), g_i, g_j, b_i, b_j), (sp.Symbol("Y_ji"), g_i, g_j, b_i, b_j)),
        statement=(r"$Z_{ij} = \gamma_j (Y_{ji} - \beta_i)/\gamma_i + \beta_j$; $\beta$ is read off $Y$, the diagonal "
                   r"$Z_{ii} = Y_{ii}$ is known whatever $\gamma$ is, the rest needs the ratios $\gamma_j/\gamma_i$."),
        argument=(r"For any $n$ the first identity is the transpose relation of the unit case applied to $\hat X$; "
                  r"column means of $\hat X^{BN}$ vanish for every $\epsilon$, so $\beta_j = \frac{1}{n}\sum_i Y_{ij}$."),
    )


def ambiguity_derivation() -> Derivation:
    n = 3
    col = sp.Matrix(sp.symbols(f"c_1:{n + 1}", real=True))
    mean, var = group_stats(list(col))
    new = lam * col + t_shift * sp.ones(n, 1)
    new_mean, new_var = group_stats(list(new))
    gp = gamma_prime(s_j, g_j)
    R = ratio()
    steps = [
        Step(new_mean, lam * mean + t_shift, r"$X' = \lambda X + t\,\mathbf{1}\mathbf{1}^T$ (symmetric): means map to $\lambda\mu + t$"),
        Step(new_var, lam**2 * var, r"and variances to $\lambda^2\sigma^2$ (rows and columns alike)"),
        Step(gp * (lam * x + t_shift - (lam * mu_j + t_shift)) / sp.sqrt(lam**2 * s_j**2 + eps) + b_j,
             g_j * (x - mu_j) / sp.sqrt(s_j**2 + eps) + b_j,
             r"with $\gamma'_j = \gamma_j \sqrt{\lambda^2\sigma_j^2+\epsilon}/(\lambda\sqrt{\sigma_j^2+\epsilon})$, "
             r"$\beta' = \beta$: $BN(X') = BN(X) = Y$"),
        Step((gp * (lam * x + t_shift - (lam * mu_i + t_shift)) / sp.sqrt(lam**2 * s_i**2 + eps)),
             R * g_j * (x - mu_i) / sp.sqrt(s_i**2 + eps),
             r"but $Z'_{ij} - \beta_j = R_{ij}(\lambda)\,(Z_{ij} - \beta_j)$ with $R_{ij}$ the result below"),
        Step(R**2 - 1, ratio_sq_minus_one(),
             r"$R_{ij}^2 - 1$ factors: nonzero iff $\epsilon > 0$, $\lambda^2 \neq 1$ and $\sigma_i \neq \sigma_j$"),
        Step(sp.Subs(R, s_i, s_j), 1, r"$i = j$: $R_{ii} = 1$, the diagonal never changes"),
        Step(sp.Subs(R, eps, 0), 1, r"$\epsilon = 0$: $R_{ij} = |\lambda|\sigma_j\sigma_i/(\sigma_j|\lambda|\sigma_i) = 1$: every entry is fixed"),
        Step(sp.Limit(R, lam, 0), sp.sqrt(s_i**2 + eps) / sp.sqrt(s_j**2 + eps),
             r"$R$ is even in $\lambda$; $\lambda \to 0$: $R_{ij} \to \sqrt{\sigma_i^2+\epsilon}/\sqrt{\sigma_j^2+\epsilon}$, an $O(1)$ change for every $\epsilon > 0$"),
        Step((gp / g_j) ** 2 - 1, eps * (1 - lam**2) / (lam**2 * (s_j**2 + eps)),
             r"if Bob knows $\gamma$ ($\gamma' = \gamma$) and $\epsilon > 0$ then $\lambda^2 = 1$ (and $\lambda > 0$): $X' = X + t$"),
    ]
    return Derivation(
        "q3c_ambiguity", "Alternatives that reproduce Y, and what they change in Z", steps,
        Result("R_ij", R, (lam, s_i, s_j, eps)),
        statement=(r"Every $X' = \lambda X + t$ with matching $\gamma'$ gives the same $Y$; $Z'_{ij} - \beta_j = "
                   r"R_{ij}(\lambda)(Z_{ij} - \beta_j)$, with $R_{ij} \ne 1$ off the diagonal when $\epsilon > 0$, $\lambda^2 \ne 1$."),
        argument=(r"The statistics steps are shown for a column of length 3; they are linear in the entries, so hold "
                  r"for any length. The remaining steps are scalar identities in $\sigma_i, \sigma_j, \lambda, \epsilon$."),
    )


def proof_text(side: int) -> dict[str, str]:
    """The argument for both counts, as prose for an ``side x side`` matrix (formulas from the derivations)."""
    n, off = side, side * side - side
    return {
        "unit_case": (
            rf"Why all ${n}^2 = {n * n}$ when $\gamma = 1$, $\beta = 0$: $X$ is symmetric, so row $i$ of $X$ is column "
            r"$i$, and LayerNorm's statistics of row $i$ ($\mu_i$, $\sigma_i^2$) are BatchNorm's statistics of column $i$. "
            r"Hence $\hat X^{LN}_{ij} = (X_{ij} - \mu_i)/\sqrt{\sigma_i^2 + \epsilon} = (X_{ji} - \mu_i)/\sqrt{\sigma_i^2 + "
            r"\epsilon} = \hat X^{BN}_{ji}$ for every $\epsilon$, i.e. $\hat X^{LN} = (\hat X^{BN})^T$. With $\gamma = 1$, "
            r"$\beta = 0$ the outputs are the normalised matrices themselves, so $Z = Y^T$ and Bob computes every entry."
        ),
        "diagonal": (
            rf"Why the {n} diagonal entries are still known for arbitrary $\gamma, \beta$: $Y_{{ji}} = \gamma_i \hat X^{{BN}}_{{ji}}"
            r" + \beta_i$ and $Z_{ij} = \gamma_j \hat X^{LN}_{ij} + \beta_j = \gamma_j \hat X^{BN}_{ji} + \beta_j$, so "
            r"$Z_{ij} = \gamma_j (Y_{ji} - \beta_i)/\gamma_i + \beta_j$. For $i = j$ the unknown ratio cancels: $Z_{ii} = "
            r"Y_{ii}$, whatever $\gamma$ and $\beta$ are. ($\beta$ itself is no obstacle: every column of $\hat X^{BN}$ has "
            r"mean 0, so $\beta_j$ is the mean of column $j$ of $Y$.) An off-diagonal $Z_{ij}$ needs the ratio $\gamma_j/\gamma_i$."
        ),
        "off_diagonal": (
            rf"Why none of the other {off} entries is certain (Bob knows $\epsilon > 0$ but not $\gamma$): for any $\lambda \ne 0$ and $t$ "
            r"the matrix $X' = \lambda X + t$ is symmetric, its column means are $\lambda\mu_j + t$ and variances "
            r"$\lambda^2\sigma_j^2$, and with $\gamma'_j = \gamma_j\sqrt{\lambda^2\sigma_j^2 + \epsilon}/(\lambda\sqrt{\sigma_j^2 + "
            r"\epsilon})$, $\beta' = \beta$ it gives exactly the same $Y$: Bob cannot tell it from Alice's $X$. Its LayerNorm "
            rf"output is $Z'_{{ij}} - \beta_j = R_{{ij}}(\lambda)\,(Z_{{ij}} - \beta_j)$ with $R_{{ij}}(\lambda) = {sp.latex(ratio())}"
            rf" > 0$ and $R_{{ij}}^2 - 1 = {sp.latex(ratio_sq_minus_one())}$. For $\epsilon > 0$ and $\lambda^2 \ne 1$ this is nonzero "
            r"whenever $\sigma_i \ne \sigma_j$, so $Z'_{ij} \ne Z_{ij}$ whenever also $Z_{ij} \ne \beta_j$ (i.e. $X_{ij} \ne "
            r"\mu_i$). For a random $X$ both hold for every pair $i \ne j$ with probability one, so every off-diagonal entry has "
            r"at least two values consistent with $Y$. Lower and upper bound meet: Bob knows exactly the diagonal."
        ),
    }


def prose(side: int, answers: dict[str, Any], num: dict[str, Any], failed: list[str], n_checks: int) -> dict[str, str]:
    """Q3C's text in order: the answer, the proof (`proof_text`), then what the numeric side measured.

    ``answers``: the counts (``known_*``, ``which_known_arbitrary``); ``num``: the measured numbers
    named in the sentences (null-space dimensions, changes of Z under the alternatives, ...).
    """
    confirm = (f"All {n_checks} numeric checks pass." if not failed else
               f"{len(failed)} of {n_checks} numeric checks FAIL ({'; '.join(failed)}): the counts are not confirmed.")
    k = num["exact_nullity"]
    return {
        "answer": (f"With $\\gamma = 1$, $\\beta = 0$ Bob knows all {answers['known_unit_affine']} entries of $Z$: "
                   f"$Z = Y^T$. With arbitrary $\\gamma, \\beta$ unknown to him (and the definition's $\\epsilon > 0$) he "
                   f"knows exactly {answers['known_arbitrary']} entries: the {answers['which_known_arbitrary']}, $Z_{{ii}} = Y_{{ii}}$."),
        **proof_text(side),
        "numbers": (f"On Alice's random ${side} \\times {side}$ matrix (table): the alternatives $\\lambda X + {num['shift']}$ "
                    f"reproduce $Y$ to within {num['worst_y']:.1e} and move every off-diagonal entry of $Z$ (at $\\lambda = "
                    f"{num['lam']}$ by up to {num['lam_max']:.2f}, median {num['lam_median']:.2f}; each off-diagonal entry moves "
                    f"by at least {num['min_off_change']:.1e} for some $\\lambda$), the diagonal by at most {num['max_diag']:.1e}. "
                    + confirm),
        "uniqueness": (
            "Are there other alternatives? Inverting BatchNorm column by column leaves one unknown scale and shift per "
            "column, $X'_{ij} = a_j U_{ij} + m_j$ with $U_{ij} = Y_{ij} - \\bar Y_j$ ($\\bar Y_j$ the mean of column $j$), "
            f"and symmetry of $X'$ is a homogeneous linear system in $(a, m)$: {side * (side - 1) // 2} equations, "
            f"{2 * side} unknowns. Its null space has dimension {num['nullity']} (exact rank over $\\mathbb{{Q}}$: nullity "
            f"{k}), spanned by the truth and a common shift, so the consistent inputs are exactly $X' = \\lambda X + t$. "
            f"Nullity {k} means a nonzero minor of size {2 * side - k}; minors are polynomials in the entries of $X$ and "
            "this one is nonzero at Alice's $X$, so it is nonzero for almost every symmetric $X$."),
        "readings": (f"If Bob knows $\\gamma$ and $\\beta$, $\\gamma' = \\gamma$ forces $\\lambda = 1$ and "
                     f"he knows all {answers['known_known_affine']}. At $\\epsilon = 0$ the ratio $R_{{ij}}$ is 1 and he knows "
                     f"all {answers['known_arbitrary_eps0']}: $\\beta$ is the column mean of $Y$, $|\\gamma_j|$ its column "
                     "standard deviation and the relative signs come from the null space. With PyTorch's "
                     f"$\\epsilon = {num['eps_tex']}$ that recipe is off by {num['naive_err']:.1e}: a good guess, not "
                     "certainty, because for every $\\epsilon > 0$ a small enough $\\lambda$ changes the off-diagonal "
                     "entries by $O(1)$."),
    }


def derive(ctx: Context) -> Section:
    """The three Q3C derivations (the counts and the prose come with `numeric.q3c_puzzle`)."""
    return Section(derivations=[unit_derivation(), affine_derivation(), ambiguity_derivation()])
