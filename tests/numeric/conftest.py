"""Fixtures of the Q5 tests: synthetic word vectors with the hand-made categories as clusters."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.cbow_eval import CATEGORIES


@pytest.fixture
def category_vectors():
    """Factory ``make(dim, noise, n_filler, filler="filler", structured=True, seed=0) -> (words, vectors)``.

    Every category word once (in `CATEGORIES` order; a word in two categories sits with the first),
    at its category's random centre plus ``noise`` times a normal draw (at the origin plus noise
    when not ``structured``), then ``n_filler`` words ``<filler><i>`` drawn normal. vectors: (V, dim)
    float64, from one seeded generator in that order.
    """

    def make(dim: int, noise: float, n_filler: int, filler: str = "filler", structured: bool = True,
             seed: int = 0) -> tuple[list[str], np.ndarray]:
        rng = np.random.default_rng(seed)
        centres = {c: rng.normal(size=dim) for c in CATEGORIES}
        words: list[str] = []
        vecs = []
        for cat, members in CATEGORIES.items():
            for w in members:
                if w not in words:
                    words.append(w)
                    vecs.append((centres[cat] if structured else 0) + noise * rng.normal(size=dim))
        words += [f"{filler}{i}" for i in range(n_filler)]
        return words, np.concatenate([np.array(vecs), rng.normal(size=(n_filler, dim))])

    return make
