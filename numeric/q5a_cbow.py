"""Question 5A: CBOW word2vec with a full softmax, trained on the Complete Works of Shakespeare.

Trains `numeric.cbow.CBOW` (resuming from ``<out>/cbow/checkpoint.pt`` when the same config was
trained before), writes the word vectors as ``<out>/cbow/embeddings.npy`` (V x D float32, rows
in vocabulary order) and ``<out>/cbow/vocab.json`` (the words in that order), plots the loss of
every batch (linear and log-log), and compares the neighbours with gensim's CBOW trained on the
same stream (`numeric.gensim_reference`) by the hand-made categories of `numeric.cbow_eval`.
A small dimension sweep on tiny-shakespeare reports how the embedding size matters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from derivations.core import Check, Context, Section
from numeric.cbow_eval import category_hit_rate, neighbour_overlap, top_neighbours, word_categories
from numeric.cbow_train import TrainConfig, TrainState, train
from numeric.checks import TOL_FLOAT32, bound, compare
from numeric.files import atomic_path
from numeric.gensim_reference import GensimConfig, train_gensim
from numeric.plotting import new_figure, save_figure
from numeric.q5a_report import q5a_tables, q5a_text, sweep
from numeric.shakespeare_data import Corpus, load_corpus, make_pairs, one_hot_mean

FULL = TrainConfig(corpus="complete_works", dim=100, batch_size=1024, epochs=5, lr=1e-2, lr_final=0.05)
QUICK = TrainConfig(corpus="tiny_shakespeare", dim=100, batch_size=1024, epochs=6, lr=1e-2, lr_final=0.05)
EMBEDDING_KIND = "input"  # encoder rows: the problem set's embedding space (the others are scored too)
PROBES = ["king", "love", "my", "father", "sword", "night", "rome", "speak"]
LOSS_DROP_TOL = 0.9  # the last epoch's mean loss must be below 90% of the first batch's (log V)


THREADS_QUICK = 1  # tiny-shakespeare's small products: one thread (see q5a_report.sweep); full: torch's


def config_for(ctx: Context) -> TrainConfig:
    return QUICK if ctx.quick else FULL


def _write_atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def save_embeddings(folder: Path, vectors: np.ndarray, words: list[str], meta: dict[str, Any]) -> None:
    """embeddings.npy (V x D float32), vocab.json (the words), config.json (how they were made)."""
    folder.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def save_npy(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.save(f, vectors)

    _write_atomic(folder / "embeddings.npy", save_npy)
    _write_atomic(folder / "vocab.json", lambda tmp: Path(tmp).write_text(json.dumps(words)))
    _write_atomic(folder / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1)))


def load_embeddings(out_dir: Path) -> tuple[np.ndarray, list[str]]:
    """The vectors and words q5a wrote under ``out_dir/cbow`` (what q5b and the bonus read)."""
    folder = Path(out_dir) / "cbow"
    emb, voc = folder / "embeddings.npy", folder / "vocab.json"
    if not (emb.exists() and voc.exists()):
        raise FileNotFoundError(f"{emb} or {voc} is missing: run q5a first (python build.py --only q5a)")
    vectors, words = np.load(emb), json.loads(voc.read_text())
    if vectors.shape[0] != len(words):
        raise ValueError(f"{emb} has {vectors.shape[0]} rows but {voc} has {len(words)} words")
    return vectors, words


def loss_figures(state: TrainState, ctx: Context) -> dict[str, dict[str, str]]:
    """The two loss plots (batches since the start of training), saved via save_figure."""
    losses = np.asarray(state.losses)
    x = np.arange(1, len(losses) + 1)
    w = max(1, len(losses) // 100)
    smooth = np.convolve(losses, np.ones(w) / w, mode="valid")
    bounds = np.cumsum(state.epoch_batches)[:-1]
    figs = {}
    for name, log in (("loss", False), ("loss_loglog", True)):
        fig, ax = new_figure()
        ax.plot(x, losses, lw=0.5, alpha=0.4, label="every batch")
        ax.plot(x[w - 1 :], smooth, label=f"mean of {w} batches")
        for b in bounds:
            ax.axvline(b, color="grey", lw=0.5, ls=":")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("batches processed since the start" + (" (log)" if log else ""))
        ax.set_ylabel("NLL loss (nats)" + (" (log)" if log else ""))
        ax.set_title(f"CBOW training loss, {state.config.corpus.replace('_', ' ')}, D = {state.config.dim}" + (", log-log" if log else ""))
        ax.legend()
        cap = (f"Loss of every batch against batches processed ({len(losses)} batches, {state.epoch} epochs; "
               f"dotted lines: epoch ends){', log-log axes' if log else ''}.")
        figs[name] = save_figure(fig, ctx, "q5a", name, cap)
    return figs


def _equivalence_checks(state: TrainState, corpus: Corpus, contexts: torch.Tensor, targets: torch.Tensor) -> list[Check]:
    model = state.model
    with torch.no_grad():
        linear = torch.nn.functional.linear(one_hot_mean(contexts, model.vocab_size), model.encoder.weight.t())
        bag = model.hidden(contexts)
        lsm = torch.nn.LogSoftmax(dim=1)(model.decoder(bag))
        nll = torch.nn.NLLLoss()(lsm, targets)
        fused = model.loss(contexts, targets, fused=True)
    # max-norm relative error: entries are sums of 4 terms that can cancel to near zero, where an
    # entry-wise relative error measures float32 round-off of the terms, not a disagreement
    err = float((bag - linear).abs().max() / linear.abs().max())
    return [
        bound("encoder: mean of embedding rows = Linear on averaged one-hots", err, TOL_FLOAT32,
              "EmbeddingBag(mean) vs Linear(V, D, bias=False) on the averaged one-hot contexts (float32), "
              "max |difference| / max |entry|"),
        compare("fused softmax cross-entropy = NLLLoss(LogSoftmax)", fused, nll, TOL_FLOAT32,
                "fused decoder loss vs torch's LogSoftmax + NLLLoss on a batch of the trained model"),
    ]


def run(ctx: Context) -> Section:
    cfg = config_for(ctx)
    corpus = load_corpus(ctx.data_dir, cfg.corpus, cfg.min_count)
    folder = Path(ctx.out_dir) / "cbow"
    state = train(cfg, corpus, folder, on_epoch=lambda st: loss_figures(st, ctx), probes=PROBES,
                  threads=THREADS_QUICK if ctx.quick else None)
    figures = loss_figures(state, ctx)
    vecs = state.model.embeddings(EMBEDDING_KIND).numpy()
    save_embeddings(folder, vecs, corpus.vocab.words, {"train": cfg.to_json(), "embedding": EMBEDDING_KIND})
    loaded, words = load_embeddings(ctx.out_dir)

    gcfg = GensimConfig(dim=cfg.dim, window=cfg.window, min_count=cfg.min_count, seed=cfg.seed)
    gens = train_gensim(corpus, gcfg)
    index = corpus.vocab.index
    quality = {
        name: {k: category_hit_rate(v, index, k) for k in (1, 10)}
        for name, v in (
            ("cbow input", state.model.embeddings("input").numpy()),
            ("cbow output", state.model.embeddings("output").numpy()),
            ("cbow sum", state.model.embeddings("sum").numpy()),
            ("gensim", gens.vectors),
        )
    }
    ours, ref = quality[f"cbow {EMBEDDING_KIND}"][1]["overall"], quality["gensim"][1]["overall"]
    n_cat = len(word_categories(index))
    se = math.sqrt(max(ref * (1 - ref), 1e-12) / n_cat)  # standard error of a hit rate over n_cat words
    probe_words = [w for w in PROBES if w in index]
    probe_rows = [index[w] for w in probe_words]
    overlap = neighbour_overlap(vecs, gens.vectors, probe_rows, 10)
    nbrs = {name: top_neighbours(v, probe_rows, 8) for name, v in (("cbow", vecs), ("gensim", gens.vectors))}
    dims = sweep(ctx, cfg)

    b0 = torch.Generator().manual_seed(cfg.seed)
    pick = torch.randint(0, len(corpus.ids) - 2 * cfg.window, (64,), generator=b0)
    ctxs, tgts = make_pairs(corpus.ids, cfg.window)
    first, last = state.losses[0], float(np.mean(state.losses[-state.epoch_batches[-1] :]))
    seconds = state.train_seconds
    checks = _equivalence_checks(state, corpus, ctxs[pick], tgts[pick]) + [
        compare("first batch's loss = log V (the decoder starts at zero)", first, math.log(len(corpus.vocab)),
                TOL_FLOAT32, "mean loss of the first training batch vs log V: zero logits give the uniform softmax"),
        bound("training lowers the loss: last epoch's mean / first batch's", last / first, LOSS_DROP_TOL,
              f"first batch {first:.3f} nats (log V = {math.log(len(corpus.vocab)):.3f}), last epoch {last:.3f}"),
        bound("CBOW neighbours as good as gensim's: gensim hit@1 - ours", ref - ours, se,
              f"nearest-neighbour category hit rate, ours ({EMBEDDING_KIND} vectors) {ours:.3f} vs gensim {ref:.3f}; "
              f"tolerance one standard error over the {n_cat} category words"),
    ]
    round_trip = bool(np.array_equal(loaded, vecs) and words == corpus.vocab.words
                      and loaded.dtype == np.float32 and loaded.shape == (len(corpus.vocab), cfg.dim))
    checks.append(Check("embeddings.npy / vocab.json round trip", round_trip, 0.0 if round_trip else 1.0, 0.0,
                        "np.load gives the model's (V, D) float32 vectors, vocab.json its words in row order"))
    examples_per_s = state.examples / seconds
    answers = {
        "vocab_size": len(corpus.vocab),
        "n_tokens": corpus.n_tokens,
        "n_tokens_in_vocab": int(len(corpus.ids)),
        "train_seconds": seconds,
        "examples_per_second": examples_per_s,
        "epochs": state.epoch,
        "final_loss": last,
        "embedding_kind": EMBEDDING_KIND,
        "config": cfg.to_json(),
        "hit_rate_at_1": {"cbow": ours, "gensim": ref},
        "probe_neighbours": {name: {w: corpus.vocab.decode(r) for w, r in zip(probe_words, nb, strict=True)} for name, nb in nbrs.items()},
        "probe_overlap_at_10": dict(zip(probe_words, overlap, strict=True)),
        "embeddings_path": str((folder / "embeddings.npy").relative_to(ctx.out_dir)),
        "vocab_path": str((folder / "vocab.json").relative_to(ctx.out_dir)),
    }
    metrics = {
        "gensim_seconds": gens.seconds,
        "gensim_config": gens.config.__dict__,
        "quality": quality,
        "resumed_from_epoch": state.resumed_from,
        "torch_threads": state.threads,
        "epoch_loadavg": state.epoch_loadavg,
        "epoch_seconds": state.epoch_seconds,
        "batches": len(state.losses),
        "examples": state.examples,
        "dimension_sweep": dims,
    }
    section = Section(answers=answers, checks=checks, figures=figures, metrics=metrics)
    section.tables = q5a_tables(state, corpus, quality, probe_rows, nbrs, overlap, dims, gens)
    section.text = q5a_text(state, corpus, answers, metrics, se, {c.name: c.passed for c in checks})
    return section
