"""Q1A: OLS regression with dropout on the inputs is ridge regression in expectation.

With a mask ``M`` of independent Bernoulli entries (keep probability ``1 - p``) applied to the
design matrix, ``E_M ||y - (X * sM) w||^2 = ||y - f(p) X w||^2 + g(p) ||Gamma w||^2`` where
``f = E[s m]``, ``g = Var[s m]`` and ``Gamma = diag(X^T X)^{1/2}`` (``Gamma_jj = ||x_j||``, which
is ``sqrt(N)`` times the standard deviation of feature ``j`` when the columns are centred).

- plain masks (``s = 1``): ``f = 1 - p``, ``g = p (1 - p)``;
- inverted dropout (``s = 1/(1 - p)``, PyTorch's): ``f = 1``, ``g = p / (1 - p)``.

``f`` and ``g`` are computed here with `sympy.stats` from the mask distribution, never typed in;
the derivation then checks the whole expected loss by exact enumeration over every mask.
"""

from __future__ import annotations

import itertools

import sympy as sp
from sympy.stats import Bernoulli, E, variance

from derivations.core import Context, Derivation, Result, Section, Step
from derivations.symbols import p

CONVENTIONS = ("plain", "inverted")
ENUM_N, ENUM_D = 2, 3  # exact enumeration over all 2^(N D) = 64 masks
SPLIT_D = (3, 5)  # sizes at which the double-sum split is checked entry by entry
CENTRED_N = 4  # column length for the Gamma-vs-standard-deviation step


def mask_scale(convention: str) -> sp.Expr:
    """The factor ``s`` multiplying a kept entry: 1 (plain) or ``1/(1-p)`` (inverted)."""
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    return sp.Integer(1) if convention == "plain" else 1 / (1 - p)


def mask_moments(convention: str) -> tuple[sp.Expr, sp.Expr]:
    """``(f, g) = (E[s m], Var[s m])`` for ``m ~ Bernoulli(1 - p)``, computed by `sympy.stats`."""
    s = mask_scale(convention)
    m = Bernoulli("m", 1 - p)
    return _in_keep_probability(E(s * m)), _in_keep_probability(variance(s * m))


def _in_keep_probability(expr: sp.Expr) -> sp.Expr:
    """Factor in terms of ``1 - p`` for readable answers (``p*(1 - p)`` rather than ``-p*(p - 1)``)."""
    q = sp.Dummy("q")
    return sp.factor(sp.simplify(expr).subs(p, 1 - q)).subs(q, 1 - p)


def _symbols(rows: int, cols: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix]:
    X = sp.Matrix(rows, cols, lambda a, b: sp.Symbol(f"x_{a + 1}{b + 1}", real=True))
    w = sp.Matrix(cols, 1, lambda a, _: sp.Symbol(f"w_{a + 1}", real=True))
    y = sp.Matrix(rows, 1, lambda a, _: sp.Symbol(f"y_{a + 1}", real=True))
    return X, w, y


def gamma_matrix(X: sp.Matrix) -> sp.Matrix:
    """``Gamma = diag(X^T X)^{1/2}``: the column norms on the diagonal."""
    return sp.diag(*[sp.sqrt((X[:, c].T * X[:, c])[0]) for c in range(X.cols)])


def ridge_form(X: sp.Matrix, w: sp.Matrix, y: sp.Matrix, f: sp.Expr, g: sp.Expr) -> sp.Expr:
    """``||y - f X w||^2 + g ||Gamma w||^2``."""
    r = y - f * X * w
    gw = gamma_matrix(X) * w
    return (r.T * r)[0] + g * (gw.T * gw)[0]


def expected_loss_by_enumeration(X: sp.Matrix, w: sp.Matrix, y: sp.Matrix, s: sp.Expr) -> sp.Expr:
    """``sum_M P(M) ||y - (X * sM) w||^2`` over all ``2^(N D)`` masks, exactly."""
    total = sp.Integer(0)
    for bits in itertools.product((0, 1), repeat=X.rows * X.cols):
        mask = sp.Matrix(X.rows, X.cols, bits)
        prob = sp.Mul(*[(1 - p) if b else p for b in bits])
        r = y - X.multiply_elementwise(s * mask) * w
        total += prob * (r.T * r)[0]
    return sp.expand(total)


def _mean_var(col: tuple[sp.Expr, ...]) -> tuple[sp.Expr, sp.Expr]:
    """Mean and population variance (the ``1/N`` one) of a column."""
    mean = sum(col) / len(col)
    return mean, sum((c - mean) ** 2 for c in col) / len(col)


def build_derivation(convention: str, f: sp.Expr | None = None, g: sp.Expr | None = None) -> Derivation:
    """The Q1A derivation for one mask convention; ``f``/``g`` override the computed moments (tests)."""
    s = mask_scale(convention)
    f0, g0 = mask_moments(convention)
    f = f0 if f is None else sp.sympify(f)
    g = g0 if g is None else sp.sympify(g)
    sm = rf"m_{{ij}}{'' if convention == 'plain' else '/(1-p)'}"
    keep = sp.Mul(1 - p, s, evaluate=False)  # P(kept) times the kept value; the dropped outcome adds p * 0
    dropped = sp.Mul(p, 0, evaluate=False)
    steps = [
        Step(sp.Add(keep, dropped, evaluate=False), f,
             rf"$f = \mathbb{{E}}[{sm}]$: the mask keeps with probability $1-p$ (right side: sympy.stats)",
             kind="expectation"),
        Step(sp.Add(sp.Mul(1 - p, s**2, evaluate=False), dropped, -sp.Pow(keep, 2, evaluate=False), evaluate=False), g,
             rf"$g = \mathrm{{Var}}[{sm}] = \mathbb{{E}}[m^2] - \mathbb{{E}}[m]^2$ (right side: sympy.stats)",
             kind="expectation"),
        Step(sp.Mul(sp.Pow(1 - p, 2, evaluate=False), s**2, evaluate=False), f**2,
             r"independent entries, $j \neq k$: only 'both kept' contributes, $\mathbb{E}[m_{ij} m_{ik}] = f^2$",
             kind="expectation"),
    ]
    for d in SPLIT_D:  # sum_j sum_k a_j a_k E[m_j m_k] with E[m_j m_k] = f^2 + g delta_jk
        a = sp.symbols(f"a_1:{d + 1}", real=True)
        double = sum(a[u] * a[v] * (f**2 + (g if u == v else 0)) for u in range(d) for v in range(d))
        steps.append(Step(double, f**2 * sum(a) ** 2 + g * sum(x**2 for x in a),
                          rf"$\sum_{{j,k}} a_j a_k (f^2 + g\,\delta_{{jk}}) = f^2 (\sum_j a_j)^2 + g \sum_j a_j^2$, $D={d}$"))
    yi, si, qi = sp.symbols("y_i s_i q_i", real=True)
    steps.append(Step(yi**2 - 2 * yi * f * si + (f**2 * si**2 + g * qi), (yi - f * si) ** 2 + g * qi,
                      r"row $i$: $s_i = \sum_j x_{ij} w_j$, $q_i = \sum_j x_{ij}^2 w_j^2$; complete the square"))
    X, w, y = _symbols(3, 2)
    steps.append(Step(sum(X[a, b] ** 2 * w[b] ** 2 for a in range(3) for b in range(2)),
                      ((gamma_matrix(X) * w).T * (gamma_matrix(X) * w))[0],
                      r"$\sum_i q_i = \sum_j w_j^2 \sum_i x_{ij}^2 = \|\Gamma w\|^2$, $\Gamma = \mathrm{diag}(X^T X)^{1/2}$"))
    X, w, y = _symbols(ENUM_N, ENUM_D)
    steps.append(Step(expected_loss_by_enumeration(X, w, y, s), ridge_form(X, w, y, f, g),
                      rf"exact expectation over all $2^{{{ENUM_N * ENUM_D}}}$ masks, $N={ENUM_N}$, $D={ENUM_D}$",
                      kind="expectation"))
    col = sp.symbols(f"c_1:{CENTRED_N + 1}", real=True)
    mean, var = _mean_var(col)
    steps.append(Step(sum(c**2 for c in col), CENTRED_N * (var + mean**2),
                      rf"$\Gamma_{{jj}}^2 = \sum_i x_{{ij}}^2 = N(\sigma_j^2 + \mu_j^2)$: $\Gamma_{{jj}}/\sqrt{{N}}$ is the RMS of feature $j$, $N={CENTRED_N}$"))
    centred = (*col[:-1], -sum(col[:-1]))  # a centred column: its entries sum to zero
    steps.append(Step(sp.sqrt(sum(c**2 for c in centred)), sp.sqrt(CENTRED_N) * sp.sqrt(_mean_var(centred)[1]),
                      rf"centred column ($\mu_j = 0$): $\Gamma_{{jj}} = \|x_j\| = \sqrt{{N}}\,\sigma_j$, $N={CENTRED_N}$"))
    return Derivation(
        name=f"q1a_{convention}",
        title=f"Dropout as ridge regression ({convention} masks)",
        steps=steps,
        result=Result(f"(f, g) {convention}", sp.Matrix([[f, g]]), (p,)),
        statement=(
            rf"With $\tilde X = X \circ M$ scaled by $s={sp.latex(s)}$, "
            rf"$\mathbb{{E}}\|y - \tilde X w\|^2 = \|y - f(p) X w\|^2 + g(p)\|\Gamma w\|^2$ "
            rf"with $f = {sp.latex(f)}$, $g = {sp.latex(g)}$."
        ),
        argument=_ARGUMENT,
    )


_ARGUMENT = (
    r"For any $N \times D$: $\mathcal{L} = \sum_i (y_i - \sum_j x_{ij} m_{ij} w_j)^2$. By linearity, "
    r"$\mathbb{E}[\mathcal{L}] = \sum_i \big(y_i^2 - 2 y_i f s_i + \sum_{j,k} x_{ij} x_{ik} w_j w_k "
    r"\mathbb{E}[m_{ij} m_{ik}]\big)$ and independence gives $\mathbb{E}[m_{ij} m_{ik}] = f^2 + g\,\delta_{jk}$, "
    r"so the double sum is $f^2 s_i^2 + g q_i$ (the split is shown entry by entry for two sizes). Completing the "
    r"square row by row and exchanging the finite sums $\sum_i \sum_j x_{ij}^2 w_j^2 = \sum_j (X^T X)_{jj} w_j^2$ "
    r"gives the ridge form for every $N$ and $D$; the exact enumeration over all masks checks the whole chain."
)


def derive(ctx: Context) -> Section:
    """Q1A derivations for both conventions, with ``f``, ``g`` as answers and prose."""
    derivs = [build_derivation(c) for c in CONVENTIONS]
    (f, g), (fi, gi) = (mask_moments(c) for c in CONVENTIONS)
    text = {
        "answer": (
            rf"Plain masks (keep with probability $1-p$, no rescaling): $f(p) = {sp.latex(f)}$ and "
            rf"$g(p) = {sp.latex(g)}$. Inverted dropout (kept entries scaled by $1/(1-p)$, as in PyTorch): "
            rf"$f(p) = {sp.latex(fi)}$ and $g(p) = {sp.latex(gi)}$."
        ),
        "gamma": (
            r"$\Gamma = \mathrm{diag}(X^T X)^{1/2}$, i.e. $\Gamma_{jj} = \|x_j\| = \sqrt{\sum_i x_{ij}^2}$, "
            r"which is $\sqrt{N}$ times the root-mean-square of feature $j$; for centred features that is "
            r"$\sqrt{N}\,\sigma_j$, the standard deviation the problem refers to (up to the constant $\sqrt{N}$)."
        ),
        "why": (
            r"The mean of the masked design is $f X$ and each entry has variance $g\,x_{ij}^2$; "
            r"$\mathbb{E}\|y - \tilde X w\|^2 = \|y - \mathbb{E}[\tilde X] w\|^2 + \sum_i \mathrm{Var}[(\tilde X w)_i]$ "
            r"and the variance term is $g \sum_j (X^T X)_{jj} w_j^2 = g\|\Gamma w\|^2$: a ridge penalty whose "
            r"strength per weight grows with the scale of its feature."
        ),
    }
    return Section(
        answers={"f": sp.sstr(f), "g": sp.sstr(g), "f_inverted": sp.sstr(fi), "g_inverted": sp.sstr(gi),
                 "Gamma": "diag(X^T X)^(1/2)"},
        derivations=derivs,
        text=text,
    )
