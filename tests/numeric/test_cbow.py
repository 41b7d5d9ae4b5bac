"""Q5A model: the fused loss equals LogSoftmax + NLLLoss (value and gradients), the encoder equals
a Linear layer on averaged one-hots, and nearest-word search by cosine similarity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from numeric.cbow import CBOW, decoder_cross_entropy, nearest
from numeric.shakespeare_data import one_hot_mean

# float64 round-off through a softmax over ~100 classes and a few matrix products stays below
# 1e-12 relative; float32 checks use 1e-5 (unit round-off 6e-8, reductions over ~1e3 terms).
TOL64 = 1e-12


def _batch(V=97, D=11, B=33, dtype=torch.float64, scale=3.0):
    g = torch.Generator().manual_seed(0)
    h = (torch.randn(B, D, generator=g, dtype=dtype) * scale).requires_grad_()
    W = torch.randn(V, D, generator=g, dtype=dtype).requires_grad_()
    b = torch.randn(V, generator=g, dtype=dtype).requires_grad_()
    t = torch.randint(0, V, (B,), generator=g)
    return h, W, b, t


def _value_and_grads(loss_fn, h, W, b, t):
    params = [p.detach().clone().requires_grad_() for p in (h, W, b)]
    loss = loss_fn(*params, t)
    loss.backward()
    return loss.detach(), [p.grad for p in params]


@pytest.mark.parametrize("scale", [0.1, 3.0, 30.0])  # 30: logits spanning hundreds of nats
def test_fused_loss_equals_logsoftmax_nll_and_cross_entropy(scale):
    h, W, b, t = _batch(scale=scale)
    ref = _value_and_grads(lambda h, W, b, t: torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(F.linear(h, W, b)), t), h, W, b, t)
    ce = _value_and_grads(lambda h, W, b, t: F.cross_entropy(F.linear(h, W, b), t), h, W, b, t)
    fused = _value_and_grads(decoder_cross_entropy, h, W, b, t)
    for other in (ce, fused):
        torch.testing.assert_close(other[0], ref[0], rtol=TOL64, atol=0)
        for g, g_ref in zip(other[1], ref[1], strict=True):
            torch.testing.assert_close(g, g_ref, rtol=TOL64, atol=1e-15)


def test_fused_loss_float32_and_scaled_upstream_gradient():
    h, W, b, t = _batch(dtype=torch.float32)
    loss_ref, g_ref = _value_and_grads(lambda h, W, b, t: 2.5 * F.cross_entropy(F.linear(h, W, b), t), h, W, b, t)
    loss, g = _value_and_grads(lambda h, W, b, t: 2.5 * decoder_cross_entropy(h, W, b, t), h, W, b, t)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-5, atol=0)
    for x, y in zip(g, g_ref, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-7)


def test_fused_loss_rejects_bad_shapes():
    h, W, b, t = _batch()
    with pytest.raises(ValueError, match="weight"):
        decoder_cross_entropy(h, W[:, :3], b, t)
    with pytest.raises(ValueError, match="target"):
        decoder_cross_entropy(h, W, b, t.int())


def test_model_is_linear_encoder_average_then_logsoftmax_decoder():
    torch.manual_seed(1)
    model = CBOW(40, 6).double()
    with torch.no_grad():
        model.decoder.weight.normal_()
    ctx = torch.randint(0, 40, (9, 4))
    hidden = F.linear(one_hot_mean(ctx, 40).double(), model.encoder.weight.t())  # Linear(V, D, no bias)
    torch.testing.assert_close(model.hidden(ctx), hidden, rtol=TOL64, atol=1e-15)
    logp = model(ctx)
    torch.testing.assert_close(logp, F.log_softmax(model.decoder(hidden), dim=1), rtol=TOL64, atol=1e-15)
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(9, dtype=torch.float64), rtol=TOL64, atol=0)
    t = torch.randint(0, 40, (9,))
    torch.testing.assert_close(model.loss(ctx, t), F.nll_loss(logp, t), rtol=TOL64, atol=0)
    torch.testing.assert_close(model.loss(ctx, t, fused=False), F.nll_loss(logp, t), rtol=TOL64, atol=0)


def test_initial_loss_is_log_vocab_size():
    model = CBOW(500, 8, generator=torch.Generator().manual_seed(0))
    ctx, t = torch.randint(0, 500, (16, 4)), torch.randint(0, 500, (16,))
    assert abs(model.loss(ctx, t).item() - torch.log(torch.tensor(500.0)).item()) < 1e-5  # zero decoder


def test_embeddings_kinds_and_errors():
    model = CBOW(30, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.embeddings("input"), model.encoder.weight)
    assert torch.equal(model.embeddings("output"), model.decoder.weight)
    with torch.no_grad():  # the decoder may start at zero; give both sides a direction
        model.decoder.weight.copy_(torch.randn(30, 5, generator=torch.Generator().manual_seed(1)))
    enc, dec = model.encoder.weight.detach(), model.decoder.weight.detach()
    unit_sum = enc / enc.norm(dim=1, keepdim=True) + dec / dec.norm(dim=1, keepdim=True)
    torch.testing.assert_close(model.embeddings("sum"), unit_sum, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="kind"):
        model.embeddings("hidden")
    with pytest.raises(ValueError, match="dim"):
        CBOW(30, 0)
    with pytest.raises(ValueError, match="contexts"):
        model.hidden(torch.zeros(3, 4))


def test_nearest_by_cosine():
    vecs = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    idx, cos = nearest(vecs, vecs[0], k=4)
    assert idx == [0, 1, 2, 3]  # length does not matter, direction does
    assert cos[0] == pytest.approx(1.0) and cos[3] == pytest.approx(-1.0)
    assert nearest(vecs, vecs[0], k=2, exclude=[0])[0] == [1, 2]
    with pytest.raises(ValueError, match="k must"):
        nearest(vecs, vecs[0], k=5)
    with pytest.raises(ValueError, match="query"):
        nearest(vecs, torch.zeros(3))
