"""Bonus: semantically meaningful directions, shown by 3 vector analogies with controls.

"a is to b as c is to d" holds when d is the word nearest to $\\hat b - \\hat a + \\hat c$
(3CosAdd on unit vectors, the query words a, b, c excluded; ``TOP_K = 1`` is the usual analogy
accuracy of Mikolov et al. 2013, and what "$\\approx$" in the problem set asks). As the
problem set warns, d may already be near b or c, so each analogy also needs **controls**: every
one of a, b, c is replaced in turn by each of ``N_CONTROLS`` irrelevant words, and d must then
no longer be the nearest word for any replacement. Irrelevant words are drawn with a fixed
seed from the frequent words (vocabulary ranks ``CONTROL_RANKS``) that are in none of the
hand-made categories and not in the analogy. An analogy is accepted when it passes and all its
controls fail; the answer is the first 3 accepted candidates in `CANDIDATES` order, and every
candidate's outcome is reported.
"""

from __future__ import annotations

import numpy as np
import torch

from derivations.core import Check, Context, Section
from numeric.cbow_eval import CATEGORIES, cos_add, rank_of, unit_rows
from numeric.q5a_cbow import load_embeddings

TOP_K = 1  # d must be the nearest word (top-1), for the analogy; for no control
N_CONTROLS = 5
CONTROL_RANKS = (100, 2000)  # frequent enough to have trained vectors, past the function words
# (a, b, c, d): a is to b as c is to d, i.e. d ~ b - a + c
CANDIDATES: tuple[tuple[str, str, str, str], ...] = (
    ("man", "woman", "king", "queen"),
    ("he", "she", "his", "her"),
    ("father", "mother", "son", "daughter"),
    ("brother", "sister", "son", "daughter"),
    ("king", "queen", "lord", "lady"),
    ("he", "him", "she", "her"),
    ("i", "me", "he", "him"),
    ("i", "my", "thou", "thy"),
    ("thou", "thee", "he", "him"),
    ("hand", "hands", "eye", "eyes"),
    ("lord", "lords", "king", "kings"),
    ("son", "sons", "brother", "brothers"),
    ("is", "was", "are", "were"),
    ("thou", "art", "you", "are"),
    ("thou", "hast", "he", "hath"),
    ("one", "two", "first", "second"),
)
N_ANSWER = 3
SHOW = 5  # nearest words listed per analogy


def control_words(words: list[str], exclude: set[str], seed: int, n: int = N_CONTROLS) -> list[str]:
    """``n`` (>= 1) irrelevant words: a seeded draw from ranks CONTROL_RANKS outside every category
    and ``exclude``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    in_cats = {w for ws in CATEGORIES.values() for w in ws}
    lo, hi = CONTROL_RANKS
    pool = [w for w in words[lo:hi] if w not in in_cats and w not in exclude and "'" not in w]
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} control words available, need {n}")
    rng = np.random.default_rng(seed)
    return [pool[i] for i in sorted(rng.choice(len(pool), n, replace=False))]


def evaluate(unit: np.ndarray, words: list[str], analogy: tuple[str, str, str, str], seed: int) -> dict:
    """Rank of d for the analogy and for each control; accepted = passes and no control does.

    ``unit``: the (V, D) word vectors scaled to unit rows (`numeric.cbow_eval.unit_rows`).
    """
    index = {w: i for i, w in enumerate(words)}
    missing = [w for w in analogy if w not in index]
    if missing:
        return {"words": list(analogy), "missing": missing, "accepted": False}
    a, b, c, d = (index[w] for w in analogy)
    top, sims = cos_add(unit, a, b, c, SHOW)
    rank = rank_of(sims, d)
    ctrl = control_words(words, set(analogy), seed)  # never d, so d stays rankable in every control
    controls = []
    for pos, name in enumerate("abc"):
        for w in ctrl:
            q = [a, b, c]
            q[pos] = index[w]
            _, s = cos_add(unit, *q, TOP_K)
            controls.append({"replaced": name, "by": w, "rank": rank_of(s, d)})
    passes = rank <= TOP_K
    controls_fail = all(x["rank"] > TOP_K for x in controls)
    return {
        "words": list(analogy),
        "expression": f"{analogy[1]} - {analogy[0]} + {analogy[2]} = {analogy[3]}",
        "rank": rank,
        "cosine": float(sims[d]),
        "top": [words[i] for i in top],
        "control_words": ctrl,
        "controls": controls,
        "best_control_rank": min(x["rank"] for x in controls),
        "passes": passes,
        "controls_fail": controls_fail,
        "accepted": bool(passes and controls_fail),
    }


def independent_rank(vectors: np.ndarray, query: tuple[int, int, int], target: int) -> int:
    """1-based rank of ``target`` for $\\hat b - \\hat a + \\hat c$, by torch's cosine_similarity in
    float64 (a second implementation of `numeric.cbow_eval.cos_add` and `rank_of`)."""
    v = torch.as_tensor(np.asarray(vectors, dtype=np.float64))
    a, b, c = query
    unit = torch.nn.functional.normalize(v, dim=1)
    sims = torch.nn.functional.cosine_similarity(v, (unit[b] - unit[a] + unit[c]).unsqueeze(0), dim=1)
    sims[list(query)] = -torch.inf
    return int((sims > sims[target]).sum()) + 1


def run(ctx: Context) -> Section:
    vectors, words = load_embeddings(ctx.out_dir)
    unit = unit_rows(vectors)
    results = [evaluate(unit, words, an, ctx.seed) for an in CANDIDATES]
    accepted = [r for r in results if r["accepted"]][:N_ANSWER]
    checks = [
        Check(f"{N_ANSWER} analogies accepted (d within rank {TOP_K} by 3CosAdd, for no control)",
              len(accepted) >= N_ANSWER, float(max(0, N_ANSWER - len(accepted))), 0.0,
              f"{sum(r['accepted'] for r in results)} of {len(CANDIDATES)} candidates accepted; error = analogies missing"),
    ]
    index = {w: i for i, w in enumerate(words)}
    for r in accepted:
        # "accepted" already requires every control to fail, so a check of that could not fail; this
        # one re-measures the rank of d, for the analogy and each control, by a second implementation
        a, b, c, d = (index[w] for w in r["words"])
        queries = [((a, b, c), r["rank"])]
        for x in r["controls"]:
            q = [a, b, c]
            q["abc".index(x["replaced"])] = index[x["by"]]
            queries.append((tuple(q), x["rank"]))
        wrong = sum(independent_rank(vectors, q, d) != rank for q, rank in queries)
        checks.append(Check(f"analogy {r['expression']}: ranks re-measured independently (torch cosine_similarity)",
                            wrong == 0, float(wrong), 0.0,
                            f"rank {r['rank']}; {len(r['controls'])} controls, best control rank "
                            f"{r['best_control_rank']}; {wrong} of {len(queries)} ranks differ from 3CosAdd's"))
    rows = []
    for r in results:
        if "missing" in r:
            rows.append([" ".join(r["words"]), "-", "-", "missing: " + ", ".join(r["missing"]), "no"])
            continue
        rows.append([r["expression"], r["rank"], r["best_control_rank"], " ".join(r["top"]),
                     "yes" if r["accepted"] else ("no: a control also gives d" if r["passes"] else "no: d is not the nearest")])
    table = {
        "columns": ["analogy ($b - a + c = d$)", "rank of d", "best control rank", f"nearest {SHOW}", "accepted"],
        "rows": rows,
        "caption": f"All {len(CANDIDATES)} candidate analogies: accepted when d has rank <= {TOP_K} and each of the "
                   f"{3 * N_CONTROLS} controls (a, b or c replaced by one of {N_CONTROLS} irrelevant words) gives it "
                   f"rank > {TOP_K}.",
    }
    # the controls quoted are those the accepted analogies used (else the first evaluated candidate's)
    shown = accepted or [r for r in results if "missing" not in r][:1]
    ctrl_text = "".join(f"; {', '.join(r['control_words'])} for {r['expression']}" for r in shown)
    text = {
        "answer": ("Accepted analogies: " + "; ".join(
            f"{r['expression']} (rank {r['rank']}, cosine {r['cosine']:.3f}; best of {len(r['controls'])} controls: "
            f"rank {r['best_control_rank']})" for r in accepted) + ".") if accepted else
        f"No candidate analogy met the rule (target at rank <= {TOP_K}, and for no control).",
        "rule": (
            f"3CosAdd on unit vectors: d is predicted by the words nearest to $\\hat b - \\hat a + \\hat c$, a, b and c "
            f"excluded. An analogy counts when d has rank <= {TOP_K}{' (it is the nearest word)' if TOP_K == 1 else ''} and, with any one of a, b, "
            f"c replaced by any of {N_CONTROLS} irrelevant words (a seeded draw of frequent words outside every "
            f"category and the analogy{ctrl_text}), d has rank > {TOP_K}. Of {len(CANDIDATES)} candidates, "
            f"{sum(r.get('passes', False) for r in results)} give d rank <= {TOP_K} and "
            f"{sum(r['accepted'] for r in results)} also survive their controls."
        ),
        "how_chosen": (
            "Disclosure: the rule was fixed during development, after looking at results on these vectors. "
            "A first rule, d within the top 5, let the controls find d as well for nearly every candidate, "
            "so the rule became rank 1, the usual analogy test of Mikolov et al. (2013)."
        ),
    }
    answers = {"analogies": accepted, "candidates": results, "top_k": TOP_K}
    return Section(answers=answers, checks=checks, tables={"analogies": table}, text=text,
                   metrics={"accepted": sum(r["accepted"] for r in results), "candidates": len(CANDIDATES)})
