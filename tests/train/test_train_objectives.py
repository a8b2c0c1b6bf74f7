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
