import pytest
import torch

from seqintent.models import InputSpec, ModelConfig, NextItemNetwork
from seqintent.models.network import INPUT_NAMES


def _spec(**kw):
    base = dict(
        n_items=21, n_actions=4, n_categories=5, action_family=[0, 1, 3, 3], has_time=True, has_dwell=True
    )
    return InputSpec(**(base | kw))


def _inputs(b=3, t=6, seed=0, spec=None):
    spec = spec or _spec()
    g = torch.Generator().manual_seed(seed)
    x = {
        "item": torch.randint(1, spec.n_items, (b, t), generator=g),
        "action": torch.randint(1, spec.n_actions, (b, t), generator=g),
        "family": torch.randint(1, 4, (b, t), generator=g),
        "category": torch.randint(0, spec.n_categories, (b, t), generator=g),
        "gap": torch.randint(0, 32, (b, t), generator=g),
        "hour": torch.randint(0, 25, (b, t), generator=g),
        "weekday": torch.randint(0, 8, (b, t), generator=g),
        "dwell": torch.randint(0, 16, (b, t), generator=g),
        "next_gap": torch.randint(0, 32, (b, t), generator=g),
        "time_s": -torch.arange(t - 1, -1, -1, dtype=torch.float32).repeat(b, 1) * 60.0,
    }
    return {k: x[k] for k in INPUT_NAMES}


@pytest.mark.parametrize(
    "extras", [{}, {"time_bias": True}, {"repeat_head": True}, {"time_bias": True, "repeat_head": True}]
)
def test_logits_shape_and_padding_column(extras):
    torch.manual_seed(0)
    net = NextItemNetwork(ModelConfig(hidden=32, layers=2, heads=2, max_len=8, **extras), _spec()).eval()
    out = net(**_inputs())
    assert out.shape == (3, 21)
    assert torch.isinf(out[:, 0]).all() and torch.isfinite(out[:, 1:]).all()


@pytest.mark.parametrize("extras", [{}, {"time_bias": True}])
def test_encoder_is_causal(extras):
    torch.manual_seed(0)
    net = NextItemNetwork(ModelConfig(hidden=32, max_len=8, **extras), _spec()).eval()
    x = _inputs()
    h1 = net.encoder(**x)
    y = {k: v.clone() for k, v in x.items()}
    y["item"][:, 4:] = 7  # change the future of column 3
    h2 = net.encoder(**y)
    # positions are counted from the newest column, so compare equal-length inputs: columns ≤ 3 unchanged
    assert torch.allclose(h1[:, :4], h2[:, :4], atol=1e-6)
    assert not torch.allclose(h1[:, 4:], h2[:, 4:])


@pytest.mark.parametrize("extras", [{}, {"time_bias": True, "repeat_head": True}])
def test_left_padding_does_not_change_the_prediction(extras):
    torch.manual_seed(0)
    net = NextItemNetwork(ModelConfig(hidden=32, max_len=10, **extras), _spec()).eval()
    x = _inputs(t=6)
    padded = {k: torch.cat([torch.zeros_like(v[:, :3]), v], dim=1) for k, v in x.items()}
    assert torch.allclose(net(**x), net(**padded), atol=1e-5)


def test_features_the_dataset_lacks_are_left_out():
    net = NextItemNetwork(
        ModelConfig(hidden=16, heads=2), _spec(has_time=False, has_dwell=False, n_actions=2)
    )
    names = {n for n, _ in net.named_parameters()}
    assert not any(n.startswith(("encoder.gap_emb", "encoder.hour_emb", "encoder.dwell_emb")) for n in names)
    assert not any(n.startswith("encoder.action_emb") for n in names)  # one action only: nothing to learn
    assert "encoder.item_emb.weight" in names


def test_hidden_must_divide_by_heads():
    with pytest.raises(ValueError, match=r"hidden \(30\) must be a multiple of heads \(4\)"):
        ModelConfig(hidden=30, heads=4)


@pytest.mark.parametrize("extras", [{}, {"time_bias": True, "repeat_head": True}])
def test_exports_to_onnx_with_dynamic_batch_and_length(tmp_path, extras):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = NextItemNetwork(ModelConfig(hidden=32, max_len=40, **extras), _spec()).eval()
    x = _inputs(b=2, t=6)
    path = tmp_path / "m.onnx"
    torch.onnx.export(
        net,
        tuple(x[n] for n in INPUT_NAMES),
        str(path),
        input_names=list(INPUT_NAMES),
        output_names=["logits"],
        dynamic_axes={n: {0: "batch", 1: "length"} for n in INPUT_NAMES} | {"logits": {0: "batch"}},
        opset_version=18,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path))
    names = {i.name for i in session.get_inputs()}  # inputs a config does not use are pruned
    for b, t in ((1, 3), (4, 25)):
        y = _inputs(b=b, t=t, seed=b)
        y["action"][0, :2] = 0  # left padding
        got = session.run(None, {n: y[n].numpy() for n in INPUT_NAMES if n in names})[0]
        with torch.no_grad():
            want = net(**y).numpy()
        assert got.shape == (b, 21)
        assert abs(got[:, 1:] - want[:, 1:]).max() < 1e-4


def test_repeat_scores_use_the_newest_occurrence_with_its_rank_and_count():
    torch.manual_seed(0)
    net = NextItemNetwork(ModelConfig(hidden=16, heads=2, max_len=8, repeat_head=True), _spec())
    head = net.next_item
    with torch.no_grad():
        head.rep_q.weight.zero_()
        head.rep_q.bias.zero_()  # no content term: the score reads out the learned tables
        head.rep_rank.weight.copy_(torch.arange(32.0)[:, None] * 10.0)
        head.rep_count.weight.copy_(torch.arange(16.0)[:, None])
    # history (oldest first): padding, a, b, a, c
    item = torch.tensor([[0, 1, 2, 1, 3]])
    action = torch.tensor([[0, 1, 1, 1, 1]])
    time_s = torch.zeros(1, 5)
    hidden = torch.randn(1, 5, 16)
    last = head.repeat_scores(hidden, item, action, time_s, last_only=True)[0, 0]
    # newest occurrences: b at column 2 (rank 2, once), a at 3 (rank 1, twice), c at 4 (rank 0, once)
    assert last.tolist() == [0.0, 0.0, 21.0, 12.0, 1.0]
    every = head.repeat_scores(hidden, item, action, time_s)[0]
    assert torch.equal(every[-1], last)
    # at query column 2 (history padding, a, b): b rank 0, a rank 1, nothing later counts
    assert every[2].tolist() == [0.0, 11.0, 1.0, 0.0, 0.0]
