"""Q4A.1: the PDF of a parameter drawn at random from a freshly initialised PyTorch MLP.

nn.Linear's default is ``kaiming_uniform_(a=sqrt(5))`` for the weight, i.e. ``U(-1/sqrt(n), 1/sqrt(n))``
with ``n`` the layer's fan-in, and ``U(-1/sqrt(n), 1/sqrt(n))`` for the bias. A parameter drawn
uniformly from the whole model comes from layer ``k`` with probability ``pi_k = n_k (n_{k-1} + 1) / P``
(its share of the ``P`` parameters), so

    f_X(x) = sum_k pi_k sqrt(n_{k-1}) / 2 * 1[|x| <= 1/sqrt(n_{k-1})],

a symmetric staircase density; for 784-128-64-10 (`numeric.mnist_model.LAYER_SIZES`) it has three
steps, at 1/28, 1/sqrt(128) and 1/8. Why the scale must fall with width: the pre-activation
``z = sum_{i<=n} w_i x_i + b`` has ``Var z = n Var(w) E[x^2] + Var(b)``, which grows like ``n`` unless
``Var(w) ~ 1/n``; with PyTorch's bound ``Var(w) = 1/(3n)`` and ``Var z = E[x^2]/3 + 1/(3n)``.
The derived CDF (`mixture_cdf`) is what `numeric.q4a_init` tests the real model against (KS test).
"""

from __future__ import annotations

from functools import cache

import sympy as sp
from sympy.stats import Normal, Uniform, variance

from derivations.core import Context, Derivation, Result, Section, Step, latex

x = sp.Symbol("x", real=True)  # a parameter's value
n_in = sp.Symbol("n", integer=True, positive=True)  # a layer's fan-in
a_bound = sp.Symbol("a", positive=True)  # half-width of a uniform
sigma_w = sp.Symbol("sigma_w", positive=True)
m_x, s_x = sp.Symbol("mu_x", real=True), sp.Symbol("s_x", positive=True)  # input mean, std
c_target = sp.Symbol("c", positive=True)  # a width-independent target variance factor
s_z = sp.Symbol("s_z", positive=True)  # std of a zero-mean Gaussian pre-activation


def default_layer_sizes() -> tuple[int, ...]:
    """The Q4 MLP's sizes, stated once in `numeric.mnist_model` (imported only when needed)."""
    from numeric.mnist_model import LAYER_SIZES

    return LAYER_SIZES


def _check_sizes(sizes: tuple[int, ...]) -> tuple[int, ...]:
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive ints, got {sizes!r}")
    return tuple(sizes)


def kaiming_uniform_bound(slope: sp.Expr, fan_in: sp.Expr) -> sp.Expr:
    """torch.nn.init.kaiming_uniform_'s bound: gain(a) sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2))."""
    return sp.sqrt(2 / (1 + slope**2)) * sp.sqrt(3 / fan_in)


def layers(sizes: tuple[int, ...] | None = None) -> list[dict[str, sp.Expr | int]]:
    """Per nn.Linear layer: fan_in, fan_out, parameter count, bound (weights and bias share it)."""
    sizes = _check_sizes(default_layer_sizes() if sizes is None else sizes)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = sp.nsimplify(kaiming_uniform_bound(sp.sqrt(5), sp.Integer(fan_in)))
        out.append({"fan_in": fan_in, "fan_out": fan_out, "count": fan_out * (fan_in + 1), "bound": bound})
    return out


def mixture_weights(sizes: tuple[int, ...] | None = None) -> list[sp.Rational]:
    """``pi_k``: layer ``k``'s share of all parameters (exact rationals)."""
    ls = layers(sizes)
    total = sum(layer["count"] for layer in ls)
    return [sp.Rational(layer["count"], total) for layer in ls]


def _uniform_pdf(a: sp.Expr) -> sp.Expr:
    return sp.Piecewise((1 / (2 * a), sp.Abs(x) <= a), (0, True))


def _uniform_cdf(a: sp.Expr) -> sp.Expr:
    return sp.Piecewise((0, x < -a), ((x + a) / (2 * a), x <= a), (1, True))


def _pairs(sizes: tuple[int, ...] | None) -> list[tuple[sp.Rational, dict]]:
    """(pi_k, layer k) for every layer."""
    return list(zip(mixture_weights(sizes), layers(sizes), strict=True))


def mixture_sum(sizes: tuple[int, ...] | None = None) -> sp.Expr:
    """``sum_k pi_k f_k(x)``: the law of total probability over the layer a parameter came from."""
    return sp.Add(*[w * _uniform_pdf(ly["bound"]) for w, ly in _pairs(sizes)])


def _components_at(point: sp.Expr, sizes: tuple[int, ...] | None) -> sp.Expr:
    """``sum_k pi_k f_k(point)`` left unevaluated, so the report shows each layer's contribution."""
    terms = [sp.Mul(w, _uniform_pdf(ly["bound"]).subs(x, point), evaluate=False) for w, ly in _pairs(sizes)]
    return sp.Add(*terms, evaluate=False)


def _regions(sizes: tuple[int, ...] | None) -> list[tuple[sp.Expr, sp.Expr]]:
    """(bound b_j, density on b_{j-1} < |x| <= b_j) for the distinct bounds, ascending."""
    pairs = _pairs(sizes)
    bounds = sorted({ly["bound"] for _, ly in pairs}, key=float)

    def value(b: sp.Expr) -> sp.Expr:  # every layer whose bound reaches this region contributes
        return sp.nsimplify(sum(w / (2 * ly["bound"]) for w, ly in pairs if float(ly["bound"]) >= float(b)))

    return [(b, value(b)) for b in bounds]


def mixture_pdf(sizes: tuple[int, ...] | None = None) -> sp.Piecewise:
    """The staircase density: first matching ``|x| <= b_j`` (ascending) gives the value."""
    return sp.Piecewise(*[(v, sp.Abs(x) <= b) for b, v in _regions(sizes)], (0, True))


def mixture_cdf(sizes: tuple[int, ...] | None = None) -> sp.Expr:
    """``F_X(x) = sum_k pi_k F_k(x)``, each ``F_k`` the CDF of ``U(-b_k, b_k)``."""
    return sp.Add(*[w * _uniform_cdf(ly["bound"]) for w, ly in _pairs(sizes)])


def mixture_variance(sizes: tuple[int, ...] | None = None) -> sp.Expr:
    """``Var X = sum_k pi_k b_k^2 / 3`` (zero mean; each component's variance is b^2/3)."""
    return sp.nsimplify(sum(w * ly["bound"] ** 2 / 3 for w, ly in _pairs(sizes)))


def pdf_latex(sizes: tuple[int, ...] | None = None) -> str:
    """The staircase density as a LaTeX cases block, each region written out (with decimals)."""
    rows, lo = [], None
    for b, v in _regions(sizes):
        cond = f"|x| \\le {sp.latex(b)}" if lo is None else f"{sp.latex(lo)} < |x| \\le {sp.latex(b)}"
        rows.append(f"{sp.latex(v)} \\approx {float(v):.4g} & {cond}")
        lo = b
    rows.append(f"0 & |x| > {sp.latex(lo)}")
    return "f_X(x) = \\begin{cases} " + " \\\\ ".join(rows) + " \\end{cases}"


def _pdf_derivation(sizes: tuple[int, ...] | None) -> Derivation:
    pdf, regions = mixture_pdf(sizes), _regions(sizes)
    mix, cdf = mixture_sum(sizes), mixture_cdf(sizes)
    edges = [sp.Integer(0)] + [b for b, _ in regions]
    steps = [
        Step(
            kaiming_uniform_bound(sp.sqrt(5), n_in),
            1 / sp.sqrt(n_in),
            r"kaiming_uniform_ with $a = \sqrt{5}$: gain $\sqrt{2/(1+a^2)} = 1/\sqrt{3}$, bound $= \mathrm{gain}\sqrt{3/n} = 1/\sqrt{n}$",
            kind="definition",
        ),
    ]
    for j, (b, v) in enumerate(regions):
        mid = (edges[j] + b) / 2  # every component density is constant on b_{j-1} < |x| <= b_j
        steps.append(
            Step(
                _components_at(mid, sizes),
                v,
                f"on ${sp.latex(edges[j])} < |x| \\le {sp.latex(b)}$ the mixture is the constant "
                r"$\sum_{k: b_k \ge |x|} \pi_k / (2 b_k)$ (checked at an interior point)",
            )
        )
    steps += [
        Step(_components_at(2 * edges[-1], sizes), 0, r"no parameter lies beyond the widest bound"),
        Step(
            mix,
            pdf,
            r"so the mixture $\sum_k \pi_k f_k$ is the staircase $f_X$ (the whole function, symbolically)",
        ),
        Step(sp.integrate(pdf, (x, -sp.oo, sp.oo)), 1, r"$\int f_X = 1$: a density"),
        Step(
            sp.integrate(x**2 * pdf, (x, -sp.oo, sp.oo)),
            mixture_variance(sizes),
            r"$\mathrm{Var}\, X = \sum_k \pi_k b_k^2 / 3$",
        ),
        Step(
            sp.integrate(pdf, (x, -sp.oo, edges[1])),
            cdf.subs(x, edges[1]),
            r"the CDF $F_X = \sum_k \pi_k F_k$ is the integral of $f_X$ (at the first step)",
        ),
        Step(cdf.subs(x, 0), sp.Rational(1, 2), r"$F_X(0) = 1/2$: symmetric about zero"),
        Step(cdf.subs(x, edges[-1]), 1, r"$F_X(b_{max}) = 1$"),
    ]
    return Derivation(
        "q4a_pdf",
        "PDF of a randomly chosen initial parameter",
        steps,
        Result("pdf", pdf, (x,)),
        statement=r"$f_X(x) = \sum_k \pi_k \frac{\sqrt{n_{k-1}}}{2} \mathbf{1}[|x| \le 1/\sqrt{n_{k-1}}]$ with $\pi_k = n_k (n_{k-1}+1)/P$.",
        argument=r"Weights and biases of layer $k$ are both $U(-1/\sqrt{n_{k-1}}, 1/\sqrt{n_{k-1}})$; a parameter chosen uniformly among all $P$ is in layer $k$ with probability $\pi_k$, and the law of total probability gives the mixture.",
    )


def _variance_derivation() -> Derivation:
    W = Uniform("W", -a_bound, a_bound)
    X = Normal("X_in", m_x, s_x)  # any input law with these moments; Normal for sympy.stats
    q = m_x**2 + s_x**2  # E[x^2]
    var_z = n_in * sigma_w**2 * q  # weights' part of Var z
    pytorch = var_z.subs(sigma_w, 1 / sp.sqrt(3 * n_in)) + 1 / (3 * n_in)
    a_needed = sp.solve(sp.Eq(n_in * a_bound**2 / 3 * q, c_target * q), a_bound)
    steps = [
        Step(
            sp.Integral(x**2 / (2 * a_bound), (x, -a_bound, a_bound)),
            a_bound**2 / 3,
            r"$\mathrm{Var}\, U(-a, a) = a^2/3$",
            kind="expectation",
        ),
        Step(
            sp.simplify(variance(W * X)),
            a_bound**2 / 3 * q,
            r"independent $w$ (zero mean) and $x$: $\mathrm{Var}(w x) = \mathrm{Var}(w) E[x^2]$",
            kind="expectation",
        ),
        Step(
            sp.Sum(sigma_w**2 * q, (sp.Symbol("i", integer=True), 1, n_in)).doit(),
            var_z,
            r"$z = \sum_{i=1}^{n} w_i x_i$: independent terms, variances add; grows like the fan-in $n$",
            kind="expectation",
        ),
        Step(
            sp.Matrix(a_needed),
            sp.Matrix([sp.sqrt(3 * c_target / n_in)]),
            r"a width-independent $\mathrm{Var}\, z = c\, E[x^2]$ forces the bound $a = \sqrt{3c/n} \propto 1/\sqrt{n}$",
        ),
        Step(
            pytorch,
            q / 3 + 1 / (3 * n_in),
            r"PyTorch ($a = 1/\sqrt{n}$, bias too): $\mathrm{Var}\, z = E[x^2]/3 + 1/(3n)$, bounded in $n$",
        ),
        Step(
            relu_second_moment(),
            s_z**2 / 2,
            r"after a ReLU, $E[\mathrm{relu}(z)^2] = \mathrm{Var}(z)/2$ for symmetric $z$ (Gaussian shown)",
            kind="expectation",
        ),
        Step(
            relu_layer_gain(1 / (3 * n_in)),
            sp.Rational(1, 6),
            r"so PyTorch's default, $n \cdot \frac{1}{3n} \cdot E[\mathrm{relu}(z)^2]/\mathrm{Var}(z)$ with the integral above,"
            r" scales the variance by $1/6$ per ReLU layer, for every width"
            f" (Kaiming's $2/n$ gives ${sp.latex(relu_layer_gain(2 / n_in))}$)",
        ),
    ]
    return Derivation(
        "q4a_why_scale",
        "Why the initial scale must fall as the layer widens",
        steps,
        Result("var_z_pytorch", pytorch, (n_in, m_x, s_x)),
        statement=r"$\mathrm{Var}\, z = n\, \mathrm{Var}(w)\, E[x^2] + \mathrm{Var}(b)$: a fixed weight scale makes the pre-activation variance grow linearly with the fan-in $n$; $\mathrm{std}(w) \propto 1/\sqrt{n}$ keeps it constant.",
    )


@cache
def relu_second_moment() -> sp.Expr:
    """``E[relu(z)^2]`` for ``z ~ N(0, s_z^2)``: the Gaussian integral over ``z > 0`` (computed, = s_z^2 / 2)."""
    gauss = sp.exp(-(x**2) / (2 * s_z**2)) / (sp.sqrt(2 * sp.pi) * s_z)
    return sp.integrate(x**2 * gauss, (x, 0, sp.oo))


def relu_layer_gain(var_w: sp.Expr) -> sp.Expr:
    """Var z_(l+1) / Var z_l through a ReLU layer of fan-in n with weight variance ``var_w`` (no bias).

    ``n var_w E[relu(z)^2] / Var z``, with `relu_second_moment` supplying the ReLU's factor.
    """
    return sp.simplify(n_in * var_w * relu_second_moment() / s_z**2)


def derive(ctx: Context, sizes: tuple[int, ...] | None = None) -> Section:
    """Q4A.1's derivations, the ``pdf`` answer (SymPy string) and the prose."""
    ls, ws = layers(sizes), mixture_weights(sizes)
    pdf = mixture_pdf(sizes)
    total = sum(layer["count"] for layer in ls)
    arch = "-".join(str(s) for s in _check_sizes(default_layer_sizes() if sizes is None else sizes))
    comps = ", ".join(
        f"$\\pi_{k + 1} = {sp.latex(w)}$ on $|x| \\le {sp.latex(layer['bound'])}$"
        for k, (w, layer) in enumerate(zip(ws, ls, strict=True))
    )
    from derivations.q4b_weight_decay import wd_over_l2_ratio  # 4A.4 is 4B.1: its answer, computed there
    from derivations.symbols import lambda_l2

    text = {
        "items": (
            "Items 1 to 3 are answered in order below: the PDF of an initial parameter and why the scale falls with "
            "width, then the trained distributions with the histograms. Item 4 is word for word Question 4B.1 and is "
            f"answered there: for plain SGD the two updates coincide when $\\lambda_{{wd}} = "
            f"{latex(wd_over_l2_ratio() * lambda_l2)}$."
        ),
        "pdf": (
            "PyTorch's nn.Linear initialises its weight with kaiming_uniform_(a = sqrt(5)) and its bias uniformly, both "
            r"$U(-1/\sqrt{n}, 1/\sqrt{n})$ with $n$ the layer's fan-in. A parameter chosen at random comes from layer $k$ "
            r"with probability equal to its share of the parameters, $\pi_k = n_k(n_{k-1}+1)/P$, so $X$ is a mixture of "
            f"centred uniforms. For the {arch} network ($P = {total}$ parameters): {comps}, which gives the staircase density "
            f"$${pdf_latex(sizes)}$$"
        ),
        "why_scale": (
            r"A pre-activation $z = \sum_{i=1}^{n} w_i x_i + b$ with independent zero-mean weights has "
            r"$\mathrm{Var}\, z = n\, \mathrm{Var}(w)\, E[x^2] + \mathrm{Var}(b)$. With a fixed weight scale this grows linearly "
            r"with the width $n$ of the layer feeding it, and through depth the activations and gradients explode; "
            r"$\mathrm{std}(w) \propto 1/\sqrt{n}$ makes it width-independent. PyTorch's bound $1/\sqrt{n}$ gives "
            r"$\mathrm{Var}(w) = 1/(3n)$ and $\mathrm{Var}\, z = E[x^2]/3 + 1/(3n)$ (a ReLU then halves $E[x^2]$: a factor "
            f"${sp.latex(relu_layer_gain(1 / (3 * n_in)))}$ per layer, independent of width, where Kaiming's $\\mathrm{{Var}}(w) = 2/n$ "
            f"would give ${sp.latex(relu_layer_gain(2 / n_in))}$)."
        ),
    }
    return Section(
        answers={"pdf": sp.sstr(pdf)},
        derivations=[_pdf_derivation(sizes), _variance_derivation()],
        metrics={
            "init_layers": [
                {
                    **{k: ly[k] for k in ("fan_in", "fan_out", "count")},
                    "bound": float(ly["bound"]),
                    "share": float(w),
                }
                for w, ly in _pairs(sizes)
            ],
            "init_variance": float(mixture_variance(sizes)),
        },
        text=text,
    )
