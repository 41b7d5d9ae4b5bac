"""Question 5A: CBOW word2vec with a full softmax, trained on the Complete Works of Shakespeare.

Trains `numeric.cbow.CBOW` (resuming from ``<out>/cbow/checkpoint.pt`` when the same code, config
and corpus were trained before, unless ``--force``), writes the word vectors as ``<out>/cbow/embeddings.npy`` (V x D float32, rows
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
from numeric.cbow import EMBEDDING_KINDS
from numeric.cbow_eval import category_hit_rate, neighbour_overlap, top_neighbours, word_categories
from numeric.cbow_train import TrainConfig, TrainState, default_threads, train
from numeric.checks import TOL_FLOAT32, bound, compare, separates
from numeric.files import atomic_path, write_json_atomic
from numeric.gensim_reference import GensimConfig, train_gensim
from numeric.plotting import new_figure, save_figure
from numeric.q5a_report import (
    CHECK_CONTEXT,
    CHECK_ENCODER,
    CHECK_FIRST_LOSS,
    CHECK_FUSED_GRADS,
    CHECK_FUSED_LOSS,
    CHECK_GENSIM,
    q5a_tables,
    q5a_text,
    sweep,
)
from numeric.shakespeare_data import keep_probabilities, load_corpus, one_hot_mean, pairs_at

FULL = TrainConfig(corpus="complete_works", dim=100, batch_size=1024, epochs=5, lr=1e-2, lr_final=0.05)
QUICK = TrainConfig(corpus="tiny_shakespeare", dim=100, batch_size=1024, epochs=6, lr=1e-2, lr_final=0.05)
EMBEDDING_KIND = "input"  # encoder rows: the problem set's embedding space (the others are scored too)
PROBES = ["king", "love", "my", "father", "sword", "night", "rome", "speak"]
# The last epoch's mean loss must lie this far below the entropy of the subsampled stream's unigram
# distribution, the loss of the best predictor that ignores the context (a decoder bias alone).
# 0.5 nats: the context makes the target e^0.5 = 1.65 times as likely (geometric mean) as that
# predictor does; the sampling noise of a mean over an epoch's >= 1e5 examples is ~0.01 nats, and
# a model that only learned the unigram falls short by the whole 0.5. Measured: 0.95 nats on
# tiny-shakespeare (quick, 6 epochs), 1.50 on the Complete Works.
CONTEXT_GAIN_MIN = 0.5
N_CHECK_PAIRS = 64  # (context, target) pairs of the stream for the equivalence checks


def config_for(ctx: Context) -> TrainConfig:
    return QUICK if ctx.quick else FULL


def save_embeddings(folder: Path, vectors: np.ndarray, words: list[str], meta: dict[str, Any]) -> None:
    """embeddings.npy (V x D float32), vocab.json (the words), config.json (how they were made)."""
    with atomic_path(folder / "embeddings.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(vectors, dtype=np.float32))
    write_json_atomic(folder / "vocab.json", words, indent=None)
    write_json_atomic(folder / "config.json", meta)


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


def unigram_entropy(counts: list[int] | np.ndarray, sample: float) -> float:
    """Entropy (nats) of the subsampled stream's unigram distribution, $p_w \\propto c_w\\,$keep$_w$:
    the expected loss of the best predictor that ignores the context."""
    p = np.asarray(counts, dtype=np.float64) * keep_probabilities(counts, sample)
    p = p / p.sum()
    return float(-(p * np.log(p)).sum())


def _loss_grads(model: torch.nn.Module, contexts: torch.Tensor, targets: torch.Tensor, fused: bool) -> list[torch.Tensor]:
    """The gradients of the model's mean loss on the batch, one per parameter."""
    model.zero_grad(set_to_none=True)
    model.loss(contexts, targets, fused=fused).backward()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return grads


def _max_rel(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected|: the error relative to the tensor's scale."""
    return float((actual - expected).abs().max() / expected.abs().max())


def _equivalence_checks(state: TrainState, contexts: torch.Tensor, targets: torch.Tensor) -> list[Check]:
    model = state.model
    with torch.no_grad():
        linear = torch.nn.functional.linear(one_hot_mean(contexts, model.vocab_size), model.encoder.weight.t())
        bag = model.hidden(contexts)
        lsm = torch.nn.LogSoftmax(dim=1)(model.decoder(bag))
        nll = torch.nn.NLLLoss()(lsm, targets)
        fused = model.loss(contexts, targets, fused=True)
    # Max-norm relative errors: the hidden vectors' entries are sums of 4 terms and the gradients'
    # sums over the batch, both of which can cancel to near zero, where an entry-wise relative error
    # measures float32 round-off of the terms, not a disagreement (on a trained tiny-shakespeare
    # model, fused and unfused float32 gradients each differ from float64 by ~2e-4 entry-wise, by
    # ~3e-7 of the largest entry).
    grad_err = max(_max_rel(a, b) for a, b in zip(_loss_grads(model, contexts, targets, True),
                                                   _loss_grads(model, contexts, targets, False), strict=True))
    return [
        bound(CHECK_ENCODER, _max_rel(bag, linear), TOL_FLOAT32,
              "EmbeddingBag(mean) vs Linear(V, D, bias=False) on the averaged one-hot contexts (float32), "
              "max |difference| / max |entry|"),
        compare(CHECK_FUSED_LOSS, fused, nll, TOL_FLOAT32,
                "fused decoder loss vs torch's LogSoftmax + NLLLoss on a batch of the trained model"),
        bound(CHECK_FUSED_GRADS, grad_err, TOL_FLOAT32,
              f"gradients of the encoder weight, decoder weight and decoder bias on the {len(targets)} pairs, fused "
              "backward vs autograd through F.cross_entropy (float32); worst parameter's max |difference| / "
              "max |entry|"),
    ]


def run(ctx: Context) -> Section:
    cfg = config_for(ctx)
    corpus = load_corpus(ctx.data_dir, cfg.corpus, cfg.min_count)
    folder = Path(ctx.out_dir) / "cbow"
    figures: dict[str, dict[str, str]] = {}
    state = train(cfg, corpus, folder, on_epoch=lambda st: figures.update(loss_figures(st, ctx)), probes=PROBES,
                  threads=default_threads(cfg), fresh=ctx.force)
    if not figures:  # a complete checkpoint was reused: no epoch drew them
        figures = loss_figures(state, ctx)
    kinds = {k: state.model.embeddings(k).numpy() for k in EMBEDDING_KINDS}
    vecs = kinds[EMBEDDING_KIND]
    save_embeddings(folder, vecs, corpus.vocab.words, {"train": cfg.to_json(), "embedding": EMBEDDING_KIND})

    gens = train_gensim(corpus, GensimConfig.matching(cfg))
    index = corpus.vocab.index
    quality = {
        name: {k: category_hit_rate(v, index, k) for k in (1, 10)}
        for name, v in [(f"cbow {kind}", v) for kind, v in kinds.items()] + [("gensim", gens.vectors)]
    }
    ours, ref = quality[f"cbow {EMBEDDING_KIND}"][1]["overall"], quality["gensim"][1]["overall"]
    n_cat = len(word_categories(index))
    se = math.sqrt(max(ref * (1 - ref), 1e-12) / n_cat)  # standard error of a hit rate over n_cat words
    probe_words = [w for w in PROBES if w in index]
    probe_rows = [index[w] for w in probe_words]
    overlap = neighbour_overlap(vecs, gens.vectors, probe_rows, 10)
    nbrs = {name: top_neighbours(v, probe_rows, 8) for name, v in (("cbow", vecs), ("gensim", gens.vectors))}
    tiny = corpus if corpus.name == "tiny_shakespeare" else load_corpus(ctx.data_dir, "tiny_shakespeare", cfg.min_count)
    dims = sweep(ctx, cfg, tiny)

    b0 = torch.Generator().manual_seed(cfg.seed)
    pick = torch.randint(0, len(corpus.ids) - 2 * cfg.window, (N_CHECK_PAIRS,), generator=b0)
    first, last = state.losses[0], float(np.mean(state.losses[-state.epoch_batches[-1] :]))
    log_v, unigram = math.log(len(corpus.vocab)), unigram_entropy(corpus.vocab.counts, cfg.sample)
    seconds = state.train_seconds
    checks = _equivalence_checks(state, *pairs_at(corpus.ids, pick, cfg.window)) + [
        compare(CHECK_FIRST_LOSS, first, log_v, TOL_FLOAT32,
                "mean loss of the first training batch vs log V: zero logits give the uniform softmax"),
        separates(CHECK_CONTEXT, unigram - last, CONTEXT_GAIN_MIN,
                  f"last epoch's mean loss {last:.3f} nats vs {unigram:.3f}, the entropy of the subsampled stream's "
                  f"unigram distribution (what a decoder bias alone reaches; log V = {log_v:.3f}); the context must "
                  f"be worth more than {CONTEXT_GAIN_MIN} nats"),
        bound(CHECK_GENSIM, ref - ours, se,
              f"nearest-neighbour category hit rate, ours ({EMBEDDING_KIND} vectors) {ours:.3f} vs gensim {ref:.3f}; "
              f"tolerance one standard error over the {n_cat} category words"),
    ]
    answers = {
        "vocab_size": len(corpus.vocab),
        "n_tokens": corpus.n_tokens,
        "n_tokens_in_vocab": int(len(corpus.ids)),
        "train_seconds": seconds,
        "examples_per_second": state.examples / seconds,
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
        "unigram_entropy": unigram,
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
