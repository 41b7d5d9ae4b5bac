"""Q5 evaluation helpers: category hit rate, neighbour overlap, cluster description, 3CosAdd."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.cbow_eval import (
    category_hit_rate,
    cos_add,
    describe_cluster,
    neighbour_overlap,
    rank_of,
    top_k,
    top_neighbours,
    unit_rows,
    word_categories,
)


def test_hit_rate_is_one_for_tight_categories_and_low_for_random_vectors(category_vectors):
    words, vecs = category_vectors(dim=32, noise=0.05, n_filler=300)
    index = {w: i for i, w in enumerate(words)}
    assert category_hit_rate(vecs, index, 1)["overall"] == 1.0
    # random vectors: chance is about (category size) / V, a few percent
    rnd = np.random.default_rng(1).normal(size=vecs.shape)
    assert category_hit_rate(rnd, index, 1)["overall"] < 0.15
    hr10 = category_hit_rate(vecs, index, 10)
    assert hr10["colours"] == pytest.approx(1.0)  # 11 colours: 10 neighbours all colours
    assert hr10["object pronouns"] == pytest.approx(0.5)  # 6 words: 5 of each one's 10 neighbours


def test_word_categories_only_vocabulary_words():
    cats = word_categories({"her": 0, "king": 1, "zzz": 2})
    assert cats == {0: {"object pronouns", "possessives"}, 1: {"titles and ranks"}}


def test_top_neighbours_and_overlap():
    v = np.array([[1.0, 0], [0.9, 0.1], [0, 1], [-1, 0.05]])
    assert top_neighbours(v, [0], 2).tolist() == [[1, 2]]
    assert neighbour_overlap(v, v, [0, 2], 2) == [1.0, 1.0]
    assert neighbour_overlap(v, v[[0, 2, 1, 3]], [0], 1) == [0.0]  # rows 1, 2 swapped
    with pytest.raises(ValueError, match="vectors"):
        top_neighbours(np.zeros(3), [0], 1)


def test_describe_cluster():
    assert describe_cluster(["my", "thy", "his", "king", "zzz"]) == ("possessives", 3)
    assert describe_cluster(["zzz"]) == ("", 0)


def test_top_k_is_the_descending_sort():
    sims = np.random.default_rng(3).normal(size=(7, 40))
    for k in (1, 5, 40):  # 40: every column
        np.testing.assert_array_equal(top_k(sims, k), np.argsort(-sims, axis=1)[:, :k])
    with pytest.raises(ValueError, match="k must"):
        top_k(sims, 41)
    with pytest.raises(ValueError, match="k must"):
        top_k(sims, 0)


def test_cos_add_finds_the_parallelogram():
    rng = np.random.default_rng(0)
    u = unit_rows(rng.normal(size=(50, 20)))
    u[3] = u[1] - u[0] + u[2]  # d = b - a + c exactly (on unit vectors), then scaled to unit length
    u = unit_rows(u)
    top, sims = cos_add(u, 0, 1, 2, k=3)
    assert top[0] == 3 and rank_of(sims, 3) == 1 and sims[3] == pytest.approx(1.0)
    assert not {0, 1, 2} & set(top)  # query words excluded
    full = np.argsort(-sims, kind="stable")[:10].tolist()
    assert cos_add(u, 0, 1, 2, k=10)[0] == full  # the top 10 of a full sort
    with pytest.raises(ValueError, match="unit rows"):
        cos_add(3 * u, 0, 1, 2)
