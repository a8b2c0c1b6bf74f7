import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import seqintent.train.objectives as objectives
from seqintent.train import full_softmax_loss, sampled_softmax_loss, sampling_distribution


def _dense_loss(h, table, targets, idx=None, val=None):
    logits = h @ table.T
    if idx is not None:
        logits = logits.scatter_add(1, idx, val)
    logits = torch.cat([torch.full_like(logits[:, :1], float("-inf")), logits[:, 1:]], 1)
    return F.cross_entropy(logits, targets)


@pytest.mark.parametrize("chunk_floats", [50, 1 << 22])  # many small chunks, and one chunk
@pytest.mark.parametrize("with_extra", [False, True])
def test_fused_loss_and_gradients_equal_dense_cross_entropy(monkeypatch, chunk_floats, with_extra):
    monkeypatch.setattr(objectives, "CHUNK_FLOATS", chunk_floats)
    g = torch.Generator().manual_seed(0)
    n, v, h_dim, m = 13, 17, 8, 5
    h = torch.randn(n, h_dim, generator=g, dtype=torch.float64)
    table = torch.randn(v, h_dim, generator=g, dtype=torch.float64)
    targets = torch.randint(1, v, (n,), generator=g)
    idx = torch.randint(0, v, (n, m), generator=g) if with_extra else None
    idx = None if idx is None else torch.cat([idx, targets[:, None]], 1)  # duplicates and the target itself
    val = None if idx is None else torch.randn(n, m + 1, generator=g, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (h, table) + ((val,) if val is not None else ())]
    fused = full_softmax_loss(leaves[0], leaves[1], targets, idx, leaves[2] if val is not None else None)
    (fused * 3.0).backward()
    dense_leaves = [t.clone().requires_grad_() for t in (h, table) + ((val,) if val is not None else ())]
    dense = _dense_loss(
        dense_leaves[0], dense_leaves[1], targets, idx, dense_leaves[2] if val is not None else None
    )
    (dense * 3.0).backward()
    assert torch.allclose(fused, dense, atol=1e-10)
    for a, b in zip(leaves, dense_leaves, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-10)


def test_sampled_softmax_masks_accidental_hits_and_corrects_by_log_q():
    h = torch.tensor([[1.0, 0.0]])
    table = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    q = sampling_distribution(torch.tensor([0, 1, 1, 1]), alpha=1.0)
    assert q.tolist() == pytest.approx([0.0, 1 / 3, 1 / 3, 1 / 3])
    log_q = torch.log(q.clamp(min=1e-30))
    # negatives [1, 2, 3] include the target 1: it is masked, leaving logits 2 - c, 1 - c, 0 - c
    loss = sampled_softmax_loss(h, table, torch.tensor([1]), torch.tensor([1, 2, 3]), log_q)
    expected = -torch.log_softmax(torch.tensor([2.0, 1.0, 0.0]), 0)[0]
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def _leaves(*tensors):
    return [t.clone().requires_grad_() for t in tensors]


def _problem(seed, n, v, h_dim, m, low=0):
    """Seeded float64 hidden states [n, h_dim], item table [v, h_dim], targets in 1..v-1, and extra
    logits: item indices in low..v-1 and values, [n, m] each."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(n, h_dim, generator=g, dtype=torch.float64)
    table = torch.randn(v, h_dim, generator=g, dtype=torch.float64)
    targets = torch.randint(1, v, (n,), generator=g)
    idx = torch.randint(low, v, (n, m), generator=g)
    val = torch.randn(n, m, generator=g, dtype=torch.float64)
    return h, table, targets, idx, val


def test_sampled_softmax_over_every_item_with_repeat_scores_equals_the_full_softmax():
    # every real item sampled once at equal q: the candidates are the whole catalogue, so the
    # sampled loss, extra (repeat) logits included, is the full softmax's
    v = 12
    h, table, targets, idx, val = _problem(1, n=9, v=v, h_dim=6, m=6, low=1)
    idx[:, -2:] = targets[:, None]  # the target itself, twice
    log_q = torch.full((v,), -2.5, dtype=torch.float64)
    sampled = _leaves(h, table, val)
    loss = sampled_softmax_loss(sampled[0], sampled[1], targets, torch.arange(1, v), log_q, idx, sampled[2])
    loss.backward()
    full = _leaves(h, table, val)
    expected = full_softmax_loss(full[0], full[1], targets, idx, full[2])
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-10)
    for a, b in zip(sampled, full, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-10)


def test_sampled_softmax_adds_repeat_scores_to_every_sampled_copy():
    n, v = 7, 10
    h, table, targets, idx, val = _problem(2, n=n, v=v, h_dim=5, m=6)
    negatives = torch.tensor([3, 5, 3, 1, 9, 5, 5])  # copies, as sampling with replacement gives
    log_q = torch.log(torch.linspace(0.05, 0.2, v, dtype=torch.float64))
    dense = (h @ table.T).scatter_add(1, idx, val) - log_q  # every item's logit with its extra, corrected
    candidates = torch.cat([dense.gather(1, targets[:, None]), dense[:, negatives]], 1)
    hit = torch.cat([torch.zeros(n, 1, dtype=torch.bool), negatives[None, :] == targets[:, None]], 1)
    expected = F.cross_entropy(candidates.masked_fill(hit, float("-inf")), torch.zeros_like(targets))
    loss = sampled_softmax_loss(h, table, targets, negatives, log_q, idx, val)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-10)
