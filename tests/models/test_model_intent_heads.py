"""The whole network (next item + intent heads): outputs, the blind intent pass, ONNX export."""

import numpy as np
import pytest
import torch

from seqintent.models import InputSpec, ModelConfig, NextItemNetwork
from seqintent.models.heads import OUTPUT_NAMES, IntentHeads, IntentNetwork, RecentEvents
from seqintent.models.network import INPUT_NAMES


def _spec():
    return InputSpec(
        n_items=21, n_actions=4, n_categories=5, action_family=[0, 1, 3, 3], has_time=True, has_dwell=True
    )


def _inputs(b=3, t=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = {
        "item": torch.randint(1, 21, (b, t), generator=g),
        "action": torch.randint(1, 4, (b, t), generator=g),
        "family": torch.randint(1, 4, (b, t), generator=g),
        "category": torch.randint(0, 5, (b, t), generator=g),
        "gap": torch.randint(0, 32, (b, t), generator=g),
        "hour": torch.randint(0, 25, (b, t), generator=g),
        "weekday": torch.randint(0, 8, (b, t), generator=g),
        "dwell": torch.randint(0, 16, (b, t), generator=g),
        "next_gap": torch.randint(1, 32, (b, t), generator=g),
        "time_s": -torch.arange(t - 1, -1, -1, dtype=torch.float32).repeat(b, 1) * 60.0,
    }
    return {k: x[k] for k in INPUT_NAMES}


def _net(recent_events=10, **extras):
    torch.manual_seed(0)
    network = NextItemNetwork(ModelConfig(hidden=32, layers=2, heads=2, max_len=12, **extras), _spec())
    recent = RecentEvents(recent_events, n_actions=4, n_families=10, out=16) if recent_events else None
    heads = IntentHeads(32, 16, n_actions=4, n_families=10, n_binary=3, recent=recent)
    return IntentNetwork(network, heads).eval()


def test_outputs_of_every_head():
    net = _net()
    next_item, action, family, intents = net(**_inputs())
    assert next_item.shape == (3, 21) and action.shape == (3, 4) and family.shape == (3, 10)
    assert intents.shape == (3, 3)
    assert torch.allclose(next_item, net.network(**_inputs()))  # the next-item answer is unchanged


def test_a_task_that_is_off_gives_an_empty_output():
    heads = IntentHeads(32, 16, n_actions=0, n_families=0, n_binary=2)
    action, family, binary = heads(torch.zeros(5, 32))
    assert action.shape == (5, 0) and family.shape == (5, 0) and binary.shape == (5, 2)


def test_intents_never_see_the_time_to_the_next_event():
    # at a training cut, "time to the next event" is the answer to churn: the heads must not read it
    net = _net()
    x = _inputs()
    y = dict(
        x, next_gap=torch.randint(1, 32, x["next_gap"].shape, generator=torch.Generator().manual_seed(9))
    )
    a = net(**x)
    b = net(**y)
    assert not torch.allclose(a[0][:, 1:], b[0][:, 1:])  # next items do read it (time to the request)
    for k in (1, 2, 3):
        assert torch.allclose(a[k], b[k], atol=1e-6)


@pytest.mark.parametrize("extras", [{}, {"time_bias": True, "repeat_head": True}])
def test_exports_to_onnx_with_every_output(tmp_path, extras):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = _net(**extras)
    x = _inputs(b=2, t=5)
    path = tmp_path / "m.onnx"
    torch.onnx.export(
        net,
        tuple(x[n] for n in INPUT_NAMES),
        str(path),
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        dynamic_axes={n: {0: "batch", 1: "length"} for n in INPUT_NAMES}
        | {n: {0: "batch"} for n in OUTPUT_NAMES},
        opset_version=18,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path))
    names = {i.name for i in session.get_inputs()}
    for b, t in ((1, 3), (4, 9)):
        y = _inputs(b=b, t=t, seed=b)
        y["action"][0, :2] = 0  # left padding
        got = session.run(None, {n: y[n].numpy() for n in INPUT_NAMES if n in names})
        with torch.no_grad():
            want = [w.numpy() for w in net(**y)]
        assert np.abs(got[0][:, 1:] - want[0][:, 1:]).max() < 1e-4
        for g, w in zip(got[1:], want[1:], strict=True):
            np.testing.assert_allclose(g, w, atol=1e-4)  # class 0 is -inf in both


def test_the_wide_path_reads_only_events_up_to_each_column():
    recent = RecentEvents(3, n_actions=4, n_families=10, out=8)
    x = _inputs(b=2, t=7)
    y = {k: v.clone() for k, v in x.items()}
    y["dwell"][:, 4] = (y["dwell"][:, 4] + 5) % 16
    y["item"][:, 4] = 1
    (cx, mx), (cy, my) = recent.inputs(x), recent.inputs(y)
    assert torch.equal(cx[:, :4], cy[:, :4]) and torch.equal(mx[:, :4], my[:, :4])
    assert not torch.equal(cx[:, 4], cy[:, 4])  # column 4 reads its own event (position 0) ...
    assert not torch.equal(cx[:, 6], cy[:, 6])  # ... and column 6 reads it two events back
    assert torch.equal(cx[:, 7:], cy[:, 7:])
    # shares of the actions seen so far sum to 1 at every real column
    assert torch.allclose(mx[..., :4].sum(-1), torch.ones(2, 7))
    # the serving path (newest column only) computes the same
    for t in (7, 2):  # longer and shorter than the 3 events read one by one
        z = {k: v[:, -t:] for k, v in x.items()}
        z["action"][0, 0] = 0  # left padding
        codes, mix = recent.inputs(z)
        newest_codes, newest_mix = recent.newest_inputs(z)
        assert torch.equal(newest_codes, codes[:, -1])
        assert torch.allclose(newest_mix, mix[:, -1], atol=1e-6)


def _skip_task(n=4096, t=12, seed=0):
    """Yes when the newest three events were all fast skips (dwell bucket 1): a pattern of raw codes."""
    x = _inputs(b=n, t=t, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x["dwell"] = torch.randint(2, 16, (n, t), generator=g)
    skipped = torch.rand(n, generator=g) < 0.3
    x["dwell"][skipped, -3:] = 1
    partly = ~skipped & (torch.rand(n, generator=g) < 0.5)  # two of three: a near miss, labelled no
    x["dwell"][partly, -2:] = 1
    return x, skipped.float()


@pytest.mark.parametrize("recent_events", [10, 0])
def test_the_wide_path_learns_what_the_newest_events_were(recent_events):
    # heads trained on a frozen encoder, as the "heads" mode trains them: with the newest events'
    # codes the rule is learnt within 100 steps; from the encoder state alone it is not
    net = _net(recent_events=recent_events)
    x, y = _skip_task(seed=0)
    xt, yt = _skip_task(seed=5)
    with torch.no_grad():
        hidden, hidden_test = net.intent_hidden(x), net.intent_hidden(xt)
    opt = torch.optim.Adam(net.intent_heads.parameters(), lr=1e-2)
    net.intent_heads.train()
    for _ in range(100):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net.head_logits(x, hidden)[2][:, 0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        score = net.head_logits(xt, hidden_test)[2][:, 0]
    pos = yt > 0
    auc = float((score[pos][:, None] > score[~pos][None]).float().mean())
    if recent_events:
        assert auc > 0.97
    else:
        assert auc < 0.85
