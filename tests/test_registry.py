"""The registry: every question in the problem set's order, and every derived result exported.

Each derivation's result must be usable as a numeric function (`Result.callable`), as the
foundation issue asks; a LaTeX-named symbol or a missing argument list must not break that.
"""

from __future__ import annotations

import inspect
import random

import numpy as np
import pytest
import sympy as sp

from derivations.core import Context
from derivations.symbols import UNIT_INTERVAL
from registry import BY_ID, QUESTIONS

PROBLEM_SET_ORDER = [
    "q1a", "q1b", "q2a", "q2b", "q3a", "q3b", "q3c",
    "q4a", "q4b", "q4c", "q4d", "q4e", "q5a", "q5b", "bonus",
]  # fmt: skip
DERIVATION_PARTS = [
    (q.id, part) for q in QUESTIONS for part in q.parts if part.__module__.startswith("derivations.")
]


def test_questions_in_problem_set_order_and_needs_known():
    assert [q.id for q in QUESTIONS] == PROBLEM_SET_ORDER
    for q in QUESTIONS:
        assert all(n in BY_ID and PROBLEM_SET_ORDER.index(n) < PROBLEM_SET_ORDER.index(q.id) for n in q.needs)


def _sample(arg: object, rng: random.Random) -> object:
    """A value in ``arg``'s domain: small positive ints for integer symbols (sizes and indices), a
    number in (0, 1) for probabilities and decay rates, a positive real otherwise; an array for an
    indexed base (long enough for every index a sample int can take) or a matrix symbol."""
    if isinstance(arg, sp.MatrixSymbol):
        return np.array([[rng.uniform(0.5, 2.0) for _ in range(arg.cols)] for _ in range(arg.rows)])
    if isinstance(arg, sp.IndexedBase):
        return np.array([rng.uniform(0.5, 2.0) for _ in range(2 * MAX_INT + 2)])
    if arg in UNIT_INTERVAL:
        return rng.uniform(0.05, 0.95)
    if arg.is_integer:
        return rng.randint(1, MAX_INT)
    return rng.uniform(0.5, 2.0)


MAX_INT = 4  # largest sample for an integer symbol


@pytest.mark.parametrize("qid,part", DERIVATION_PARTS, ids=[f"{q}:{p.__module__}" for q, p in DERIVATION_PARTS])
def test_every_result_is_a_numeric_callable(qid, part, tmp_path):
    """Every exported result compiles and, called at a sample point of its arguments, is finite."""
    section = part(Context(out_dir=tmp_path, data_dir=tmp_path, quick=True))
    assert section.derivations, f"{part.__module__} derives nothing"
    rng = random.Random(0)
    for d in section.derivations:
        f = d.result.callable()
        args = d.result.args or d.result.free_args()
        assert len(inspect.signature(f).parameters) == len(args), d.name
        for _ in range(3):
            point = [_sample(a, rng) for a in args]
            out = np.asarray(f(*point), dtype=float)
            assert out.size and np.all(np.isfinite(out)), f"{d.name}: {d.result.name}{tuple(point)} = {out}"


def test_the_callable_test_catches_an_undefined_function():
    # control: a result whose expression keeps an undefined function cannot be evaluated
    from derivations.core import Result

    g, b = sp.Function("g"), sp.Symbol("b", positive=True)
    with pytest.raises(NameError):
        Result("r", g(b) + b, (b,)).callable()(0.5)
