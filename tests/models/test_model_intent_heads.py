"""The whole network (next item + intent heads): outputs, the blind intent pass, ONNX export."""

import numpy as np
import pytest
import torch

from seqintent.models import InputSpec, ModelConfig, NextItemNetwork
from seqintent.models.heads import OUTPUT_NAMES, IntentHeads, IntentNetwork
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


def _net(**extras):
    torch.manual_seed(0)
    network = NextItemNetwork(ModelConfig(hidden=32, layers=2, heads=2, max_len=12, **extras), _spec())
    return IntentNetwork(network, IntentHeads(32, 16, n_actions=4, n_families=10, n_binary=3)).eval()


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
