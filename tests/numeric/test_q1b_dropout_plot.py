"""Q1B: dropout training lands on the closed-form ridge solution; the figure and table are written."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.q1a_dropout import fg
from numeric.q1b_dropout_plot import Config, dropout_objective, make_data, ridge_solution, run


def test_ridge_solution_is_the_stationary_point():
    X, y, _, _ = make_data(Config())
    for conv in ("plain", "inverted"):
        w = ridge_solution(X, y, 0.4, conv)
        eps = 1e-6
        grad = [(dropout_objective(X, y, w + eps * e, 0.4, conv) - dropout_objective(X, y, w - eps * e, 0.4, conv))
                / (2 * eps) for e in np.eye(len(w))]
        assert np.max(np.abs(grad)) < 1e-6  # central differences on a quadratic: round-off only
    # plain and inverted describe the same predictor: f * w_plain = w_inverted
    assert np.allclose(0.6 * ridge_solution(X, y, 0.4, "plain"), ridge_solution(X, y, 0.4, "inverted"), rtol=1e-12)


def test_bad_input_raises():
    X, y, _, _ = make_data(Config())
    with pytest.raises(ValueError, match="p must"):
        ridge_solution(X, y, 1.0, "inverted")
    with pytest.raises(ValueError, match="y has 3 entries"):
        ridge_solution(X, y[:3], 0.5, "inverted")
    with pytest.raises(ValueError, match="X has non-finite"):
        dropout_objective(np.full_like(X, np.nan), y, np.zeros(X.shape[1]), 0.5, "plain")
    with pytest.raises(ValueError, match="Config.steps"):
        Config(steps=0)
    with pytest.raises(ValueError, match="p must"):
        Config(ps=(0.5, 1.0))
    with pytest.raises(ValueError, match="Config.n must be at least"):
        Config(n=3, d=5)


def test_run_passes_and_writes_figure(ctx):
    sec = run(ctx)
    assert sec.checks and all(c.passed for c in sec.checks), [c.name for c in sec.checks if not c.passed]
    fig = sec.figures["loss_vs_p"]
    for ext in ("pdf", "svg"):
        assert (ctx.out_dir / fig[ext]).stat().st_size > 1000
    rows = sec.tables["loss_vs_p"]["rows"]
    assert len(rows) == 2 * len(sec.metrics["config"]["ps"])
    inverted = [r for r in rows if r[0] == "inverted"]  # the closed-form loss rises with p, as the text says
    assert all(b >= a for a, b in zip([r[3] for r in inverted], [r[3] for r in inverted][1:], strict=False))


def test_weight_check_can_fail():
    """The trained weights match their own convention's ridge solution and not the other's or OLS."""
    from numeric.q1b_dropout_plot import TOL_WEIGHTS, train_dropout

    cfg = Config(ps=(0.5,), steps=400)
    X, y, _, _ = make_data(cfg)
    W = train_dropout(X, y, cfg, cfg.steps)
    rel = lambda a, b: np.linalg.norm(a - b) / np.linalg.norm(b)  # noqa: E731
    w_inv = W[1, 0]  # CONVENTIONS = ("plain", "inverted")
    assert rel(w_inv, ridge_solution(X, y, 0.5, "inverted")) <= TOL_WEIGHTS
    assert rel(w_inv, ridge_solution(X, y, 0.5, "plain")) > 5 * TOL_WEIGHTS
    assert rel(w_inv, np.linalg.lstsq(X, y, rcond=None)[0]) > 5 * TOL_WEIGHTS


def test_dropout_objective_is_the_q1a_closed_form_per_example():

    X, y, _, _ = make_data(Config())
    w = np.linspace(-1.0, 1.0, X.shape[1])
    for conv in ("plain", "inverted"):
        f, g = fg(0.3, conv)
        by_hand = (np.sum((y - f * X @ w) ** 2) + g * np.sum(np.diag(X.T @ X) * w**2)) / len(y)
        assert dropout_objective(X, y, w, 0.3, conv) == pytest.approx(by_hand, rel=1e-12)


def test_training_leaves_the_global_rng_alone():
    import torch

    from numeric.q1b_dropout_plot import train_dropout

    cfg = Config(ps=(0.5,), steps=4)
    X, y, _, _ = make_data(cfg)
    state = torch.random.get_rng_state()
    w1 = train_dropout(X, y, cfg, cfg.steps)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(123)  # a different global state must not change the result: the seed is cfg's
    assert np.array_equal(train_dropout(X, y, cfg, cfg.steps), w1)


def test_answer_text_reports_failures_and_computed_g():
    from derivations.core import Check
    from numeric.q1b_dropout_plot import _answer_text

    rows = [["inverted", 0.0, 1.0, 1.0, 1.0, 1.0, 0.01], ["inverted", 0.5, 2.0, 2.0, 2.0, 2.0, 0.01]]
    ok = _answer_text([Check("a", True, 0.0, 1.0)], rows, 0.01, 1e-6)
    assert "reaches the closed-form ridge solution" in ok and r"\frac{p}{1 - p}" in ok and "rises with $p$" in ok
    bad = _answer_text([Check("a", False, 1.0, 0.0)], rows[::-1], 0.2, 1e-6)
    assert "1 of 1 checks FAIL" in bad and "reaches" not in bad and "does NOT rise" in bad
