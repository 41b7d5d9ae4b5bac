"""Q4A.4 / Q4B: for plain SGD, l2 regularisation and weight decay are the same update.

In the problem's notation (no learning rate) the weight-decay update ``w - (grad L + lambda_wd w)``
equals the l2 update ``w - grad(L + lambda_l2 sum_i w_i^2)`` for every ``w`` and every data
gradient exactly when ``lambda_wd = 2 lambda_l2``. With a learning rate ``eta`` and PyTorch's
convention ``w - eta (grad L + lambda_wd w)`` the relation is the same, ``lambda_wd = 2 lambda_l2``;
written with an un-scaled decay ``(1 - lambda_wd') w - eta grad L`` it is ``lambda_wd' = 2 eta lambda_l2``.
The relations are solved for by SymPy (`wd_over_l2_ratio`), never typed in; because the one-step
maps agree for every state, whole trajectories agree (induction), which `numeric.q4b_weight_decay`
checks against torch.optim.SGD.
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step, latex
from derivations.symbols import eta, lambda_l2, lambda_wd, lambda_wd_lr

VECTOR_D = 4  # coordinates of the concrete weight vector; every coordinate is treated alike


def plain_str(expr: sp.Expr) -> str:
    """A SymPy string that `sympy.sympify` parses back: lambda_l2, lambda_wd, eta as plain names."""
    names = {lambda_l2: "lambda_l2", lambda_wd: "lambda_wd", lambda_wd_lr: "lambda_wd_unscaled"}
    return sp.sstr(expr.xreplace({s: sp.Symbol(n) for s, n in names.items()}))


def _vectors(d: int = VECTOR_D) -> tuple[sp.Matrix, sp.Matrix]:
    w = sp.Matrix(d, 1, lambda a, _: sp.Symbol(f"w_{a + 1}", real=True))
    g = sp.Matrix(d, 1, lambda a, _: sp.Symbol(f"g_{a + 1}", real=True))  # grad of the data loss
    return w, g


def l2_penalty_gradient(w: sp.Matrix, evaluate: bool = True) -> sp.Matrix:
    """``grad_w (lambda_l2 sum_i w_i^2)``, differentiated coordinate by coordinate."""
    penalty = lambda_l2 * sum(wi**2 for wi in w)
    return sp.Matrix(
        [sp.Derivative(penalty, wi).doit() if evaluate else sp.Derivative(penalty, wi) for wi in w]
    )


def _total_loss_gradient(w: sp.Matrix, g: sp.Matrix) -> sp.Matrix:
    """``grad_w (L_data(w) + lambda_l2 sum_i w_i^2)`` for a generic data loss, ``dL_data/dw_i = g_i``."""
    data = sp.Function("L_data")(*w)
    total = data + lambda_l2 * sum(wi**2 for wi in w)
    return sp.Matrix([sp.diff(total, wi) for wi in w]).subs(
        {sp.diff(data, wi): gi for wi, gi in zip(w, g, strict=True)}
    )


def updates(lr: sp.Expr | int = 1) -> dict[str, sp.Matrix]:
    """The one-step maps: weight decay, l2, and un-scaled decay, with learning rate ``lr``."""
    w, g = _vectors()
    return {
        "weight_decay": w - lr * (g + lambda_wd * w),
        "l2": w - lr * (g + l2_penalty_gradient(w)),
        "decay_unscaled": (1 - lambda_wd_lr) * w - lr * g,
    }


def _solve_for(unknown: sp.Symbol, lhs: sp.Matrix, rhs: sp.Matrix) -> sp.Expr:
    """The unique value of ``unknown`` making ``lhs == rhs`` for every w and g."""
    w, g = _vectors()
    # The difference is linear in w and g: every coefficient must vanish.
    coeffs = []
    for e in lhs - rhs:
        poly = sp.Poly(sp.expand(e), *w, *g)
        coeffs.extend(poly.coeffs())
    sols = sp.solve(coeffs, unknown, dict=True)
    if len(sols) != 1:
        raise ValueError(f"expected one solution for {unknown}, got {sols}")
    return sp.simplify(sols[0][unknown])


def wd_over_l2_ratio() -> sp.Expr:
    """``lambda_wd / lambda_l2`` in the problem's notation (no learning rate): solved, not typed."""
    u = updates()
    return sp.simplify(_solve_for(lambda_wd, u["weight_decay"], u["l2"]) / lambda_l2)


def _problem_notation() -> Derivation:
    w, g = _vectors()
    u = updates()
    lam = _solve_for(lambda_wd, u["weight_decay"], u["l2"])
    steps = [
        Step(
            l2_penalty_gradient(w, evaluate=False),
            2 * lambda_l2 * w,
            r"$\partial_{w_j} \lambda_{\ell_2} \sum_i w_i^2 = 2 \lambda_{\ell_2} w_j$: only the $i = j$ term depends on $w_j$",
        ),
        Step(
            w - _total_loss_gradient(w, g),
            u["l2"],
            r"the $\ell_2$ update $w - \nabla_w(\mathcal{L}_{data} + \lambda_{\ell_2} \|w\|^2)$, the whole loss differentiated"
            r" ($\nabla_w \mathcal{L}_{data} = g$), is the data step plus the penalty's gradient",
        ),
        Step(
            u["weight_decay"] - u["l2"],
            (2 * lambda_l2 - lambda_wd) * w,
            r"the two updates differ by $(2\lambda_{\ell_2} - \lambda_{wd}) w$, whatever the data gradient",
        ),
        Step(
            u["weight_decay"].subs(lambda_wd, lam),
            u["l2"],
            f"with $\\lambda_{{wd}} = {latex(lam)}$ (the solution for every $w$) they coincide",
        ),
    ]
    return Derivation(
        "q4b_problem_notation",
        "l2 regularisation equals weight decay for SGD (problem's notation)",
        steps,
        Result("lambda_wd", lam, (lambda_l2,)),
        statement=r"For every weight vector $w$ and data gradient $g$: $w - (g + \lambda_{wd} w) = w - \nabla_w(\mathcal{L}_{data}"
        rf" + \lambda_{{\ell_2}} \sum_i w_i^2)$ if and only if $\lambda_{{wd}} = {latex(lam)}$.",
        argument=f"Shown on a {VECTOR_D}-vector; each coordinate's equation involves only that coordinate, so the same holds in any dimension. Equal one-step maps give equal trajectories from the same start, by induction on the step count.",
    )


def _with_learning_rate() -> Derivation:
    w, g = _vectors()
    u = updates(eta)
    lam = _solve_for(lambda_wd, u["weight_decay"], u["l2"])
    lam_unscaled = _solve_for(lambda_wd_lr, u["decay_unscaled"], u["l2"])
    steps = [
        Step(
            u["l2"],
            (1 - 2 * eta * lambda_l2) * w - eta * g,
            r"$\ell_2$ with step size $\eta$: the weight shrinks by the factor $1 - 2\eta\lambda_{\ell_2}$ before the gradient step",
        ),
        Step(
            u["weight_decay"],
            (1 - eta * lambda_wd) * w - eta * g,
            r"PyTorch's SGD weight decay $w - \eta(g + \lambda_{wd} w)$ shrinks by $1 - \eta\lambda_{wd}$",
        ),
        Step(
            u["weight_decay"].subs(lambda_wd, lam),
            u["l2"],
            f"equal for every $w, g$ iff $\\lambda_{{wd}} = {latex(lam)}$: the learning rate cancels",
        ),
        Step(
            u["decay_unscaled"].subs(lambda_wd_lr, lam_unscaled),
            u["l2"],
            r"a decay not multiplied by $\eta$, $(1 - \lambda_{wd}') w - \eta g$, needs"
            f" $\\lambda_{{wd}}' = {latex(lam_unscaled)}$",
        ),
    ]
    return Derivation(
        "q4b_learning_rate",
        "The same equivalence with a learning rate",
        steps,
        Result("lambda_wd_unscaled", lam_unscaled, (eta, lambda_l2)),
        statement=rf"With a learning rate: $w - \eta(g + \lambda_{{wd}} w)$ equals the $\ell_2$ step iff $\lambda_{{wd}} = {latex(lam)}$;"
        rf" a decay outside the learning rate must be $\lambda_{{wd}}' = {latex(lam_unscaled)}$, so its optimal value is tied to $\eta$.",
    )


def derive(ctx: Context) -> Section:
    """Q4B's section: both derivations, the ratio answer and the prose."""
    ratio = wd_over_l2_ratio()
    with_lr = _with_learning_rate()
    unscaled = with_lr.result.expr
    ratio_num = float(ratio)
    text = {
        "equivalence": (
            r"The $\ell_2$ penalty $\lambda_{\ell_2} \sum_i w_i^2$ has gradient $2\lambda_{\ell_2} w$, so the $\ell_2$ update is "
            r"$w - (\nabla_w \mathcal{L}_{data} + 2\lambda_{\ell_2} w)$: the weight-decay update with "
            f"$\\lambda_{{wd}} = {latex(ratio * lambda_l2)}$ (ratio $\\lambda_{{wd}}/\\lambda_{{\\ell_2}} = {ratio_num:g}$). "
            "The two one-step maps are identical for every weight vector and every data gradient, so starting from the "
            "same weights they produce the same trajectory at every step (induction): for plain SGD the two methods are one."
        ),
        "with_learning_rate": (
            r"With a learning rate $\eta$ and the decay inside it, $w - \eta(\nabla_w \mathcal{L}_{data} + \lambda_{wd} w)$, "
            f"the relation is again $\\lambda_{{wd}} = {latex(ratio * lambda_l2)}$ (this is torch.optim.SGD's weight_decay). "
            f"If the decay is applied outside the learning rate, $w \\leftarrow (1 - \\lambda_{{wd}}') w - \\eta \\nabla_w \\mathcal{{L}}_{{data}}$, "
            f"the equivalent value is $\\lambda_{{wd}}' = {latex(unscaled)}$: equivalent still, but the best decay now depends on the learning rate."
        ),
    }
    return Section(
        answers={
            "lambda_wd_over_lambda_l2": ratio_num,
            "lambda_wd_unscaled_with_lr": plain_str(unscaled),
        },
        derivations=[_problem_notation(), with_lr],
        text=text,
    )
