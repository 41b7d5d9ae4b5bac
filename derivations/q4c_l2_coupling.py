"""Q4C.2: what an l2 term in the loss does to a weight under SGD+momentum, RMSProp and Adam.

With an l2 term the gradient is ``g + lambda w`` (PyTorch's ``weight_decay=lambda``), and the
optimiser processes it like any other gradient:

- momentum: ``b_t = sum_k rho^(t-k) (g_k + lambda w_(k-1))`` -- the decay acts through *past* weights
  and, in the steady state (``b = rho b + lambda w``), is amplified to ``lambda w / (1 - rho)``;
- RMSProp: the step is ``eta (g + lambda w) / (sqrt(v) + eps)``, so the decay ``eta lambda w / (sqrt(v) + eps)``
  is divided by the gradient's RMS: weights with a large gradient history are barely regularised;
- Adam: both -- the bias-corrected EMA of a constant ``lambda w`` is exactly ``lambda w``, then divided
  by ``sqrt(v_hat) + eps``.

Decoupled decay (SGDW / AdamW) instead subtracts ``eta lambda w_(t-1)`` directly: the same rate for
every coordinate, independent of the gradient history. `numeric.q4c_l2_coupling` measures the
per-coordinate effective decay with torch.optim.
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step
from derivations.q4c_adam import geometric_sum
from derivations.symbols import beta1, eps, eta, i, t
from derivations.symbols import momentum as rho  # 0 < rho < 1

RHO_EXAMPLE = sp.Rational(9, 10)  # the usual momentum, for the amplification quoted in the prose
lam = sp.Symbol("lambda", nonnegative=True)  # PyTorch's weight_decay (the l2 term is lambda/2 ||w||^2)
v, v_a, v_b = sp.symbols("v v_a v_b", positive=True)  # second-moment estimates (per coordinate)
s_rms = sp.Symbol("s", positive=True)  # a coordinate's gradient RMS
alpha = sp.Symbol("alpha", positive=True)  # RMSProp's smoothing constant (torch's alpha), 0 < alpha < 1
w_now, w_const, b_ss = sp.symbols("w_{t-1} w b", real=True)
g = sp.Function("g")  # data gradient at step k
w = sp.Function("w")  # weight after step k


def momentum_buffer(upper: sp.Expr = t) -> sp.Expr:
    """torch SGD's buffer after ``upper`` steps with an l2 gradient: ``sum rho^(t-k) (g_k + lambda w_(k-1))``."""
    return sp.Sum(rho ** (upper - i) * (g(i) + lam * w(i - 1)), (i, 1, upper))


def _momentum() -> Derivation:
    _, closed = geometric_sum(rho)
    term = rho ** (t - i) * (g(i) + lam * w(i - 1))
    (steady,) = sp.solve(sp.Eq(b_ss, rho * b_ss + lam * w_const), b_ss)
    coupled = w(t - 1) - eta * momentum_buffer()
    decoupled = w(t - 1) - eta * sp.Sum(rho ** (t - i) * g(i), (i, 1, t)) - eta * lam * w(t - 1)
    steps = [
        Step(
            rho * momentum_buffer(t - 1) + g(t) + lam * w(t - 1),
            sp.Sum(term, (i, 1, t - 1)) + g(t) + lam * w(t - 1),
            r"unroll $b_t = \rho b_{t-1} + (g_t + \lambda w_{t-1})$, $b_0 = 0$, by induction: $\rho$ enters the sum",
        ),
        Step(sp.Sum(term, (i, t, t)), g(t) + lam * w(t - 1), r"the new gradient is the sum's $k = t$ term"),
        Step(
            sp.Sum(term, (i, 1, t - 1)) + sp.Sum(term, (i, t, t)),
            momentum_buffer(),
            r"adjacent ranges combine: $b_t = \sum_{k=1}^{t} \rho^{t-k}(g_k + \lambda w_{k-1})$",
        ),
        Step(
            momentum_buffer(),
            sp.Sum(rho ** (t - i) * g(i), (i, 1, t)) + lam * sp.Sum(rho ** (t - i) * w(i - 1), (i, 1, t)),
            r"the buffer splits into a gradient part and a decay part $\lambda \sum_k \rho^{t-k} w_{k-1}$ over past weights",
        ),
        Step(
            sp.Derivative(coupled, lam),
            -eta * sp.Sum(rho ** (t - i) * w(i - 1), (i, 1, t)),
            r"the $\lambda$-coefficient of one step $w_{t-1} - \eta b_t$, the past weights held fixed: the decay of step $t$"
            r" is a weighted sum of all earlier weights",
        ),
        Step(
            lam * w_const * closed,
            lam * w_const * (1 - rho**t) / (1 - rho),
            r"for a constant weight the decay grows to $\lambda w (1-\rho^t)/(1-\rho)$ ($0<\rho<1$)",
        ),
        Step(
            steady,
            lam * w_const / (1 - rho),
            r"steady state $b = \rho b + \lambda w$: the decay is amplified by $1/(1-\rho)$"
            f" ({steady.subs({rho: RHO_EXAMPLE, lam: 1, w_const: 1})} for $\\rho = {float(RHO_EXAMPLE):g}$)",
        ),
        Step(
            sp.Derivative(decoupled, lam),
            -eta * w(t - 1),
            r"decoupled (SGDW), $w_{t-1} - \eta b_t - \eta\lambda w_{t-1}$ with $b_t$ of the data gradient: the $\lambda$-coefficient"
            r" of one step (past weights held fixed) involves only the current weight, at rate $\eta\lambda$",
        ),
    ]
    return Derivation(
        "q4c_l2_momentum",
        "l2 with SGD + momentum",
        steps,
        Result("momentum_steady_decay", steady, (lam, rho, w_const)),
        statement=r"With momentum the l2 gradient enters the buffer: the decay at step $t$ is $\eta\lambda\sum_k \rho^{t-k} w_{k-1}$, reaching $\eta\lambda w/(1-\rho)$ in the steady state.",
    )


def _rmsprop() -> Derivation:
    step_l2 = eta * (g(t) + lam * w_now) / (sp.sqrt(v) + eps)
    # the expected second moment's fixed point v = alpha v + (1 - alpha) E[g^2], E[g^2] = s^2: solved
    (v_steady,) = sp.solve(sp.Eq(v, alpha * v + (1 - alpha) * s_rms**2), v)

    def rate(vv: sp.Expr) -> sp.Expr:
        return eta * lam / (sp.sqrt(vv) + eps)

    steps = [
        Step(
            step_l2,
            eta * g(t) / (sp.sqrt(v) + eps) + rate(v) * w_now,
            r"RMSProp's step on $g + \lambda w$ splits: the decay is $\eta\lambda w/(\sqrt{v}+\epsilon)$",
        ),
        Step(
            rate(v_a) / rate(v_b),
            (sp.sqrt(v_b) + eps) / (sp.sqrt(v_a) + eps),
            r"two coordinates decay at rates in the inverse ratio of their gradient RMS",
        ),
        Step(
            rate(v_steady),
            eta * lam / (s_rms + eps),
            r"$v = \alpha v + (1-\alpha) g^2$ settles at $E[g^2] = s^2$ (solved): a weight whose gradients have RMS $s$"
            r" is decayed at $\eta\lambda/(s+\epsilon)$, $s$ times less (for $s \gg \epsilon$)",
        ),
    ]
    return Derivation(
        "q4c_l2_rmsprop",
        "l2 with RMSProp",
        steps,
        Result("rmsprop_decay_rate", rate(v), (eta, lam, v, eps)),
        statement=r"RMSProp divides the l2 gradient by $\sqrt{v}+\epsilon$ like the data gradient, so the effective decay rate $\eta\lambda/(\sqrt{v}+\epsilon)$ is smallest exactly where gradients are large.",
    )


def _adam() -> Derivation:
    _, closed = geometric_sum(beta1)
    hat_decay = lam * w_const * (1 - beta1) * closed / (1 - beta1**t)
    m_hat = (1 - beta1) * sp.Sum(beta1 ** (t - i) * (g(i) + lam * w(i - 1)), (i, 1, t)) / (1 - beta1**t)
    steps = [
        Step(
            m_hat,
            (1 - beta1) * sp.Sum(beta1 ** (t - i) * g(i), (i, 1, t)) / (1 - beta1**t)
            + lam * (1 - beta1) * sp.Sum(beta1 ** (t - i) * w(i - 1), (i, 1, t)) / (1 - beta1**t),
            r"$\hat m_t$ splits into the data part and an EMA of past $\lambda w_{k-1}$",
        ),
        Step(
            hat_decay,
            lam * w_const,
            r"for a constant weight the bias-corrected EMA of $\lambda w$ is exactly $\lambda w$ (weights sum to 1)",
        ),
        Step(
            eta * hat_decay / (sp.sqrt(v) + eps),
            eta * lam * w_const / (sp.sqrt(v) + eps),
            r"so Adam decays by $\eta\lambda w/(\sqrt{\hat v}+\epsilon)$: RMSProp's division, with momentum's lag",
        ),
    ]
    return Derivation(
        "q4c_l2_adam",
        "l2 with Adam",
        steps,
        Result("adam_decay_rate", eta * lam / (sp.sqrt(v) + eps), (eta, lam, v, eps)),
        statement=r"Adam's l2 decay is $\eta\lambda w/(\sqrt{\hat v_t}+\epsilon)$ in the steady state: weights with large gradient history are barely regularised.",
    )


def derive(ctx: Context) -> Section:
    """Q4C.2's derivations and prose (a part of Q4C in registry.py)."""
    momentum = _momentum()
    amp = momentum.result.expr.subs({rho: RHO_EXAMPLE, lam: 1, w_const: 1})
    text = {
        "l2_momentum": (
            r"With SGD + momentum the penalty's gradient $\lambda w$ is added to the gradient before the buffer "
            r"$b_t = \rho b_{t-1} + g_t + \lambda w_{t-1}$, so the decay applied at step $t$ is "
            r"$\eta\lambda\sum_{k\le t}\rho^{t-k} w_{k-1}$: it acts through past weights (it keeps pushing a weight towards 0 "
            r"after the weight has moved) and in the steady state it is amplified to $\eta\lambda w/(1-\rho)$, "
            f"{amp} times larger for $\\rho = {float(RHO_EXAMPLE):g}$. "
            r"The decay is entangled with the gradient dynamics and with $\rho$ and $\eta$, "
            r"so $\ell_2$ is no longer the weight decay $\eta\lambda w_{t-1}$ it was for plain SGD."
        ),
        "l2_rmsprop": (
            r"RMSProp divides the whole gradient, penalty included, by $\sqrt{v}+\epsilon$: the effective decay rate is "
            r"$\eta\lambda/(\sqrt{v}+\epsilon)$ per coordinate. Weights with a large gradient history are barely "
            "regularised and those with small gradients are decayed strongly: the regularisation is no longer uniform."
        ),
        "l2_adam": (
            r"Adam combines both: the bias-corrected first moment of a constant $\lambda w$ is exactly $\lambda w$, which is then "
            r"divided by $\sqrt{\hat v_t}+\epsilon$, so the decay $\eta\lambda w/(\sqrt{\hat v_t}+\epsilon)$ again falls on the "
            r"weights with small gradients and spares those with large ones, with momentum's lag on top. Decoupled decay "
            r"subtracts $\eta\lambda w_{t-1}$ outside the adaptive step: one rate for all coordinates."
        ),
    }
    return Section(derivations=[momentum, _rmsprop(), _adam()], text=text)
