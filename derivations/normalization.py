"""Shared algebra of Q2A (BatchNorm) and Q3A (LayerNorm): Z-score normalisation and its backward.

Both normalise a group of n numbers x_1..x_n (BatchNorm: a feature's column over the N examples;
LayerNorm: an example's row over the D features) to xhat_i = (x_i - mu) / s, s = sqrt(sigma^2 + eps).
With h_i = dL/dxhat_i the upstream gradient on xhat, the result proved here for every n is

    dxhat_i/dx_k = (delta_ik - 1/n - xhat_i xhat_k / n) / s,
    dL/dx_k      = (n h_k - sum_i h_i - xhat_k sum_i h_i xhat_i) / (n s).

`general_steps` derives this for symbolic n with `sympy.Sum` over `IndexedBase` entries;
`concrete_derivation` checks the full (N D) x (N D) Jacobian and the gradient of
L = sum_ij G_ij Y_ij (so dL/dY = G) for a concrete N x D matrix by exact rational substitution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sympy as sp

from derivations.core import Derivation, Result, Step
from derivations.symbols import eps

Axis = Literal[0, 1]  # 0: BatchNorm, statistics over rows (per column); 1: LayerNorm, over columns

m = sp.Symbol("m", integer=True, positive=True)  # summation dummy
x = sp.IndexedBase("x", real=True)
h = sp.IndexedBase("h", real=True)
xh = sp.IndexedBase(r"\hat{x}", real=True)
s = sp.Symbol("s", positive=True)  # s = sqrt(sigma^2 + eps) > 0


def in_range(expr: Any, n: sp.Symbol | tuple[sp.Symbol, ...]) -> Any:
    """Resolve SymPy's ``Piecewise((f, n >= k), (0, True))`` from a Kronecker sum to ``f``.

    This is the assumption 1 <= k <= n that the index of a differentiated entry lies in its
    range (n one of the sizes given); any other condition is refused rather than guessed.
    """
    sizes = set(n) if isinstance(n, tuple) else {n}

    def first_branch(pw: sp.Piecewise) -> Any:
        cond = pw.args[0].cond
        if isinstance(cond, sp.GreaterThan):  # size >= index
            big, small = cond.lhs, cond.rhs
        elif isinstance(cond, sp.LessThan):  # index <= size
            big, small = cond.rhs, cond.lhs
        else:
            big = small = None
        if not (big in sizes and isinstance(small, sp.Symbol) and small.is_integer and small.is_positive):
            raise ValueError(f"unexpected Piecewise condition {cond}")
        return pw.args[0].expr

    return expr.replace(lambda z: isinstance(z, sp.Piecewise), first_branch)


def evaluate(expr: Any, n: sp.Symbol | tuple[sp.Symbol, ...]) -> Any:
    """Expand sums by linearity and evaluate them (Kronecker sums, sums of constants) to a fixpoint."""
    for _ in range(6):
        new = in_range(sp.expand(expr).doit(), n)
        if new == expr:
            break
        expr = new
    return expr


def jacobian_entry(i: Any, k: Any, n: Any) -> Any:
    """The closed form of d xhat_i / d x_k, in the indexed ``xhat`` and the scale ``s``."""
    return (sp.KroneckerDelta(i, k) - 1 / n - xh[i] * xh[k] / n) / s


def grad_entry(k: Any, n: Any, i: Any = m) -> Any:
    """The closed form of dL/dx_k = sum_i h_i d xhat_i/d x_k (``i``: the summation index)."""
    s1 = sp.Sum(h[i], (i, 1, n))
    s2 = sp.Sum(h[i] * xh[i], (i, 1, n))
    return (n * h[k] - s1 - xh[k] * s2) / (n * s)


class Shown(sp.MutableDenseMatrix):
    """A matrix that is verified entry by entry but prints (LaTeX and str) as a short label.

    The concrete Jacobians have up to 256 entries of nested radicals; printing them would bury
    the report, so a step shows what the matrix is and the check uses every entry.
    """

    label = ""

    def _latex(self, printer: Any) -> str:
        return self.label

    def _sympystr(self, printer: Any) -> str:
        return self.label


def shown(matrix: sp.Matrix, label: str) -> Shown:
    out = Shown(matrix)
    out.label = label
    return out


def labelled(expr: Any, label: str) -> Shown:
    """A scalar verified as itself but printed as ``label`` (the derivative it was computed as)."""
    return shown(sp.Matrix([[expr]]), label)


def general_steps(n: sp.Symbol, i: sp.Symbol, k: sp.Symbol) -> list[Step]:
    """The any-n derivation of the normalisation Jacobian and the input gradient.

    Each left side is computed (``sp.diff`` of the definitions with ``sp.Sum`` over a symbolic n,
    Kronecker sums evaluated for an index in 1..n) and printed as the derivative it is.
    """
    mu = sp.Sum(x[m], (m, 1, n)) / n
    var = sp.Sum((x[m] - mu) ** 2, (m, 1, n)) / n
    sd = sp.sqrt(var + eps)
    xhat = (x[i] - mu) / sd
    xhat_k = (x[k] - mu) / sd
    jac_exact = in_range(sp.diff(xhat, x[k]).doit(), n)
    jac_closed = (sp.KroneckerDelta(i, k) - 1 / n - xhat * xhat_k / n) / sd
    d = r"\partial"
    return [
        Step(
            labelled(evaluate(sp.diff(mu, x[k]), n), rf"\frac{{{d} \mu}}{{{d} x_{k}}}"),
            1 / n,
            rf"$\mu = \frac{{1}}{{{n}}} \sum_m x_m$, so $\partial \mu / \partial x_{k} = \frac{{1}}{{{n}}} \sum_m \delta_{{m{k}}}$,"
            rf" with $1 \le {k} \le {n}$",
        ),
        Step(
            labelled(sp.expand(sp.Sum(x[m] - mu, (m, 1, n))), rf"\sum_{{m=1}}^{{{n}}} (x_m - \mu)"),
            0,
            rf"the centred values sum to zero: ${n}\mu - {n}\mu = 0$",
        ),
        Step(
            labelled(evaluate(sp.diff(var, x[k]), n), rf"\frac{{{d} \sigma^2}}{{{d} x_{k}}}"),
            2 * (x[k] - mu) / n,
            rf"$\frac{{2}}{{{n}}} \sum_m (x_m - \mu)(\delta_{{m{k}}} - \frac{{1}}{{{n}}})$; the second sum vanishes",
            kind="jacobian",
        ),
        Step(
            labelled(jac_exact, rf"\frac{{{d} \hat{{x}}_{i}}}{{{d} x_{k}}}"),
            jac_closed,
            rf"quotient rule: $(\delta_{{{i}{k}}} - \partial\mu/\partial x_{k})/s - (x_{i} - \mu) \, \frac{{\partial \sigma^2 / \partial x_{k}}}{{2 s^3}}$,"
            r" $s = \sqrt{\sigma^2 + \epsilon}$",
            kind="jacobian",
        ),
        Step(
            labelled(
                evaluate(sp.Sum(h[i] * jacobian_entry(i, k, n), (i, 1, n)), n),
                rf"\frac{{{d} L}}{{{d} x_{k}}}",
            ),
            grad_entry(k, n, i=i),
            rf"chain rule $\sum_{i} h_{i} \, \partial \hat{{x}}_{i} / \partial x_{k}$ with $h_{i} = \partial L / \partial \hat{{x}}_{i}$"
            rf" and the closed-form Jacobian; $\delta_{{{i}{k}}}$ picks ${i} = {k}$",
        ),
    ]


# ---- concrete sizes -------------------------------------------------------------------------


def concrete_symbols(
    n_rows: int, n_cols: int
) -> tuple[sp.Matrix, sp.Matrix, list[sp.Symbol], list[sp.Symbol]]:
    """X, G (n_rows x n_cols) and gamma, beta (n_cols) as real symbols."""
    X = sp.Matrix(n_rows, n_cols, lambda a, b: sp.Symbol(f"X_{{{a + 1},{b + 1}}}", real=True))
    G = sp.Matrix(n_rows, n_cols, lambda a, b: sp.Symbol(f"G_{{{a + 1},{b + 1}}}", real=True))
    gamma = [sp.Symbol(f"gamma_{{{b + 1}}}", real=True) for b in range(n_cols)]
    beta = [sp.Symbol(f"beta_{{{b + 1}}}", real=True) for b in range(n_cols)]
    return X, G, gamma, beta


def group_stats(values: Sequence[Any]) -> tuple[Any, Any]:
    """Mean and biased variance ``(1/n) sum (v - mu)^2`` of one normalisation group."""
    n = len(values)
    mu = sum(values) / n
    return mu, sum((v - mu) ** 2 for v in values) / n


def normalise(X: sp.Matrix, axis: Axis) -> tuple[sp.Matrix, list[Any]]:
    """xhat of X with statistics over ``axis`` (0: each column, BatchNorm; 1: each row, LayerNorm).

    Each group is read off X directly (a column ``X[:, g]`` or a row ``X[g, :]``), not through a
    transpose, so a claim relating the two axes compares two independent constructions.
    Returns xhat and the per-group scales s_g = sqrt(sigma_g^2 + eps).
    """
    n_groups = X.cols if axis == 0 else X.rows
    xhat = sp.zeros(*X.shape)
    scales = []
    for g in range(n_groups):
        group = list(X[:, g] if axis == 0 else X[g, :])
        mu, var = group_stats(group)
        sd = sp.sqrt(var + eps)
        scales.append(sd)
        for a, v in enumerate(group):
            xhat[(a, g) if axis == 0 else (g, a)] = (v - mu) / sd
    return xhat, scales


def closed_form_jacobian(xhat: sp.Matrix, scales: list[Any], axis: Axis) -> sp.Matrix:
    """d vec(xhat) / d vec(X) (row-major vec) from the closed form: zero across groups."""
    r, c = xhat.shape
    n = r if axis == 0 else c

    def entry(p: int, q: int) -> Any:
        (a, b), (a2, b2) = divmod(p, c), divmod(q, c)
        if (b != b2) if axis == 0 else (a != a2):  # different groups
            return 0
        i, k, g = (a, a2, b) if axis == 0 else (b, b2, a)  # positions inside the group, and the group
        return (sp.KroneckerDelta(i, k) - sp.Rational(1, n) - xhat[a, b] * xhat[a2, b2] / n) / scales[g]

    return sp.Matrix(r * c, r * c, entry)


def closed_form_grads(
    G: sp.Matrix, gamma: list[Any], xhat: sp.Matrix, scales: list[Any], axis: Axis
) -> sp.Matrix:
    """dL/dX from the closed form with h = gamma * G (gamma per column, both norms)."""
    H = sp.Matrix(*G.shape, lambda a, b: gamma[b] * G[a, b])

    def entry(a: int, b: int) -> Any:
        if axis == 0:
            hs, xs, pos, sd = H[:, b], xhat[:, b], a, scales[b]
        else:
            hs, xs, pos, sd = H[a, :], xhat[a, :], b, scales[a]
        n, s2 = len(hs), sum(hv * xv for hv, xv in zip(hs, xs, strict=True))
        return (n * hs[pos] - sum(hs) - xs[pos] * s2) / (n * sd)

    return sp.Matrix(*G.shape, entry)


def concrete_derivation(
    axis: Axis,
    n_rows: int,
    n_cols: int,
    name: str,
    title: str,
    *,
    closed_tex: tuple[str, str],
    gradients: bool = True,
    points: int = 4,
) -> Derivation:
    """Exact check at one concrete size: the Jacobian and (``gradients``) dL/dX, dL/dgamma, dL/dbeta.

    ``closed_tex``: how the closed-form Jacobian entry and dL/dX entry print (the question's own
    general-size results, rendered by SymPy), since the concrete matrices are shown by label only.
    """
    X, G, gamma, beta = concrete_symbols(n_rows, n_cols)
    xhat, scales = normalise(X, axis)
    vx, vxh = list(X), list(xhat)  # row-major
    size = n_rows * n_cols
    group = "column (feature)" if axis == 0 else "row (example)"
    J_closed = shown(
        closed_form_jacobian(xhat, scales, axis),
        rf"\left[{closed_tex[0]}\right]_{{{size} \times {size}}}",
    )
    jac_step = Step(
        shown(
            sp.Matrix(vxh).jacobian(vx),
            r"\frac{\partial \mathrm{vec} \, \hat{X}}{\partial \mathrm{vec} \, X}",
        ),
        J_closed,
        rf"differentiating the forward pass entry by entry gives the closed form; zero across groups (each {group} is its own group)",
        method="substitution",
        kind="jacobian",
        points=points,
    )
    statement = (
        rf"For a concrete ${n_rows} \times {n_cols}$ input every entry of the ${size} \times {size}$"
        r" Jacobian $\partial \hat{X} / \partial X$ matches the closed form exactly"
    )
    if not gradients:
        return Derivation(
            name,
            title,
            [jac_step],
            Result("jacobian", J_closed, tuple(vx) + (eps,)),
            statement=statement + ".",
        )
    Y = sp.Matrix(n_rows, n_cols, lambda a, b: gamma[b] * xhat[a, b] + beta[b])
    L = sum(G[a, b] * Y[a, b] for a in range(n_rows) for b in range(n_cols))
    dX = shown(sp.Matrix(n_rows, n_cols, lambda a, b: sp.diff(L, X[a, b])), r"\frac{\partial L}{\partial X}")
    dX_closed = shown(
        closed_form_grads(G, gamma, xhat, scales, axis),
        rf"\left[{closed_tex[1]}\right]_{{{n_rows} \times {n_cols}}}",
    )
    dgamma = sp.Matrix([[sp.diff(L, g) for g in gamma]])
    dbeta = sp.Matrix([[sp.diff(L, b) for b in beta]])
    args = tuple(vx) + tuple(G) + tuple(gamma) + (eps,)
    return Derivation(
        name,
        title,
        [
            jac_step,
            Step(
                dX,
                dX_closed,
                r"$\partial L / \partial X$ of $L = \sum_{ij} G_{ij} Y_{ij}$ equals the closed form with $h = \gamma \odot G$",
                method="substitution",
                points=points,
            ),
            Step(
                shown(dgamma, r"\frac{\partial L}{\partial \gamma}"),
                shown(
                    sp.Matrix([[sum(G[a, b] * xhat[a, b] for a in range(n_rows)) for b in range(n_cols)]]),
                    r"\left[\sum_i G_{il} \hat{X}_{il}\right]_l",
                ),
                r"$\partial L / \partial \gamma_j = \sum_i G_{ij} \hat{X}_{ij}$",
                method="substitution",
                points=points,
            ),
            Step(
                shown(dbeta, r"\frac{\partial L}{\partial \beta}"),
                sp.Matrix([[sum(G[:, b]) for b in range(n_cols)]]),
                r"$\partial L / \partial \beta_j = \sum_i G_{ij}$",
            ),
        ],
        Result("dX", dX_closed, args),
        statement=statement
        + r", and so do $\partial L / \partial X$, $\partial L / \partial \gamma$ and $\partial L / \partial \beta$.",
    )
