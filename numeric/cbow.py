"""Question 5A: the CBOW model (Mikolov et al. 2013) with a full softmax over the vocabulary.

    log p(target | context) = LogSoftmax(decoder(mean_j encoder(one_hot(context_j))))

- **Encoder**: one Linear layer $V \\to D$ without bias applied to the context's one-hot vectors
  and averaged. Averaging commutes with the linear map, so it is the mean of the Linear weight's
  columns picked by the context indices: an ``EmbeddingBag(V, D, mode="mean")`` whose ``(V, D)``
  weight is that Linear weight transposed (the equivalence is a test).
- **Decoder**: ``Linear(D, V)`` back to the vocabulary, then LogSoftmax and NLLLoss; the two are
  one ``F.cross_entropy``. `decoder_cross_entropy` computes the same loss and gradients in one
  autograd node that softmaxes its logits in place, so a training step costs little more than
  its three matrix products (forward logits, decoder weight gradient, hidden gradient; about
  $3 \\cdot 2DV$ FLOPs per example), which is what makes the full softmax fast on a CPU.
- **Nearest words**: cosine similarity between rows of an embedding matrix (`nearest`, ranked by
  `numeric.cbow_eval.top_k`, the search the evaluation uses too).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from numeric.cbow_eval import top_k, unit_rows

EMBEDDING_KINDS = ("input", "output", "sum")


class _DecoderCrossEntropy(torch.autograd.Function):
    """mean_i -log softmax(h W^T + b)_i[target_i], with the softmax done in place."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, target: torch.Tensor):
        logits = torch.addmm(bias, h, weight.t())  # (B, V), owned by this node
        logits.sub_(logits.amax(dim=1, keepdim=True))
        picked = logits.gather(1, target[:, None])
        logits.exp_()
        total = logits.sum(dim=1, keepdim=True)
        loss = (total.log() - picked).mean()
        logits.div_(total)  # now the softmax probabilities
        ctx.save_for_backward(h, weight, logits, target)
        return loss

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor):
        h, weight, probs, target = ctx.saved_tensors
        # d loss / d logits = (softmax - one_hot(target)) / B, built in the saved buffer
        g = probs  # backward runs once (no retain_graph), so the buffer may be reused
        g.scatter_add_(1, target[:, None], torch.full((g.shape[0], 1), -1.0, dtype=g.dtype, device=g.device))
        g.mul_(grad_loss / g.shape[0])
        return g @ weight, g.t() @ h, g.sum(dim=0), None


def decoder_cross_entropy(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """``F.cross_entropy(F.linear(h, weight, bias), target)``, computed in one fused node.

    h: (B, D); weight: (V, D); bias: (V,); target: (B,) int64. Returns the mean loss (scalar).
    """
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"h (B, D) and weight (V, D) do not match: {tuple(h.shape)}, {tuple(weight.shape)}")
    if target.dtype != torch.int64 or target.shape != (h.shape[0],):
        raise ValueError(f"target must be int64 of shape ({h.shape[0]},), got {target.dtype} {tuple(target.shape)}")
    return _DecoderCrossEntropy.apply(h, weight, bias, target)


class CBOW(nn.Module):
    """CBOW with a full-softmax decoder. contexts: (B, C) int64 word indices."""

    def __init__(self, vocab_size: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self.vocab_size, self.dim = vocab_size, dim
        self.encoder = nn.EmbeddingBag(vocab_size, dim, mode="mean")
        self.decoder = nn.Linear(dim, vocab_size)
        with torch.no_grad():
            # word2vec's scale for input vectors, and a zero decoder: the first steps then learn
            # the unigram distribution through the bias while the embeddings grow from small.
            self.encoder.weight.uniform_(-0.5 / dim, 0.5 / dim, generator=generator)
            self.decoder.weight.zero_()
            self.decoder.bias.zero_()

    def _check(self, contexts: torch.Tensor) -> None:
        if contexts.dtype != torch.int64 or contexts.dim() != 2:
            raise ValueError(f"contexts must be int64 of shape (B, C), got {contexts.dtype} {tuple(contexts.shape)}")

    def hidden(self, contexts: torch.Tensor) -> torch.Tensor:
        """The averaged context embedding, (B, D)."""
        self._check(contexts)
        return self.encoder(contexts)

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of every vocabulary word as the target, (B, V)."""
        return F.log_softmax(self.decoder(self.hidden(contexts)), dim=1)

    def loss(self, contexts: torch.Tensor, targets: torch.Tensor, fused: bool = True) -> torch.Tensor:
        """Mean NLL of the targets; ``fused`` uses `decoder_cross_entropy`, else F.cross_entropy."""
        h = self.hidden(contexts)
        if fused:
            return decoder_cross_entropy(h, self.decoder.weight, self.decoder.bias, targets)
        return F.cross_entropy(self.decoder(h), targets)

    def embeddings(self, kind: str = "input") -> torch.Tensor:
        """A (V, D) copy of the word vectors: encoder rows ("input"), decoder rows ("output"),
        or the sum of the two after scaling each row to unit length ("sum")."""
        if kind not in EMBEDDING_KINDS:
            raise ValueError(f"kind must be one of {EMBEDDING_KINDS}, got {kind!r}")
        with torch.no_grad():
            enc, dec = self.encoder.weight, self.decoder.weight
            if kind == "input":
                return enc.detach().clone()
            if kind == "output":
                return dec.detach().clone()
            return F.normalize(enc, dim=1) + F.normalize(dec, dim=1)


def nearest(
    vectors: torch.Tensor, query: torch.Tensor, k: int = 10, exclude: list[int] | None = None
) -> tuple[list[int], list[float]]:
    """The ``k`` rows of ``vectors`` (V, D) most cosine-similar to ``query`` (D,), best first.

    ``exclude``: row indices never returned (e.g. the query words). Returns (indices, cosines).
    """
    if vectors.dim() != 2 or query.shape != (vectors.shape[1],):
        raise ValueError(f"query {tuple(query.shape)} does not match vectors {tuple(vectors.shape)}")
    if not isinstance(k, int) or not 1 <= k <= vectors.shape[0]:
        raise ValueError(f"k must be an int in [1, {vectors.shape[0]}], got {k!r}")
    sims = unit_rows(vectors.detach().numpy()) @ unit_rows(query.detach().numpy()[None])[0]
    if exclude:
        sims[exclude] = -np.inf
    top = top_k(sims[None], k)[0]
    return top.tolist(), sims[top].tolist()
