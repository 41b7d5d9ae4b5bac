"""Q3A: LayerNorm backpropagation, derived for every feature count D and checked at D = 2..8.

LayerNorm normalises each example (row i) over its D features, while gamma, beta stay per
feature (length D, as ``torch.nn.LayerNorm(D)``). With G = dL/dY, s_i = sqrt(sigma_i^2 + eps):

    dL/dbeta_l  = sum_i G_il                      (as for BatchNorm)
    dL/dgamma_l = sum_i G_il Xhat_il              (as for BatchNorm)
    dL/dX_kl    = (D gamma_l G_kl - sum_j gamma_j G_kj - Xhat_kl sum_j gamma_j G_kj Xhat_kj) / (D s_k)

The normalisation is BatchNorm's on the transpose (the one-group derivation with n = D is
reused), but gamma now varies along the normalised axis, so it stays inside the sums: the
upstream gradient on Xhat is h = gamma * G, not a multiple of G.
"""

from __future__ import annotations

import sympy as sp

from derivations import normalization as nz
from derivations.core import Context, Derivation, Result, Section, Step, latex
from derivations.symbols import D, N, eps, i, j, k, l

X = sp.IndexedBase("X", real=True)
G = sp.IndexedBase("G", real=True)
Xh = sp.IndexedBase(r"\hat{X}", real=True)
gamma = sp.IndexedBase("gamma", real=True)
beta_ln = sp.IndexedBase("beta", real=True)  # LayerNorm's shift (not the optimisers' beta)
s = sp.IndexedBase("s", positive=True)  # s_i = sqrt(sigma_i^2 + eps)
m = nz.m
dl = sp.KroneckerDelta

# Aggregates of the vectorised result: h = gamma * G, row sums S_h = sum_j h_kj, S_hX = sum_j h_kj Xhat_kj.
s_k, h_kl, Xh_kl = sp.symbols(r"s_k h_{kl} \hat{X}_{kl}", real=True)
S_h, S_hX = sp.symbols("S_h S_{hX}", real=True)
DX_AGGREGATE = (D * h_kl - S_h - Xh_kl * S_hX) / (D * s_k)
DX_ARGS = (s_k, h_kl, Xh_kl, S_h, S_hX, D)

DBETA = sp.Sum(G[i, l], (i, 1, N))
DGAMMA = sp.Sum(G[i, l] * Xh[i, l], (i, 1, N))
DX = (
    D * gamma[l] * G[k, l]
    - sp.Sum(gamma[j] * G[k, j], (j, 1, D))
    - Xh[k, l] * sp.Sum(gamma[j] * G[k, j] * Xh[k, j], (j, 1, D))
) / (D * s[k])
JACOBIAN = dl(i, k) * (dl(j, l) - 1 / D - Xh[i, j] * Xh[i, l] / D) / s[i]
DX_MATRIX = (
    r"\frac{\partial L}{\partial X} = \frac{1}{D}\,s^{-1} \odot \left(D H - H\mathbf{1}\mathbf{1}^{\top}"
    r" - \hat{X} \odot (H \odot \hat{X})\mathbf{1}\mathbf{1}^{\top}\right), \quad H = G \odot \mathbf{1}\gamma^{\top}"
)

CONCRETE_SIZES = tuple((2, d) for d in range(2, 9))  # (N, D): the Jacobian at every D from 2 to 8
QUICK_SIZES = CONCRETE_SIZES[:3]
GRADIENT_SIZES = frozenset(QUICK_SIZES)  # where gamma's placement inside the sums is checked


def one_example() -> Derivation:
    """One row of D features: the BatchNorm one-group derivation with n = D."""
    return Derivation(
        "q3a_one_example",
        "One example (N = 1), for every feature count D",
        nz.general_steps(D, j, l),
        Result("dx", nz.grad_entry(l, D, i=j), ()),
        statement=r"For one example with $h_j = \partial L / \partial \hat{x}_j = \gamma_j G_j$:"
        r" $\partial L / \partial x_l = \frac{1}{D s}\left(D h_l - \sum_j h_j - \hat{x}_l \sum_j h_j \hat{x}_j\right)$.",
        argument=r"The same steps as BatchNorm's $D = 1$ case with the group size $N$ replaced by $D$: the"
        r" normalisation only sees a vector of numbers, not which axis it came from. The sums run to a symbolic $D$.",
    )


def all_examples() -> Derivation:
    """N x D: statistics per row; the row index travels along as a Kronecker delta."""
    mu = sp.Sum(X[i, m], (m, 1, D)) / D
    var = sp.Sum((X[i, m] - mu) ** 2, (m, 1, D)) / D
    sd = sp.sqrt(var + eps)
    xhat = lambda c: (X[i, c] - mu) / sd  # noqa: E731 - a one-line definition reads best here
    loss = sp.Sum(sp.Sum(G[i, j] * (gamma[j] * Xh[i, j] + beta_ln[j]), (j, 1, D)), (i, 1, N))
    # The batch sum (over i, picked by delta_ik) innermost, so SymPy evaluates it first.
    chain = sp.Sum(sp.Sum(G[i, j] * gamma[j] * JACOBIAN, (i, 1, N)), (j, 1, D))
    steps = [
        Step(
            nz.labelled(nz.evaluate(sp.diff(mu, X[k, l]), D), r"\frac{\partial \mu_i}{\partial X_{kl}}"),
            dl(i, k) / D,
            r"$\mu_i$ reads row $i$ only: $\partial \mu_i / \partial X_{kl} = \delta_{ik} / D$",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(var, X[k, l]), D), r"\frac{\partial \sigma_i^2}{\partial X_{kl}}"
            ),
            2 * dl(i, k) * (X[i, l] - mu) / D,
            r"$\partial \sigma_i^2 / \partial X_{kl} = 2 \delta_{ik} (X_{il} - \mu_i) / D$",
            kind="jacobian",
        ),
        Step(
            nz.labelled(
                nz.in_range(sp.diff(xhat(j), X[k, l]).doit(), D),
                r"\frac{\partial \hat{X}_{ij}}{\partial X_{kl}}",
            ),
            dl(i, k) * (dl(j, l) - 1 / D - xhat(j) * xhat(l) / D) / sd,
            r"block diagonal by rows: $\partial \hat{X}_{ij} / \partial X_{kl} = \delta_{ik} (\delta_{jl} - \frac{1}{D} - \frac{\hat{X}_{ij} \hat{X}_{il}}{D}) / s_i$",
            kind="jacobian",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(loss, beta_ln[l]), (N, D)), r"\frac{\partial L}{\partial \beta_l}"
            ),
            DBETA,
            r"$\beta_j$ is per feature, so $\partial L / \partial \beta_l = \sum_{ij} G_{ij} \delta_{jl}$: a sum over the batch",
        ),
        Step(
            nz.labelled(
                nz.evaluate(sp.diff(loss, gamma[l]), (N, D)), r"\frac{\partial L}{\partial \gamma_l}"
            ),
            DGAMMA,
            r"$\partial L / \partial \gamma_l = \sum_{ij} G_{ij} \hat{X}_{ij} \delta_{jl}$: again a sum over the batch",
        ),
        Step(
            nz.labelled(nz.evaluate(chain, (N, D)), r"\frac{\partial L}{\partial X_{kl}}"),
            DX,
            r"chain rule: $\delta_{ik}$ keeps row $k$; the sum now runs over features $j$, along which $\gamma_j$ varies,"
            r" so $\gamma_j$ stays inside it",
        ),
    ]
    return Derivation(
        "q3a_all_examples",
        "N x D: every example, vectorised",
        steps,
        Result("dX", DX_AGGREGATE, DX_ARGS),
        statement=r"For an $N \times D$ batch, $\partial L / \partial X_{kl} = \frac{1}{D s_k}\left(D h_{kl} - S_h - \hat{X}_{kl} S_{hX}\right)$"
        r" with $h = \gamma \odot G$ (per feature), $S_h = \sum_j h_{kj}$, $S_{hX} = \sum_j h_{kj} \hat{X}_{kj}$, $s_k = \sqrt{\sigma_k^2 + \epsilon}$.",
        argument=r"Symbolic $N$ and $D$; the derivative of $X_{im}$ by $X_{kl}$ is $\delta_{ik} \delta_{ml}$, so every size is covered.",
    )


def concrete(sizes: tuple[tuple[int, int], ...]) -> list[Derivation]:
    return [
        nz.concrete_derivation(
            1,
            n,
            d,
            f"q3a_concrete_N{n}_D{d}",
            f"Concrete check, N = {n}, D = {d}",
            gradients=(n, d) in GRADIENT_SIZES,
            points=4 if (n, d) in GRADIENT_SIZES else 3,
            closed_tex=(latex(JACOBIAN), latex(DX)),
        )
        for n, d in sizes
    ]


def derive(ctx: Context) -> Section:
    sizes = QUICK_SIZES if ctx.quick else CONCRETE_SIZES
    d_max = max(d for _, d in sizes)
    text = {
        "answer": (  # the three requested gradients, in the problem's order, with G = dL/dY
            r"With $G = \partial \mathcal{L} / \partial Y$ given: the gradient of $\beta$ is "
            rf"$\frac{{\partial \mathcal{{L}}}}{{\partial \beta_l}} = {latex(DBETA)}$, the gradient of $\gamma$ is "
            rf"$\frac{{\partial \mathcal{{L}}}}{{\partial \gamma_l}} = {latex(DGAMMA)}$, and the gradient signal for the input is "
            rf"$$\frac{{\partial \mathcal{{L}}}}{{\partial X_{{kl}}}} = {latex(DX)}$$ "
            r"where $\hat{X}$ is the normalised input, $s_k = \sqrt{\sigma_k^2 + \epsilon}$ and $\sigma_k^2$ is the variance of"
            r" example $k$ over its $D$ features; unlike BatchNorm, $\gamma_j$ stays inside the sums. The derivation follows."
        ),
        "reuse": (
            r"LayerNorm computes $\mu_i$ and $\sigma_i^2$ over the $D$ features of example $i$, so each row is normalised exactly as"
            r" BatchNorm normalises a column: the one-group derivation of 2A holds with $N$ replaced by $D$, and the Jacobian is"
            r" $\frac{\partial \hat{X}_{ij}}{\partial X_{kl}} = \frac{\delta_{ik}}{s_i}\left(\delta_{jl} - \frac{1}{D} - \frac{\hat{X}_{ij}\hat{X}_{il}}{D}\right)$,"
            r" block diagonal by rows instead of by columns."
        ),
        "gamma": (
            r"What does not carry over is where $\gamma$ sits. $\gamma$ and $\beta$ are still per feature, so $\partial L / \partial \beta_l = \sum_i G_{il}$"
            r" and $\partial L / \partial \gamma_l = \sum_i G_{il} \hat{X}_{il}$ are sums over the batch, exactly as in BatchNorm. But the gradient"
            r" on $\hat{X}$ is $h_{kj} = \gamma_j G_{kj}$, and the chain rule now sums over features $j$, along which $\gamma_j$ varies:"
            r" $\gamma$ stays inside the sums instead of factoring out."
        ),
        "vectorised": (
            rf"Vectorised over $N \times D$: $${DX_MATRIX}$$ with $s^{{-1}}$ the column of per-example $1/s_k$. The row sums"
            r" $H\mathbf{1}$ and $(H \odot \hat{X})\mathbf{1}$ are matrix-vector products with $\gamma$ ($G\gamma$ and $(G \odot \hat{X})\gamma$)."
        ),
        "how_verified": (
            r"Each step is an exact SymPy identity for symbolic $N$ and $D$. The full Jacobian of a concrete $2 \times D$ input matches"
            rf" the closed form by exact rational substitution for every $D$ from 2 to {d_max}, and the gradients of"
            r" $L = \sum_{ij} G_{ij} Y_{ij}$, with a distinct $\gamma_j$ per feature, at the smallest sizes."
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
        derivations=[one_example(), all_examples(), *concrete(sizes)],
        metrics={
            "concrete_sizes": [list(sz) for sz in sizes],
            "gradient_sizes": sorted(list(sz) for sz in GRADIENT_SIZES if sz in sizes),
        },
        text=text,
    )
