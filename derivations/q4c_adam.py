"""Q4C.1: Adam's bias correction 1/(1 - beta^t), derived; `derive` returns all of Q4C.

The moment estimate ``m_t = beta m_{t-1} + (1 - beta) g_t`` with ``m_0 = 0`` unrolls to
``m_t = (1 - beta) sum_{i<=t} beta^{t-i} g_i``: an average whose weights sum to ``1 - beta^t``, the
missing ``beta^t`` sitting on the zero "measurement" ``m_0``. For stationary gradients
(``E g_i = mu``), ``E m_t = mu (1 - beta^t)``, so ``m_t / (1 - beta^t)`` is unbiased; the same holds for
``v_t`` with ``g_i^2`` and ``beta_2``. When the moments drift, ``E m_t = E g_t (1 - beta^t) + zeta`` with
``zeta = (1 - beta) sum_i beta^{t-i} (E g_i - E g_t)``, small when the old gradients carry little weight.
SymPy evaluates the geometric sums under ``0 < beta < 1`` (`geometric_sum`; without the bound it
returns a Piecewise for ``beta = 1``). Q4C.2 and Q4C.3 are in `derivations.q4c_l2_coupling` and
`derivations.q4c_adamw`; `derive` merges the three.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step, latex
from derivations.symbols import beta, beta1, beta2, i, t

g = sp.Function("g")  # the measured quantity at step i: g_i for m, g_i^2 for v
Eg = sp.Function("E_g")  # its expectation at step i (non-stationary case)
Eg_seq = sp.IndexedBase("E_g")  # the same expectations as a sequence, for the numeric `zeta` result
mu = sp.Symbol("mu", real=True)  # stationary mean E g_i
s2 = sp.Symbol("sigma^2", positive=True)  # stationary second moment E g_i^2
c = sp.Symbol("c", positive=True)  # the unknown correction factor


@cache  # refine's assumption solver takes ~1 s per call; the sums are reused
def geometric_sum(base: sp.Symbol, upper: sp.Expr = t) -> tuple[sp.Expr, sp.Expr]:
    """``sum_{i=1}^{upper} base^(upper - i)``: SymPy's Piecewise, and its value for ``0 < base < 1``."""
    if not isinstance(base, sp.Symbol):
        raise TypeError(f"base must be a sympy Symbol, got {type(base).__name__}")
    piecewise = sp.Sum(base ** (upper - i), (i, 1, upper)).doit()
    refined = sp.refine(piecewise, sp.Q.positive(base) & sp.Q.lt(base, 1))
    return piecewise, sp.simplify(refined)


def ema_unrolled(b: sp.Symbol, upper: sp.Expr, f: sp.Function = g) -> sp.Expr:
    """``(1 - b) sum_{i=1}^{upper} b^(upper - i) f(i)``: the EMA after ``upper`` steps from 0."""
    return (1 - b) * sp.Sum(b ** (upper - i) * f(i), (i, 1, upper))


@cache
def bias_correction() -> sp.Expr:
    """The factor ``c`` making ``c E[m_t] = mu`` for every stationary mean: solved, not typed."""
    _, closed = geometric_sum(beta)
    (sol,) = sp.solve(sp.Eq(c * mu * (1 - beta) * closed, mu), c)
    return 1 / sp.expand(1 / sol)  # printed as 1/(1 - beta**t)


def _stationary_steps(b: sp.Symbol, moment: sp.Symbol, est: str, measured: str) -> list[Step]:
    """E[estimate_t] for a stationary measured quantity of mean ``moment``, decay ``b``: biased, then corrected.

    ``est``: the estimate's letter (m, v); ``measured``: what it averages (g_i, g_i^2), both LaTeX.
    """
    _, closed = geometric_sum(b)
    corr = bias_correction().subs(beta, b)
    bt, mt = latex(b), latex(moment)
    return [
        Step(
            ema_unrolled(b, t, lambda k: moment),
            moment * (1 - b) * sp.Sum(b ** (t - i), (i, 1, t)),
            rf"${est}_t$ averages ${measured}$ with $E[{measured}] = {mt}$ stationary: linearity of $E$ over the finite sum",
            kind="expectation",
        ),
        Step(
            moment * (1 - b) * closed,
            moment * (1 - b**t),
            rf"geometric sum ($0<{bt}<1$): $E[{est}_t] = {mt} (1 - {bt}^t)$, biased towards 0",
            kind="expectation",
        ),
        Step(
            corr * moment * (1 - b) * closed,
            moment,
            rf"$\hat {est}_t = {est}_t / (1-{bt}^t)$ is unbiased at every $t$",
            kind="expectation",
        ),
    ]


def _bias_derivation() -> Derivation:
    _, closed = geometric_sum(beta)
    corr = bias_correction()
    m_steps = _stationary_steps(beta, mu, "m", "g_i")
    recursion = beta * ema_unrolled(beta, t - 1) + (1 - beta) * g(t)
    term = beta ** (t - i) * g(i)
    steps = [
        Step(
            recursion,
            (1 - beta) * (sp.Sum(term, (i, 1, t - 1)) + g(t)),
            r"induction step: $\beta m_{t-1} + (1-\beta) g_t$ with $m_{t-1}$ unrolled; $\beta$ enters the sum",
        ),
        Step(sp.Sum(term, (i, t, t)), g(t), r"the new measurement is the sum's $i = t$ term ($\beta^0 g_t$)"),
        Step(
            (1 - beta) * (sp.Sum(term, (i, 1, t - 1)) + sp.Sum(term, (i, t, t))),
            ema_unrolled(beta, t),
            r"adjacent ranges combine: $m_t = (1-\beta)\sum_{i=1}^{t} \beta^{t-i} g_i$",
        ),
        Step(
            (1 - beta) * g(1),
            ema_unrolled(beta, 1).doit(),
            r"base case: $m_1 = \beta \cdot 0 + (1-\beta) g_1$",
        ),
        Step(
            sp.Matrix([closed.subs(t, 1), beta * closed.subs(t, t - 1) + 1]),
            sp.Matrix([1, closed]),
            r"SymPy's sum for $0 < \beta < 1$ satisfies the sum's own recursion $S_1 = 1$, $S_t = \beta S_{t-1} + 1$:"
            r" it is $S_t = \sum_{i=1}^t \beta^{t-i}$, by induction",
        ),
        Step(
            closed,
            (1 - beta**t) / (1 - beta),
            r"with $0 < \beta < 1$: $\sum_{i=1}^t \beta^{t-i} = (1-\beta^t)/(1-\beta)$ (without the bound SymPy keeps the case $\beta = 1$)",
        ),
        Step(
            (1 - beta) * closed + beta**t,
            1,
            r"the weights on $g_1..g_t$ sum to $1-\beta^t$; the rest, $\beta^t$, sits on the zero start $m_0$",
        ),
        *m_steps[:2],
        Step(
            corr,
            1 / (1 - beta**t),
            r"the factor $c$ with $c\, E[m_t] = \mu$ for every $\mu$ (solved)",
            kind="expectation",
        ),
        m_steps[2],
        *_stationary_steps(beta2, s2, "v", "g_i^2"),
    ]
    return Derivation(
        "q4c_bias_correction",
        "Adam's bias correction",
        steps,
        Result("bias_correction", corr, (beta, t)),
        statement=r"With $m_0 = 0$ and stationary gradients, $E[m_t] = (1-\beta_1^t) E[g]$ and $E[v_t] = (1-\beta_2^t) E[g^2]$; dividing by $1-\beta^t$ removes the weight of the zero initialisation.",
        argument="The first three steps are the induction step for general t (with the base case m_1 next); expectations pass through the finite sum by linearity.",
    )


def zeta() -> sp.Expr:
    """The non-stationarity term ``(1 - beta) sum_i beta^(t-i) (E g_i - E g_t)``."""
    return (1 - beta) * sp.Sum(beta ** (t - i) * (Eg(i) - Eg(t)), (i, 1, t))


def zeta_numeric() -> sp.Expr:
    """`zeta` with the expectations as a sequence argument ``E_g[i]`` (i = 1..t), so it can be evaluated."""
    return zeta().replace(Eg, lambda k: Eg_seq[k])


def _nonstationary_derivation() -> Derivation:
    _, closed = geometric_sum(beta)
    steps = [
        Step(
            ema_unrolled(beta, t, Eg),
            Eg(t) * (1 - beta) * sp.Sum(beta ** (t - i), (i, 1, t)) + zeta(),
            r"add and subtract $E[g_t]$ in every term",
            kind="expectation",
        ),
        Step(
            Eg(t) * (1 - beta) * closed + zeta(),
            Eg(t) * (1 - beta**t) + zeta(),
            r"geometric sum: $E[m_t] = E[g_t](1-\beta^t) + \zeta$",
            kind="expectation",
        ),
        Step(
            (Eg(t) * (1 - beta**t) + zeta()) * bias_correction(),
            Eg(t) + zeta() / (1 - beta**t),
            r"after the correction: $E[\hat m_t] = E[g_t] + \zeta/(1-\beta^t)$",
            kind="expectation",
        ),
        Step(
            zeta().subs(Eg(i), mu).subs(Eg(t), mu), 0, r"stationary moments: $\zeta = 0$", kind="expectation"
        ),
    ]
    return Derivation(
        "q4c_nonstationary",
        "Non-stationary moments: the zeta term",
        steps,
        Result("zeta", zeta_numeric(), (beta, t, Eg_seq)),
        statement=r"$E[m_t] = E[g_t](1-\beta^t) + \zeta$, $\zeta = (1-\beta)\sum_{i=1}^t \beta^{t-i}(E[g_i] - E[g_t])$; the correction leaves $\zeta/(1-\beta^t)$, small when $\beta$ gives little weight to the distant past where the moments differ.",
    )


def _steps_to_one_percent(b: sp.Rational) -> int:
    """The first t at which the bias factor 1 - b^t is within 1 % of 1."""
    return int(sp.ceiling(sp.log(sp.Rational(1, 100)) / sp.log(b)))


def bias_section() -> Section:
    """Q4C.1 alone: both derivations, the ``bias_correction`` answer and prose."""
    corr = bias_correction()
    _, closed = geometric_sum(beta)
    b2 = sp.Rational(999, 1000)  # Adam's default beta_2
    text = {
        "bias_correction": (
            r"Unrolling $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$ from $m_0 = 0$ gives $m_t = (1-\beta_1)\sum_{i=1}^t \beta_1^{t-i} g_i$. "
            f"The weights sum to $(1-\\beta_1) \\cdot {latex(closed.subs(beta, beta1))} = 1 - \\beta_1^t$: following the hint, the "
            r"initial zero is a measurement that keeps weight $\beta_1^t$. For stationary gradients $E[m_t] = (1-\beta_1^t) E[g_t]$ "
            r"and likewise $E[v_t] = (1-\beta_2^t) E[g_t^2]$, so both estimates are biased towards zero early on (by more than 1 % for "
            f"$\\beta_2 = {float(b2):g}$ until $t = {_steps_to_one_percent(b2)}$). Dividing by $1-\\beta^t$, i.e. multiplying by ${sp.latex(corr)}$, removes the zero's weight "
            r"and gives unbiased $\hat m_t$, $\hat v_t$ at every $t$."
        ),
        "nonstationary": (
            r"If the moments drift, $E[m_t] = E[g_t](1-\beta^t) + \zeta$ with $\zeta = (1-\beta)\sum_i \beta^{t-i}(E[g_i] - E[g_t])$: "
            r"the correction still removes the initialisation bias, and $\zeta$ is small when $\beta$ puts little weight on the "
            "distant past (the Adam paper's argument)."
        ),
    }
    return Section(
        answers={
            "bias_correction": sp.sstr(corr),
            "expected_m_t": sp.sstr(
                mu * sp.expand(sp.simplify((1 - beta) * closed))
            ),  # from the geometric sum
        },
        derivations=[_bias_derivation(), _nonstationary_derivation()],
        text=text,
    )


def derive(ctx: Context) -> Section:
    """Q4C.1, bias correction; registry.py lists Q4C.2 (`q4c_l2_coupling`) and Q4C.3 (`q4c_adamw`) after it."""
    return bias_section()
