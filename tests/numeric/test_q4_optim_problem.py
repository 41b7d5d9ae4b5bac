"""The shared small problem: fixed data and start, torch and hand-written trajectories agree."""

from __future__ import annotations

import pytest
import torch

from numeric.checks import TOL_FLOAT64, rel_error
from numeric.q4_optim_problem import (
    THREADS,
    ProblemConfig,
    SmallProblem,
    manual_trajectory,
    trajectory,
)


def _sgd(params, grads, state, t):
    return [p - 0.1 * g for p, g in zip(params, grads, strict=True)]


def test_torch_and_manual_sgd_agree_and_start_identically():
    prob = SmallProblem()
    a = trajectory(prob, lambda p: torch.optim.SGD(p, lr=0.1), 20)
    b = manual_trajectory(prob, _sgd, 20)
    assert a.shape == b.shape == (21, 5 * 8 + 8 + 8 * 3 + 3)
    assert rel_error(a, b) <= TOL_FLOAT64
    assert (a[0] == trajectory(prob, lambda p: torch.optim.SGD(p, lr=0.1), 1)[0]).all()


def test_penalty_changes_the_trajectory():
    prob = SmallProblem()
    a = trajectory(prob, lambda p: torch.optim.SGD(p, lr=0.1), 10)
    b = trajectory(prob, lambda p: torch.optim.SGD(p, lr=0.1), 10, lambda_l2=0.1)
    assert rel_error(a[-1], b[-1]) > 1e-3


def test_trajectories_run_on_THREADS_and_restore_the_setting():
    seen = []

    class Recording(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(torch.get_num_threads())
            return super().step(closure)

    before = torch.get_num_threads()
    trajectory(SmallProblem(), lambda p: Recording(p, lr=0.1), 3)
    assert seen == [THREADS] * 3 and torch.get_num_threads() == before

    def update(params, grads, state, t):
        seen.append(torch.get_num_threads())
        return _sgd(params, grads, state, t)

    manual_trajectory(SmallProblem(), update, 2)
    assert seen[3:] == [THREADS] * 2 and torch.get_num_threads() == before


def test_bad_arguments():
    with pytest.raises(ValueError, match="cfg"):
        SmallProblem(ProblemConfig(n=0))
    with pytest.raises(ValueError, match="steps"):
        trajectory(SmallProblem(), lambda p: torch.optim.SGD(p, lr=0.1), 0)
