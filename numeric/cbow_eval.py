"""Questions 5A, 5B and the bonus: how good word vectors are, by hand-made semantic categories.

`CATEGORIES` is a small hand-made set of word classes that occur in Shakespeare (pronouns,
possessives, numbers, kin, body parts, titles, colours, ...). A model's vectors are scored by
the **nearest-neighbour hit rate**: over every category word in the vocabulary, the fraction of
its ``k`` nearest words (cosine, among the whole vocabulary, itself excluded) that share a
category with it. ``k = 1`` is the plain nearest-neighbour hit rate. The same score is computed
for our CBOW and gensim's, so "as good as gensim" is a measured comparison.

Also here: top-k neighbour overlap between two models, cluster descriptions derived from the
categories (5B), and 3CosAdd analogies (bonus).
"""

from __future__ import annotations

import numpy as np

CATEGORIES: dict[str, tuple[str, ...]] = {
    "subject pronouns": ("i", "you", "he", "she", "we", "they", "thou", "ye"),
    "object pronouns": ("me", "him", "her", "us", "them", "thee"),
    "possessives": ("my", "thy", "your", "his", "her", "our", "their", "mine", "thine", "its"),
    "numbers": ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "twenty", "forty", "hundred", "thousand"),
    "ordinals": ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "last"),
    "kin": ("father", "mother", "brother", "sister", "son", "daughter", "wife", "husband", "uncle",
            "aunt", "cousin", "nephew", "niece", "child", "sons", "daughters", "brothers", "sisters"),
    "body parts": ("head", "hand", "hands", "eye", "eyes", "heart", "face", "arm", "arms", "foot",
                   "feet", "tongue", "lips", "lip", "brow", "cheek", "cheeks", "ear", "ears", "nose",
                   "finger", "fingers", "hair", "neck", "breast", "bosom", "knee", "knees", "teeth",
                   "mouth", "blood", "bones"),
    "titles and ranks": ("lord", "king", "queen", "duke", "duchess", "prince", "princess", "earl",
                         "lady", "sir", "madam", "emperor", "knight", "gentleman", "count",
                         "countess", "bishop", "cardinal", "captain", "general", "lords", "kings"),
    "colours": ("red", "white", "black", "green", "blue", "yellow", "pale", "grey", "purple",
                "crimson", "scarlet"),
    "times": ("day", "night", "morning", "evening", "noon", "midnight", "hour", "hours", "year",
              "years", "month", "months", "week", "minute", "today", "tomorrow", "tonight",
              "yesterday", "days", "nights", "monday", "tuesday", "wednesday", "thursday", "friday",
              "saturday", "sunday", "spring", "summer", "winter", "autumn"),
    "speech verbs": ("say", "speak", "tell", "cry", "swear", "call", "answer", "ask", "whisper",
                     "talk", "said", "spoke", "told", "speaks", "says"),
    "modal verbs": ("shall", "will", "would", "should", "may", "might", "must", "can", "could",
                    "shalt", "wilt", "canst", "dare", "need"),
    "be and have": ("is", "are", "was", "were", "am", "be", "been", "art", "hath", "have", "has",
                    "had", "hast", "being"),
    "animals": ("horse", "dog", "lion", "wolf", "bear", "fox", "ass", "cat", "bird", "eagle",
                "hound", "deer", "serpent", "snake", "tiger", "lamb", "sheep", "goose", "owl",
                "crow", "raven", "dove", "worm", "bull", "ox", "ape", "boar", "horses", "dogs"),
    "places": ("rome", "france", "england", "london", "venice", "egypt", "athens", "troy",
               "scotland", "ireland", "wales", "greece", "spain", "italy", "padua", "milan",
               "naples", "verona", "florence", "paris", "britain", "cyprus"),
    "emotions": ("love", "hate", "fear", "joy", "grief", "sorrow", "anger", "rage", "pity",
                 "shame", "woe", "mirth", "delight", "despair", "hope", "fury"),
    "question words": ("who", "what", "where", "when", "why", "how", "which", "whither", "whence",
                       "whose", "whom"),
}


def word_categories(vocab_index: dict[str, int]) -> dict[int, set[str]]:
    """Vocabulary row -> the categories its word belongs to (only words in the vocabulary)."""
    out: dict[int, set[str]] = {}
    for name, words in CATEGORIES.items():
        for w in words:
            if w in vocab_index:
                out.setdefault(vocab_index[w], set()).add(name)
    return out


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"vectors must be (V, D), got shape {v.shape}")
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``sims`` (n, V), the columns of its ``k`` largest entries, best first: (n, k).

    The one nearest-neighbour search of Q5: `top_neighbours`, `cos_add` and `numeric.cbow.nearest`
    rank by it.
    """
    if sims.ndim != 2 or not isinstance(k, int | np.integer) or not 1 <= k <= sims.shape[1]:
        raise ValueError(f"k must be an int in [1, {sims.shape[-1]}] for sims (n, V), got k={k!r}, shape {sims.shape}")
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def top_neighbours(vectors: np.ndarray, rows: list[int], k: int) -> np.ndarray:
    """For each of ``rows``, its ``k`` nearest rows by cosine (itself excluded), best first."""
    u = unit_rows(vectors)
    sims = u[rows] @ u.T
    sims[np.arange(len(rows)), rows] = -np.inf
    return top_k(sims, k)


def category_hit_rate(vectors: np.ndarray, vocab_index: dict[str, int], k: int = 1) -> dict[str, float]:
    """Mean fraction of each category word's ``k`` nearest words that share a category with it.

    Returns {"overall": mean over all category words, <category>: mean over its words}.
    """
    cats = word_categories(vocab_index)
    rows = sorted(cats)
    nbrs = top_neighbours(vectors, rows, k)
    per_word = {r: float(np.mean([bool(cats[r] & cats.get(int(n), set())) for n in nb])) for r, nb in zip(rows, nbrs, strict=True)}
    out = {"overall": float(np.mean(list(per_word.values())))}
    for name in CATEGORIES:
        members = [r for r in rows if name in cats[r]]
        if members:
            out[name] = float(np.mean([per_word[r] for r in members]))
    return out


def neighbour_overlap(a: np.ndarray, b: np.ndarray, rows: list[int], k: int = 10) -> list[float]:
    """For each row, |top-k of a ∩ top-k of b| / k (both matrices in the same vocabulary order)."""
    na, nb = top_neighbours(a, rows, k), top_neighbours(b, rows, k)
    return [len(set(x.tolist()) & set(y.tolist())) / k for x, y in zip(na, nb, strict=True)]


def describe_cluster(words: list[str]) -> tuple[str, int]:
    """The category most of ``words`` belong to, and how many do (ties: first in CATEGORIES)."""
    best, best_n = "", 0
    for name, members in CATEGORIES.items():
        n = sum(w in members for w in words)
        if n > best_n:
            best, best_n = name, n
    return best, best_n


def cos_add(unit: np.ndarray, a: int, b: int, c: int, k: int = 10) -> tuple[list[int], np.ndarray]:
    """3CosAdd for "a is to b as c is to ?": rows ranked by cos(x, b - a + c).

    ``unit``: the (V, D) vectors scaled to unit rows (`unit_rows`, done once for many queries).
    The query rows a, b, c are excluded. Returns (top-k rows, the full similarity vector).
    """
    q = unit[b] - unit[a] + unit[c]
    if not np.allclose(np.linalg.norm(unit[[a, b, c]], axis=1), 1.0, rtol=1e-6):
        raise ValueError("cos_add needs unit rows: pass unit_rows(vectors)")
    sims = unit @ (q / max(np.linalg.norm(q), 1e-12))
    sims[[a, b, c]] = -np.inf
    return top_k(sims[None], k)[0].tolist(), sims


def rank_of(sims: np.ndarray, target: int) -> int:
    """1-based rank of ``target`` in ``sims`` (descending)."""
    return int(np.sum(sims > sims[target])) + 1
