"""Q5A prose: what it calls checked follows the checks' verdicts; its numbers come from the run."""

from __future__ import annotations

from types import SimpleNamespace

from numeric.cbow_train import TrainConfig
from numeric.q5a_report import (
    CHECK_CONTEXT,
    CHECK_ENCODER,
    CHECK_FIRST_LOSS,
    CHECK_FUSED_GRADS,
    CHECK_FUSED_LOSS,
    CHECK_GENSIM,
    _verdict,
    q5a_text,
)


def _inputs(lr: float = 1e-2, weight_decay: float = 0.0, optimizer: str = "adam"):
    cfg = TrainConfig(corpus="tiny_shakespeare", dim=16, epochs=2, lr=lr, weight_decay=weight_decay, optimizer=optimizer)
    state = SimpleNamespace(config=cfg, epoch=2, threads=1, epoch_loadavg=[1.0])
    corpus = SimpleNamespace(name="tiny_shakespeare", n_tokens=1000)
    answers = {"embedding_kind": "input", "hit_rate_at_1": {"cbow": 0.3, "gensim": 0.2}, "vocab_size": 50,
               "train_seconds": 1.0, "examples_per_second": 10.0, "final_loss": 3.0, "n_tokens_in_vocab": 900,
               "probe_overlap_at_10": {"king": 0.5}}
    q = {k: {1: {"overall": v}} for k, v in (("cbow input", 0.3), ("cbow output", 0.25), ("cbow sum", 0.2))}
    sweep = [{"dim": 16, "epochs": 1, "hit_rate_input": 0.1, "hit_rate_output": 0.1, "train_seconds": 2.5},
             {"dim": 32, "epochs": 1, "hit_rate_input": 0.2, "hit_rate_output": 0.1, "train_seconds": 4.25}]
    metrics = {"quality": q, "dimension_sweep": sweep, "gensim_config": {"epochs": 5}, "gensim_seconds": 0.5,
               "unigram_entropy": 3.75}
    return state, corpus, answers, metrics


NAMES = (CHECK_ENCODER, CHECK_FUSED_LOSS, CHECK_FUSED_GRADS, CHECK_FIRST_LOSS, CHECK_CONTEXT, CHECK_GENSIM)


def test_verdict_needs_a_passed_check_of_that_name() -> None:
    assert _verdict({"a check": True}, "a check", "yes", "no") == "yes"
    assert _verdict({"a check": False}, "a check", "yes", "no") == "no"
    assert _verdict({"other": True}, "a check", "yes", "no") == "no"  # missing: not claimed
    assert _verdict({"a check, longer": True}, "a check", "yes", "no") == "no"  # the exact name, not a prefix


def test_prose_follows_the_checks() -> None:
    ok = q5a_text(*_inputs(), se=0.05, passed=dict.fromkeys(NAMES, True))
    assert "(checked below)" in ok["processing"] and "value (checked)" in ok["model"]
    assert "gradients (checked, on a batch of the trained model)" in ok["model"]
    assert "$\\log V$, checked)" in ok["training"] and "FAILED" not in " ".join(ok.values())
    assert "the context is worth 0.750 nats, checked)" in ok["answer"] and "as good as or better than" in ok["answer"]
    bad = q5a_text(*_inputs(), se=0.05, passed=dict.fromkeys(NAMES, False))
    for key in ("answer", "processing", "model", "training"):
        assert "FAILED" in bad[key] and "checked)" not in bad[key]
    assert "worse than" in bad["answer"]


def test_prose_numbers_come_from_the_run() -> None:
    text = q5a_text(*_inputs(lr=3e-3, weight_decay=0.1), se=0.05, passed={})
    assert text["training"].startswith("Adam (lr 0.003, decaying linearly to 0.00015)")
    assert "3 times the common 1e-3" in text["training"] and "weight decay 0.1, besides" in text["training"]
    assert "2.5 s, 4.2 s for 1 epochs" in text["dimensions"] and "best: D = 32" in text["dimensions"]
    assert "uniform guessing: $\\log V$ = 3.912" in text["answer"] and "unigram distribution: 3.750" in text["answer"]
    sgd = q5a_text(*_inputs(optimizer="sgd"), se=0.05, passed={})["training"]
    assert sgd.startswith("SGD (lr 0.01") and "Adam" not in sgd and "common 1e-3" not in sgd


def test_gensim_verdict_is_the_checks() -> None:
    # the verdict is the check's, not recomputed here: a failed check says "worse" whatever the numbers
    worse = _inputs()
    worse[2]["hit_rate_at_1"] = {"cbow": 0.1, "gensim": 0.3}
    assert "worse than" in q5a_text(*worse, se=0.05, passed={CHECK_GENSIM: False})["answer"]
    assert "as good as or better than" in q5a_text(*_inputs(), se=0.05, passed={CHECK_GENSIM: True})["answer"]
