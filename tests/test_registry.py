"""The registry: every question in the problem set's order, and every derived result exported.

Each derivation's result must be usable as a numeric function (`Result.callable`), as the
foundation issue asks; a LaTeX-named symbol or a missing argument list must not break that.
"""

from __future__ import annotations

import inspect

import pytest

from derivations.core import Context
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


@pytest.mark.parametrize("qid,part", DERIVATION_PARTS, ids=[f"{q}:{p.__module__}" for q, p in DERIVATION_PARTS])
def test_every_result_is_a_numeric_callable(qid, part, tmp_path):
    section = part(Context(out_dir=tmp_path, data_dir=tmp_path, quick=True))
    assert section.derivations, f"{part.__module__} derives nothing"
    for d in section.derivations:
        f = d.result.callable()
        arity = len(inspect.signature(f).parameters)
        assert arity == len(d.result.args or d.result.free_args()), d.name
