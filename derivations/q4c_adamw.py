"""Q4C.3: AdamW's decoupled weight decay, and why it penalises weights as intended where Adam does not.

AdamW (Loshchilov and Hutter) keeps the l2 term out of the moment estimates and decays the weight
directly: ``w_t = w_(t-1) - eta (m_hat_t / (sqrt(v_hat_t) + eps) + lambda w_(t-1))``, which PyTorch
implements as ``w <- (1 - eta lambda) w`` followed by the Adam step (the decay is multiplied by the
learning rate). Every coordinate then decays at the rate ``eta lambda``; Adam with an l2 term decays
at ``2 eta lambda_l2 / (sqrt(v_hat) + eps)`` (the penalty ``lambda_l2 ||w||^2`` has gradient
``2 lambda_l2 w``, `derivations.q4b_weight_decay.l2_penalty_gradient`), and matching AdamW would need
the coordinate-dependent ``lambda_l2 = lambda (sqrt(v_hat) + eps) / 2`` (solved for, not typed).
torch's ``Adam(weight_decay=lambda)`` is coupled l2: the gradient of ``(lambda/2) ||w||^2``, i.e.
``lambda_l2 = lambda/2`` in the problem's notation.
"""

from __future__ import annotations

import sympy as sp

from derivations.core import Context, Derivation, Result, Section, Step, latex
from derivations.q4b_weight_decay import l2_penalty_gradient
from derivations.symbols import beta1, beta2, eps, eta, lambda_l2

lam = sp.Symbol("lambda", nonnegative=True)  # torch's weight_decay
w_prev, g_t, m_prev, v_prev = sp.symbols("w_{t-1} g_t m_{t-1} v_{t-1}", real=True)
m_hat, v_hat = sp.Symbol("mhat_t", real=True), sp.Symbol("vhat_t", positive=True)
wvec = sp.Matrix(sp.symbols("w_1:4", real=True))


def adamw_update() -> sp.Expr:
    """torch.optim.AdamW: decay first (``1 - eta lambda``), then the Adam step."""
    return (1 - eta * lam) * w_prev - eta * m_hat / (sp.sqrt(v_hat) + eps)


def matching_l2() -> sp.Expr:
    """The problem's ``lambda_l2`` whose Adam-l2 decay equals AdamW's ``eta lambda w`` (solved, per coordinate).

    Adam-l2's steady-state decay (Q4C.2) is ``eta grad(lambda_l2 w^2) / (sqrt(v_hat) + eps)``, the
    penalty gradient taken from Q4B (``2 lambda_l2 w``).
    """
    (penalty_grad,) = l2_penalty_gradient(sp.Matrix([w_prev]))
    adam_l2_decay = eta * penalty_grad / (sp.sqrt(v_hat) + eps)
    (matching,) = sp.solve(sp.Eq(adam_l2_decay, eta * lam * w_prev), lambda_l2)
    return matching


def _moments(grad: sp.Expr) -> sp.Matrix:
    """Adam's ``(m_t, v_t)`` after one update with the gradient ``grad``."""
    return sp.Matrix([beta1 * m_prev + (1 - beta1) * grad, beta2 * v_prev + (1 - beta2) * grad**2])


def _adamw() -> Derivation:
    paper = w_prev - eta * (m_hat / (sp.sqrt(v_hat) + eps) + lam * w_prev)
    adam_step = w_prev - eta * m_hat / (sp.sqrt(v_hat) + eps)
    torch_l2 = l2_penalty_gradient(wvec, evaluate=False).subs(lambda_l2, lam / 2)  # weight_decay = lambda
    (torch_l2_scalar,) = l2_penalty_gradient(sp.Matrix([w_prev])).subs(lambda_l2, lam / 2)
    coupled = _moments(g_t + torch_l2_scalar)  # Adam-l2: the penalty's gradient enters the moments
    decoupled = _moments(g_t)  # AdamW: the moments see the data gradient; the decay acts on w directly
    matching = matching_l2()
    steps = [
        Step(
            adamw_update(),
            paper,
            r"PyTorch's $w \leftarrow (1-\eta\lambda) w$, then the Adam step, is the paper's decoupled update",
        ),
        Step(
            coupled - decoupled,
            sp.Matrix(
                [(1 - beta1) * lam * w_prev, (1 - beta2) * (2 * lam * g_t * w_prev + lam**2 * w_prev**2)]
            ),
            r"Adam-$\ell_2$ feeds $g_t + \lambda w_{t-1}$ to $m_t$, $v_t$; AdamW's moments lack exactly these $\lambda$ terms",
        ),
        Step(
            (adam_step - adamw_update()) / (eta * w_prev),
            lam,
            r"the decay removes the fraction $\eta\lambda$ of every weight per step, whatever its gradient history",
        ),
        Step(
            matching,
            lam * (sp.sqrt(v_hat) + eps) / 2,
            r"Adam-$\ell_2$ decays at $2\eta\lambda_{\ell_2}/(\sqrt{\hat v}+\epsilon)$ ($\nabla \lambda_{\ell_2}\|w\|^2 = 2\lambda_{\ell_2} w$);"
            rf" matching AdamW needs $\lambda_{{\ell_2}} = {latex(matching)}$, a different value per coordinate",
        ),
        Step(
            torch_l2,
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
    """Q4C.3's derivation and prose (a part of Q4C in registry.py)."""
    matching = latex(matching_l2().subs(v_hat, sp.Symbol("vhat_j", positive=True)))
    text = {
        "adamw": (
            r"AdamW decouples the decay from the gradient: the moments $m_t$, $v_t$ are computed from $\nabla\mathcal{L}_{data}$ only "
            r"and the update is $w_t = w_{t-1} - \eta\left(\hat m_t/(\sqrt{\hat v_t}+\epsilon) + \lambda w_{t-1}\right)$ "
            r"(PyTorch: $w \leftarrow (1-\eta\lambda)w$, then the Adam step). Every weight loses the same fraction $\eta\lambda$ per "
            r"step, as weight decay intends, whereas Adam with the penalty $\lambda_{\ell_2}\|w\|^2$ decays coordinate $j$ at "
            r"$2\eta\lambda_{\ell_2}/(\sqrt{\hat v_j}+\epsilon)$: "
            rf"reproducing AdamW with $\ell_2$ would need $\lambda_{{\ell_2}} = {matching}$, a different value for "
            "every weight and step. Decoupling also separates the choice of the decay from the adaptive learning-rate scaling."
        ),
    }
    plain = {w_prev: "w_prev", m_hat: "m_hat", v_hat: "v_hat", lam: "weight_decay", eta: "lr", eps: "eps"}
    answer = sp.sstr(adamw_update().xreplace({k: sp.Symbol(n) for k, n in plain.items()}))
    return Section(answers={"adamw_update": answer}, derivations=[_adamw()], text=text)
