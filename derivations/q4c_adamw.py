"""Q4C.3: AdamW's decoupled weight decay, and why it penalises weights as intended where Adam does not.

AdamW (Loshchilov and Hutter) keeps the l2 term out of the moment estimates and decays the weight
directly: ``w_t = w_(t-1) - eta (m_hat_t / (sqrt(v_hat_t) + eps) + lambda w_(t-1))``, which PyTorch
implements as ``w <- (1 - eta lambda) w`` followed by the Adam step (the decay is multiplied by the
learning rate). Every coordinate then decays at the rate ``eta lambda``; Adam with an l2 term decays
at ``eta lambda / (sqrt(v_hat) + eps)``, and matching AdamW would need the coordinate-dependent
``lambda_l2 = lambda (sqrt(v_hat) + eps)``. torch's ``Adam(weight_decay=lambda)`` is coupled l2: the
gradient of ``(lambda/2) ||w||^2``, i.e. ``lambda_l2 = lambda/2`` in the problem's notation.
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step
from derivations.symbols import beta1, beta2, eps, eta

lam = sp.Symbol("lambda", nonnegative=True)  # torch's weight_decay
lam_l2 = sp.Symbol("lambdaprime_l2", nonnegative=True)  # an Adam-l2 coefficient to be matched to AdamW
w_prev, g_t, m_prev, v_prev = sp.symbols("w_{t-1} g_t m_{t-1} v_{t-1}", real=True)
m_hat, v_hat = sp.Symbol("mhat_t", real=True), sp.Symbol("vhat_t", positive=True)
wvec = sp.Matrix(sp.symbols("w_1:4", real=True))


def adamw_update() -> sp.Expr:
    """torch.optim.AdamW: decay first (``1 - eta lambda``), then the Adam step."""
    return (1 - eta * lam) * w_prev - eta * m_hat / (sp.sqrt(v_hat) + eps)


def _adamw() -> Derivation:
    paper = w_prev - eta * (m_hat / (sp.sqrt(v_hat) + eps) + lam * w_prev)
    adam_step = w_prev - eta * m_hat / (sp.sqrt(v_hat) + eps)
    m_t = beta1 * m_prev + (1 - beta1) * g_t  # moments from the data gradient only
    v_t = beta2 * v_prev + (1 - beta2) * g_t**2
    adam_l2_decay = eta * lam_l2 * w_prev / (sp.sqrt(v_hat) + eps)  # Q4C.2's steady state
    (matching,) = sp.solve(sp.Eq(adam_l2_decay, eta * lam * w_prev), lam_l2)
    penalty = lam / 2 * sum(wi**2 for wi in wvec)
    steps = [
        Step(
            adamw_update(),
            paper,
            r"PyTorch's $w \leftarrow (1-\eta\lambda) w$, then the Adam step, is the paper's decoupled update",
        ),
        Step(
            sp.Matrix([sp.Derivative(m_t, lam), sp.Derivative(v_t, lam)]),
            sp.zeros(2, 1),
            r"the moments see only the data gradient: the decay never enters $m_t$, $v_t$",
        ),
        Step(
            (adam_step - adamw_update()) / (eta * w_prev),
            lam,
            r"the decay removes the fraction $\eta\lambda$ of every weight per step, whatever its gradient history",
        ),
        Step(
            sp.Matrix([matching]),
            sp.Matrix([lam * (sp.sqrt(v_hat) + eps)]),
            r"Adam-$\ell_2$ decays at $\eta\lambda_{\ell_2}/(\sqrt{\hat v}+\epsilon)$; matching AdamW needs a different $\lambda_{\ell_2}$ per coordinate",
        ),
        Step(
            sp.Matrix([sp.Derivative(penalty, wi) for wi in wvec]),
            lam * wvec,
            r"torch's Adam(weight_decay $=\lambda$) adds $\lambda w$ to the gradient: the gradient of $(\lambda/2)\|w\|^2$",
        ),
    ]
    return Derivation(
        "q4c_adamw",
        "AdamW: decoupled weight decay",
        steps,
        Result("adamw_update", adamw_update(), (w_prev, m_hat, v_hat, eta, lam, eps)),
        statement=r"AdamW: $w_t = w_{t-1} - \eta\left(\hat m_t/(\sqrt{\hat v_t}+\epsilon) + \lambda w_{t-1}\right)$ with $m_t$, $v_t$ built from the data gradient alone.",
    )


def derive(ctx: Context) -> Section:
    """Q4C.3's derivation and prose (merged into Q4C by `derivations.q4c_adam.derive`)."""
    text = {
        "adamw": (
            r"AdamW decouples the decay from the gradient: the moments $m_t$, $v_t$ are computed from $\nabla\mathcal{L}_{data}$ only "
            r"and the update is $w_t = w_{t-1} - \eta\left(\hat m_t/(\sqrt{\hat v_t}+\epsilon) + \lambda w_{t-1}\right)$ "
            r"(PyTorch: $w \leftarrow (1-\eta\lambda)w$, then the Adam step). Every weight loses the same fraction $\eta\lambda$ per "
            r"step, as weight decay intends, whereas Adam with $\ell_2$ decays coordinate $j$ at $\eta\lambda/(\sqrt{\hat v_j}+\epsilon)$: "
            r"reproducing AdamW with $\ell_2$ would need $\lambda_{\ell_2} = \lambda(\sqrt{\hat v_j}+\epsilon)$, a different value for "
            "every weight and step. Decoupling also separates the choice of the decay from the adaptive learning-rate scaling."
        ),
    }
    plain = {w_prev: "w_prev", m_hat: "m_hat", v_hat: "v_hat", lam: "weight_decay", eta: "lr", eps: "eps"}
    answer = sp.sstr(adamw_update().xreplace({k: sp.Symbol(n) for k, n in plain.items()}))
    return Section(answers={"adamw_update": answer}, derivations=[_adamw()], text=text)
