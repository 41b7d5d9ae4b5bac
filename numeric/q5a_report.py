"""Question 5A's write-up: the dimension sweep, the tables and the prose, from the computed numbers.

`sweep` trains CBOW on tiny-shakespeare at several embedding dimensions (checkpointed, so a
rebuild reuses them) and scores each by the category hit rate; `q5a_tables` and `q5a_text`
turn the results of `numeric.q5a_cbow.run` into the report's tables and explanatory answer.
The ``CHECK_*`` names are those of q5a's checks: the prose states what they verified only when
they passed.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from derivations.core import Context
from numeric.cbow_eval import category_hit_rate
from numeric.cbow_train import TrainConfig, TrainState, default_threads, train
from numeric.gensim_reference import GensimResult
from numeric.shakespeare_data import Corpus

SWEEP_DIMS_FULL = (25, 50, 100, 200)
SWEEP_DIMS_QUICK = (16, 32)
KIND_NAMES = {"input": "the encoder's rows", "output": "the decoder's rows", "sum": "normalised encoder + decoder rows"}

CHECK_ENCODER = "encoder: mean of embedding rows = Linear on averaged one-hots"
CHECK_FUSED_LOSS = "fused softmax cross-entropy = NLLLoss(LogSoftmax)"
CHECK_FUSED_GRADS = "fused softmax cross-entropy: gradients = NLLLoss(LogSoftmax)'s"
CHECK_FIRST_LOSS = "first batch's loss = log V (the decoder starts at zero)"
CHECK_CONTEXT = "training learns from the context: unigram entropy - last epoch's mean loss"
CHECK_GENSIM = "CBOW neighbours as good as gensim's: gensim hit@1 - ours"


def sweep(ctx: Context, base: TrainConfig, corpus: Corpus) -> list[dict[str, Any]]:
    """Final loss and hit@1 of CBOW trained on ``corpus`` (tiny-shakespeare) at several dimensions."""
    if corpus.name != "tiny_shakespeare":
        raise ValueError(f"the dimension sweep runs on tiny_shakespeare, got {corpus.name!r}")
    dims = SWEEP_DIMS_QUICK if ctx.quick else SWEEP_DIMS_FULL
    rows = []
    for d in dims:
        cfg = dataclasses.replace(base, corpus=corpus.name, dim=d, epochs=1 if ctx.quick else 3)
        st = train(cfg, corpus, Path(ctx.out_dir) / "cbow" / f"sweep_d{d}", progress=False,
                   threads=default_threads(cfg), fresh=ctx.force)
        rows.append({
            "dim": d,
            "epochs": cfg.epochs,
            "final_loss": float(np.mean(st.losses[-st.epoch_batches[-1] :])),
            "hit_rate_input": category_hit_rate(st.model.embeddings("input").numpy(), corpus.vocab.index, 1)["overall"],
            "hit_rate_output": category_hit_rate(st.model.embeddings("output").numpy(), corpus.vocab.index, 1)["overall"],
            "train_seconds": st.train_seconds,
        })
    return rows


def q5a_tables(state: TrainState, corpus: Corpus, quality: dict, probe_rows: list[int], nbrs: dict,
               overlap: list[float], dims: list[dict[str, Any]], gens: GensimResult) -> dict[str, dict[str, Any]]:
    cfg = state.config
    cats = [c for c in quality["gensim"][1] if c != "overall"]
    models = list(quality)
    words = corpus.vocab.decode
    return {
        "hyperparameters": {
            "columns": ["setting", "value"],
            "rows": [[k, str(v)] for k, v in cfg.to_json().items()],
            "caption": "Training configuration of the reported CBOW run (recorded in its checkpoint).",
        },
        "quality": {
            "columns": ["category"] + [f"{m} hit@1" for m in models] + [f"{m} hit@10" for m in models],
            "rows": [[c] + [round(quality[m][1].get(c, float("nan")), 3) for m in models]
                     + [round(quality[m][10].get(c, float("nan")), 3) for m in models] for c in ["overall"] + cats],
            "caption": "Category hit rate: fraction of a category word's k nearest words (cosine, whole vocabulary) "
                       "that share a category with it; CBOW input (encoder), output (decoder) and summed vectors "
                       f"vs gensim CBOW ({gens.config.epochs} epochs, negative sampling).",
        },
        "neighbours": {
            "columns": ["probe", "CBOW top-8", "gensim top-8", "top-10 overlap"],
            "rows": [[corpus.vocab.words[r], " ".join(words(a)), " ".join(words(b)), round(o, 2)]
                     for r, a, b, o in zip(probe_rows, nbrs["cbow"], nbrs["gensim"], overlap, strict=True)],
            "caption": "Nearest words by cosine similarity for the probe words, ours and gensim's.",
        },
        "dimensions": {
            "columns": ["D", "epochs", "final loss", "hit@1 input", "hit@1 output", "train s"],
            "rows": [[r["dim"], r["epochs"], round(r["final_loss"], 3), round(r["hit_rate_input"], 3),
                      round(r["hit_rate_output"], 3), round(r["train_seconds"], 1)] for r in dims],
            "caption": "Embedding dimension sweep on tiny-shakespeare (same settings otherwise).",
        },
    }


def _verdict(passed: dict[str, bool], name: str, yes: str, no: str) -> str:
    """``yes`` when the check ``name`` (a ``CHECK_*``) passed, ``no`` when it failed or is missing."""
    return yes if passed.get(name) is True else no


def _optimizer_text(cfg: TrainConfig) -> str:
    """The optimizer, its schedule and why, from the config."""
    name = {"adam": "Adam", "sgd": "SGD"}[cfg.optimizer]
    why = ("Adam scales each parameter's step by its own gradient history, so rare words' rows, which receive "
           f"gradients in few batches, still move. The learning rate, {cfg.lr / 1e-3:g} times the common 1e-3, "
           if cfg.optimizer == "adam" else
           "Plain SGD steps every parameter by the same multiple of its gradient, so rare words' rows, which "
           "receive gradients in few batches, move slowly. The learning rate ")
    return (f"{name} (lr {cfg.lr:g}, decaying linearly to {cfg.lr * cfg.lr_final:g}), batches of {cfg.batch_size}, "
            f"{cfg.epochs} epochs, weight decay {cfg.weight_decay:g}. " + why)


def q5a_text(state: TrainState, corpus: Corpus, answers: dict, metrics: dict, se: float,
             passed: dict[str, bool]) -> dict[str, str]:
    """The prose; ``passed`` maps check names to verdicts, so that what the prose calls checked passed."""
    cfg = state.config
    q = metrics["quality"]
    kind = answers["embedding_kind"]
    ours, ref = answers["hit_rate_at_1"]["cbow"], answers["hit_rate_at_1"]["gensim"]
    best_dim = max(metrics["dimension_sweep"], key=lambda r: r[f"hit_rate_{'output' if kind == 'output' else 'input'}"])
    verdict = _verdict(passed, CHECK_GENSIM, "as good as or better than", "worse than")
    unigram = metrics["unigram_entropy"]
    return {
        "answer": (
            f"A full-softmax CBOW with D = {cfg.dim} trained on {corpus.name.replace('_', ' ')} "
            f"({corpus.n_tokens} tokens, {answers['vocab_size']} words occurring at least {cfg.min_count} times) "
            f"for {state.epoch} epochs in {answers['train_seconds']:.0f} s of training "
            f"({answers['examples_per_second']:.0f} examples/s on {state.threads} CPU threads; mean 1-minute load "
            f"average at the epochs' ends {np.mean(state.epoch_loadavg or [float('nan')]):.1f}); its final mean loss is {answers['final_loss']:.3f} nats "
            f"(uniform guessing: $\\log V$ = {math.log(answers['vocab_size']):.3f}; the best context-free guess, the "
            f"subsampled stream's unigram distribution: {unigram:.3f}, so the context is worth "
            f"{unigram - answers['final_loss']:.3f} nats"
            + _verdict(passed, CHECK_CONTEXT, ", checked)", "; its check FAILED)")
            + f". Its nearest-neighbour category hit "
            f"rate is {ours:.3f}, {verdict} gensim's {ref:.3f} (one standard error: {se:.3f})."
        ),
        "processing": (
            "The text is lower-cased and split into words of letters with inner apostrophes kept (antony's, o'er); "
            f"words seen fewer than {cfg.min_count} times are removed from the stream, leaving {answers['n_tokens_in_vocab']} "
            f"tokens. Words map to indices (most frequent first) and back. Each position gives a target and the "
            f"{cfg.window} words before and after it as context; the pairs are index tensors and the one-hot vectors "
            "are never built: averaging one-hot vectors and applying a Linear layer equals averaging the rows of its "
            "weight, which an EmbeddingBag does "
            + _verdict(passed, CHECK_ENCODER, "(checked below)", "(but the check of this below FAILED)")
            + ". Frequent words are subsampled each epoch with "
            f"threshold $t$ = {cfg.sample:g}, keeping each occurrence with probability $\\min(1, (\\sqrt{{f/t}}+1)t/f)$."
        ),
        "model": (
            f"Encoder: Linear $V \\to D$ (no bias) averaged over the {2 * cfg.window} context words. Decoder: Linear "
            "$D \\to V$, LogSoftmax and NLLLoss, computed as one fused softmax cross-entropy that gives the same value "
            + _verdict(passed, CHECK_FUSED_LOSS, "(checked)", "(its check FAILED)")
            + " and gradients "
            + _verdict(passed, CHECK_FUSED_GRADS, "(checked, on a batch of the trained model)", "(their check FAILED)")
            + " as torch's. The full softmax is used throughout. "
            "Nearest words are by "
            f"cosine similarity. The exported vectors are the {kind} ones ({KIND_NAMES[kind]}), the space the problem set "
            f"calls the embedding; on the category test (hit@1) the encoder's rows score {q['cbow input'][1]['overall']:.3f}, "
            f"the decoder's {q['cbow output'][1]['overall']:.3f} and their normalised sum {q['cbow sum'][1]['overall']:.3f}."
        ),
        "training": (
            _optimizer_text(cfg)
            + "and the batch size were chosen in short trial runs during development "
            "(not repeated by the build): smaller rates learned visibly slower in the few epochs the time budget "
            "allows; the linear decay settles the end. Large batches "
            f"make the three matrix products per step few and large (one each per {cfg.batch_size} examples). Subsampling frequent "
            "words both cuts the work and stops function words from dominating the loss. Regularisation: "
            + ("none beyond what subsampling and a few passes over the data give (weight decay 0)" if cfg.weight_decay == 0
               else f"weight decay {cfg.weight_decay:g}, besides subsampling and a few passes over the data")
            + "; the decoder starts at zero (so the first batch's loss is $\\log V$"
            + _verdict(passed, CHECK_FIRST_LOSS, ", checked)", "; its check FAILED)")
            + " and the encoder at word2vec's small uniform values."
        ),
        "dimensions": (
            "On tiny-shakespeare, the hit rate (encoder / decoder vectors) was "
            + ", ".join(f"{r['hit_rate_input']:.3f} / {r['hit_rate_output']:.3f} at D = {r['dim']}" for r in metrics["dimension_sweep"])
            + f" (best: D = {best_dim['dim']}), with training times "
            + ", ".join(f"{r['train_seconds']:.1f} s" for r in metrics["dimension_sweep"])
            + f" for {metrics['dimension_sweep'][0]['epochs']} epochs each."
        ),
        "comparison": (
            f"gensim's CBOW (negative sampling, {metrics['gensim_config']['epochs']} epochs, same window, min_count, "
            f"dimension and stream) trained in {metrics['gensim_seconds']:.1f} s. The top-10 neighbours of the probe "
            f"words overlap by {np.mean(list(answers['probe_overlap_at_10'].values())):.2f} on average."
        ),
    }
