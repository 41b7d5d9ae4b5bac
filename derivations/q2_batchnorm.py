"""Q2A: BatchNorm backpropagation, derived for every batch size N and checked at N = 2..8.

Result (G = dL/dY, statistics per feature j over the N examples, s_j = sqrt(sigma_j^2 + eps)):

    dL/dbeta_j  = sum_i G_ij
    dL/dgamma_j = sum_i G_ij Xhat_ij
    dL/dX_kl    = gamma_l / (N s_l) * (N G_kl - sum_i G_il - Xhat_kl sum_i G_il Xhat_il)

The D = 1 case comes first (`normalization.general_steps`, symbolic N), then the N x D case
with two-index sums (a feature's statistics depend on its own column only), then exact checks
of the full Jacobian at concrete sizes (`normalization.concrete_derivation`).
"""

from __future__ import annotations

import sympy as sp

from derivations import normalization as nz
from derivations.core import Context, Derivation, Result, Section, Step, latex
from derivations.symbols import D, N, eps, i, j, k, l

X = sp.IndexedBase("X", real=True)
G = sp.IndexedBase("G", real=True)  # G = dL/dY, the upstream gradient
Xh = sp.IndexedBase(r"\hat{X}", real=True)
gamma = sp.IndexedBase("gamma", real=True)
beta_bn = sp.IndexedBase("beta", real=True)  # BatchNorm's shift (not the optimisers' beta)
s = sp.IndexedBase("s", positive=True)  # s_j = sqrt(sigma_j^2 + eps)
m = nz.m
dl = sp.KroneckerDelta

# Aggregates of the vectorised result, so that it lambdifies to a broadcasting numeric function.
g_l, s_l, G_kl, Xh_kl = sp.symbols(r"gamma_l s_l G_{kl} \hat{X}_{kl}", real=True)
S_G, S_GX = sp.symbols("S_G S_{GX}", real=True)  # S_G = sum_i G_il, S_GX = sum_i G_il Xhat_il
DX_AGGREGATE = g_l / (N * s_l) * (N * G_kl - S_G - Xh_kl * S_GX)
DX_ARGS = (g_l, s_l, G_kl, Xh_kl, S_G, S_GX, N)

DBETA = sp.Sum(G[i, l], (i, 1, N))
DGAMMA = sp.Sum(G[i, l] * Xh[i, l], (i, 1, N))
DX = (
    gamma[l]
    / (N * s[l])
    * (N * G[k, l] - sp.Sum(G[i, l], (i, 1, N)) - Xh[k, l] * sp.Sum(G[i, l] * Xh[i, l], (i, 1, N)))
)
JACOBIAN = dl(j, l) * (dl(i, k) - 1 / N - Xh[i, j] * Xh[k, j] / N) / s[j]
DX_MATRIX = (
    r"\frac{\partial L}{\partial X} = \frac{1}{N}\,(\gamma \odot s^{-1})^{\top} \odot"
    r" \left(N G - \mathbf{1}\mathbf{1}^{\top} G - \hat{X} \odot \mathbf{1}\mathbf{1}^{\top}(G \odot \hat{X})\right)"
)

CONCRETE_SIZES = tuple((n, 2) for n in range(2, 9))  # (N, D): the Jacobian at every N from 2 to 8
QUICK_SIZES = CONCRETE_SIZES[:3]
GRADIENT_SIZES = frozenset(QUICK_SIZES)  # where dL/dX, dL/dgamma, dL/dbeta are also checked
# Random exact points per substitution check: 4 at the gradient sizes, 3 for the larger Jacobians (a
# nonzero algebraic function of 11 or more variables almost surely does not vanish at random points; the general-N
# derivation carries the proof, these are the cross-check).


def _column_stats(c: sp.Symbol) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    mu = sp.Sum(X[m, c], (m, 1, N)) / N
    var = sp.Sum((X[m, c] - mu) ** 2, (m, 1, N)) / N
    return mu, var, sp.sqrt(var + eps)


def one_feature() -> Derivation:
    """D = 1: one column x of N values, for symbolic N."""
    return Derivation(
        "q2a_one_feature",
        "The D = 1 case, for every batch size N",
        nz.general_steps(N, i, k),
        Result("dx", nz.grad_entry(k, N, i=i), ()),
        statement=r"For one feature ($D = 1$) with $h_i = \partial L / \partial \hat{x}_i = \gamma G_i$:"
        r" $\partial L / \partial x_k = \frac{1}{N s}\left(N h_k - \sum_i h_i - \hat{x}_k \sum_i h_i \hat{x}_i\right)$.",
        argument=r"Every step is an identity in a symbolic $N$ with sums written as $\sum_{m=1}^{N}$ over indexed"
        r" entries; the derivative of an entry $x_m$ by $x_k$ is $\delta_{mk}$, and SymPy evaluates the"
        r" Kronecker sums for $1 \le k \le N$. No step depends on a particular $N$.",
    )


def all_features() -> Derivation:
    """N x D: statistics per column; the column index travels along as a Kronecker delta."""
    mu, var, sd = _column_stats(j)
    xhat = lambda r: (X[r, j] - mu) / sd  # noqa: E731 - a one-line definition reads best here
    loss = sp.Sum(sp.Sum(G[i, j] * (gamma[j] * Xh[i, j] + beta_bn[j]), (j, 1, D)), (i, 1, N))
    chain = sp.Sum(sp.Sum(G[i, j] * gamma[j] * JACOBIAN, (j, 1, D)), (i, 1, N))
    steps = [
        Step(
            nz.labelled(nz.evaluate(sp.diff(mu, X[k, l]), N), r"\frac{\partial \mu_j}{\partial X_{kl}}"),
            dl(j, l) / N,
            r"$\mu_j$ reads column $j$ only: $\partial \mu_j / \partial X_{kl} = \delta_{jl} / N$",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(var, X[k, l]), N), r"\frac{\partial \sigma_j^2}{\partial X_{kl}}"
            ),
            2 * dl(j, l) * (X[k, j] - mu) / N,
            r"$\partial \sigma_j^2 / \partial X_{kl} = 2 \delta_{jl} (X_{kj} - \mu_j) / N$, as for $D = 1$",
            kind="jacobian",
        ),
        Step(
            nz.labelled(
                nz.in_range(sp.diff(xhat(i), X[k, l]).doit(), N),
                r"\frac{\partial \hat{X}_{ij}}{\partial X_{kl}}",
            ),
            dl(j, l) * (dl(i, k) - 1 / N - xhat(i) * xhat(k) / N) / sd,
            r"the Jacobian is block diagonal: $\partial \hat{X}_{ij} / \partial X_{kl} = \delta_{jl} (\delta_{ik} - \frac{1}{N} - \frac{\hat{X}_{ij} \hat{X}_{kj}}{N}) / s_j$",
            kind="jacobian",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(loss, beta_bn[l]), (N, D)), r"\frac{\partial L}{\partial \beta_l}"
            ),
            DBETA,
            r"$Y_{ij} = \gamma_j \hat{X}_{ij} + \beta_j$, so $\partial L / \partial \beta_l = \sum_{ij} G_{ij} \delta_{jl}$",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(loss, gamma[l]), (N, D)), r"\frac{\partial L}{\partial \gamma_l}"
            ),
            DGAMMA,
            r"$\partial L / \partial \gamma_l = \sum_{ij} G_{ij} \hat{X}_{ij} \delta_{jl}$",
        ),
        Step(
            nz.labelled(nz.evaluate(chain, (N, D)), r"\frac{\partial L}{\partial X_{kl}}"),
            DX,
            r"chain rule $\partial L / \partial X_{kl} = \sum_{ij} G_{ij} \gamma_j \, \partial \hat{X}_{ij} / \partial X_{kl}$;"
            r" $\delta_{jl}$ keeps column $l$ and $\gamma_l$ leaves the sum",
        ),
    ]
    return Derivation(
        "q2a_all_features",
        "N x D: every feature, vectorised",
        steps,
        Result("dX", DX_AGGREGATE, DX_ARGS),
        statement=r"For an $N \times D$ batch, $\partial L / \partial X_{kl} = \frac{\gamma_l}{N s_l}\left(N G_{kl} - S_G"
        r" - \hat{X}_{kl} S_{GX}\right)$ with $s_l = \sqrt{\sigma_l^2 + \epsilon}$, $S_G = \sum_i G_{il}$ and"
        r" $S_{GX} = \sum_i G_{il} \hat{X}_{il}$ (the exported result, a broadcasting numeric function of these).",
        argument=r"Symbolic $N$ and $D$: the two-index sums run over $1 \le m \le N$ and $1 \le j \le D$, and the"
        r" derivative of $X_{mj}$ by $X_{kl}$ is $\delta_{mk} \delta_{jl}$, so the result holds for every size.",
    )


def concrete(sizes: tuple[tuple[int, int], ...]) -> list[Derivation]:
    return [
        nz.concrete_derivation(
            0,
            n,
            d,
            f"q2a_concrete_N{n}_D{d}",
            f"Concrete check, N = {n}, D = {d}",
            gradients=(n, d) in GRADIENT_SIZES,
            points=4 if (n, d) in GRADIENT_SIZES else 3,
            closed_tex=(latex(JACOBIAN), latex(DX)),
        )
        for n, d in sizes
    ]


def derive(ctx: Context) -> Section:
    sizes = QUICK_SIZES if ctx.quick else CONCRETE_SIZES
    n_max = max(n for n, _ in sizes)
    text = {
        "answer": (  # the three requested gradients, in the problem's order, with G = dL/dY
            r"With $G = \partial \mathcal{L} / \partial Y$ given: the gradient of $\beta$ is "
            rf"$\frac{{\partial \mathcal{{L}}}}{{\partial \beta_l}} = {latex(DBETA)}$, the gradient of $\gamma$ is "
            rf"$\frac{{\partial \mathcal{{L}}}}{{\partial \gamma_l}} = {latex(DGAMMA)}$, and the gradient signal for the input is "
            rf"$$\frac{{\partial \mathcal{{L}}}}{{\partial X_{{kl}}}} = {latex(DX)}$$ "
            r"where $\hat{X}$ is the normalised input, $s_l = \sqrt{\sigma_l^2 + \epsilon}$ and $\sigma_l^2$ is the batch variance"
            r" of feature $l$. The derivation follows."
        ),
        "one_feature": (
            r"Start with $D = 1$: a column $x \in \mathbb{R}^N$, $\mu = \frac{1}{N}\sum_m x_m$, $\sigma^2 = \frac{1}{N}\sum_m (x_m - \mu)^2$"
            r" and $\hat{x}_i = (x_i - \mu)/s$ with $s = \sqrt{\sigma^2 + \epsilon}$. Then $\partial \mu / \partial x_k = 1/N$ and, because"
            r" the centred values sum to zero, $\partial \sigma^2 / \partial x_k = 2 (x_k - \mu)/N$."
        ),
        "jacobian": (
            r"The quotient rule gives the Jacobian in index notation, $\frac{\partial \hat{x}_i}{\partial x_k} = \frac{1}{s}\left(\delta_{ik}"
            r" - \frac{1}{N} - \frac{\hat{x}_i \hat{x}_k}{N}\right)$, i.e. $\frac{1}{s}(I - \frac{1}{N}\mathbf{1}\mathbf{1}^{\top}"
            r" - \frac{1}{N}\hat{x}\hat{x}^{\top})$: symmetric, with $\mathbf{1}$ and $\hat{x}$ in its null space."
        ),
        "chain_rule": (
            r"With $Y_{ij} = \gamma_j \hat{X}_{ij} + \beta_j$ and $G = \partial L / \partial Y$: $\partial L / \partial \beta_j = \sum_i G_{ij}$,"
            r" $\partial L / \partial \gamma_j = \sum_i G_{ij} \hat{X}_{ij}$, and $\partial L / \partial \hat{X}_{ij} = \gamma_j G_{ij}$."
            r" Each feature's statistics depend on its own column only, so the $ND \times ND$ Jacobian is block diagonal and the"
            r" chain rule sums over the batch index alone; $\gamma_l$ is constant in that sum and factors out."
        ),
        "vectorised": (
            rf"Vectorised over $N \times D$: $${DX_MATRIX}$$ with the row vectors $\sum_i G_{{ij}}$ and $\sum_i G_{{ij}} \hat{{X}}_{{ij}}$"
            r" (i.e. $\partial L / \partial \beta$ and $\partial L / \partial \gamma$) broadcast over the rows. Computing them first, the"
            r" input gradient takes two passes over the batch."
        ),
        "how_verified": (
            r"Each step above is an exact SymPy identity for symbolic $N$ and $D$. In addition, the full Jacobian"
            rf" $\partial \hat{{X}} / \partial X$ of a concrete $N \times 2$ input, obtained by differentiating the forward pass, matches"
            rf" the closed form by exact rational substitution for every $N$ from 2 to {n_max}, and so do the gradients of"
            r" $L = \sum_{ij} G_{ij} Y_{ij}$ at the smallest sizes."
        ),
    }
    answers = {  # LaTeX in $...$ or $$...$$ (rendered as math); dx_sympy is SymPy's own string
        "dbeta": rf"$\frac{{\partial L}}{{\partial \beta_l}} = {latex(DBETA)}$",
        "dgamma": rf"$\frac{{\partial L}}{{\partial \gamma_l}} = {latex(DGAMMA)}$",
        "dx": rf"$$\frac{{\partial L}}{{\partial X_{{kl}}}} = {latex(DX)}$$",
        "dx_matrix": f"$${DX_MATRIX}$$",
        "jacobian": rf"$$\frac{{\partial \hat{{X}}_{{ij}}}}{{\partial X_{{kl}}}} = {latex(JACOBIAN)}$$",
        "dx_sympy": sp.sstr(DX.xreplace({Xh: sp.IndexedBase("Xhat", real=True)})),  # a plain name, not LaTeX
    }
    return Section(
        answers=answers,
        derivations=[one_feature(), all_features(), *concrete(sizes)],
        metrics={
            "concrete_sizes": [list(sz) for sz in sizes],
            "gradient_sizes": sorted(list(sz) for sz in GRADIENT_SIZES if sz in sizes),
        },
        text=text,
    )
