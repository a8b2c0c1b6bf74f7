"""The inference engine: same answers as the PyTorch model, batching changes nothing, fallbacks, no torch."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from seqintent.models import EventTokens, HistoryBatch, NextItemModel
from seqintent.runtime import InferenceEngine
from seqintent.schema.columns import Vocabularies

pytest.importorskip("onnxruntime")


def histories(exported, n_users=20, seed=0):
    """(user, events so far, request time) for prefixes of the first users' histories."""
    rng = np.random.default_rng(seed)
    by_user: dict[str, list] = {}
    for e in exported.events:
        by_user.setdefault(e["user_id"], []).append(e)
    out = []
    for user, events in list(by_user.items())[:n_users]:
        end = int(rng.integers(1, len(events) + 1))
        out.append((user, events[:end], events[end - 1]["ts"] + int(rng.integers(1_000, 10_000_000))))
    return out


def torch_scores(exported, model, user, end, at_ms):
    tokens = EventTokens.from_dataset(exported.dataset, model.spec)
    u = exported.dataset.vocab(Vocabularies.USERS).index_of(user)
    start = tokens.offsets[u]
    batch = HistoryBatch(tokens, np.array([start]), np.array([start + end]), np.array([at_ms / 1000.0]))
    return model.score(batch)[0].astype(np.float64)


@pytest.fixture()
def engine(exported_plain):
    engine = InferenceEngine.load(exported_plain.runtime, max_wait_ms=0.0)
    yield engine
    engine.close()


def test_predictions_equal_the_pytorch_model(exported):
    model = NextItemModel.from_pretrained(exported.model)
    engine = InferenceEngine.load(exported.runtime, max_wait_ms=0.0)
    items = engine.items.values
    for user, events, at_ms in histories(exported):
        got = engine.predict(events, user_id=user, k=5, at_ms=at_ms)
        logits = torch_scores(exported, model, user, len(events), at_ms)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        want = np.argsort(-logits, kind="stable")[:5]
        assert [x.item_id for x in got.next_items] == [items[i] for i in want]
        np.testing.assert_allclose([x.score for x in got.next_items], probs[want], atol=1e-5)
        assert [x.rank for x in got.next_items] == [1, 2, 3, 4, 5]
        assert got.source == "model" and not got.cold_start and got.user_id == user
        assert got.history.events == len(events)
        assert got.history.read == min(len(events), engine.max_len)
    engine.close()


def test_concurrent_requests_are_batched_and_answered_as_alone(exported_plain):
    sizes: list[int] = []
    engine = InferenceEngine.load(
        exported_plain.runtime, max_wait_ms=20.0, on_batch=lambda n, s: sizes.append(n)
    )
    cases = histories(exported_plain, n_users=24, seed=1)
    alone = [engine.predict(ev, k=10, at_ms=at) for _, ev, at in cases]
    together: dict[int, object] = {}
    barrier = threading.Barrier(len(cases))

    def ask(i: int) -> None:
        barrier.wait()
        together[i] = engine.predict(cases[i][1], k=10, at_ms=cases[i][2])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    engine.close()
    assert max(sizes) > 1  # some requests shared a model call
    for i, want in enumerate(alone):
        got = together[i]
        assert [x.item_id for x in got.next_items] == [x.item_id for x in want.next_items]
        np.testing.assert_allclose(
            [x.score for x in got.next_items], [x.score for x in want.next_items], atol=1e-5
        )
        assert [e.event_id for e in got.explanation.events] == [e.event_id for e in want.explanation.events]


def test_int8_mostly_agrees_with_fp32(exported_plain, engine):
    int8 = InferenceEngine.load(exported_plain.runtime, precision="int8", max_wait_ms=0.0)
    overlap = []
    for _, events, at_ms in histories(exported_plain):
        a = {x.item_id for x in engine.predict(events, k=10, at_ms=at_ms).next_items}
        b = {x.item_id for x in int8.predict(events, k=10, at_ms=at_ms).next_items}
        overlap.append(len(a & b) / 10)
    int8.close()
    assert np.mean(overlap) >= 0.8


def test_nothing_to_infer_from_is_answered_by_popularity(exported_plain, engine):
    counts = engine.items.counts.copy()
    counts[0] = 0
    order = np.argsort(-counts, kind="stable")[:3]
    want = [engine.items.values[i] for i in order]
    cold = [
        {"event_id": "a", "user_id": "x", "ts": 1_711_900_000_000, "action": "view", "item_id": "brand-new"}
    ]
    for events in ([], cold, [dict(cold[0], action="login")]):
        got = engine.predict(events, user_id="x", k=3)
        assert got.source == "popularity" and got.cold_start
        assert [x.item_id for x in got.next_items] == want
        np.testing.assert_allclose([x.score for x in got.next_items], counts[order] / counts.sum())
        assert got.explanation is None
    assert engine.predict([dict(cold[0], action="login")], k=3).history.ignored == 1
    got = engine.predict([], k=3, exclude_items=[want[0]])
    assert [x.item_id for x in got.next_items] == [
        *want[1:],
        engine.items.values[np.argsort(-counts, kind="stable")[3]],
    ]


def test_exclusions(exported_plain, engine):
    _, events, at_ms = histories(exported_plain)[0]
    seen = {e["item_id"] for e in events if "item_id" in e}
    base = engine.predict(events, k=10, at_ms=at_ms)
    got = engine.predict(events, k=10, at_ms=at_ms, exclude_seen=True)
    assert not seen & {x.item_id for x in got.next_items}
    drop = base.next_items[0].item_id
    got = engine.predict(events, k=10, at_ms=at_ms, exclude_items=[drop, "not-an-item"])
    assert [x.item_id for x in got.next_items][:9] == [x.item_id for x in base.next_items][1:]
    assert got.next_items[0].score == base.next_items[1].score  # probabilities are not renormalised


def test_explanation_lists_history_events_with_weights_summing_to_one(exported_plain, engine):
    for _, events, at_ms in histories(exported_plain):
        got = engine.predict(events, k=3, at_ms=at_ms)
        ex = got.explanation
        assert ex.method == "attention_rollout"
        assert len(ex.events) == min(5, got.history.read)
        assert sum(e.weight for e in ex.events) + ex.other_weight == pytest.approx(1.0, abs=1e-5)
        assert [e.weight for e in ex.events] == sorted((e.weight for e in ex.events), reverse=True)
        by_id = {e["event_id"]: e for e in events}
        for e in ex.events:
            source = by_id[e.event_id]
            assert (e.ts, e.action, e.item_id) == (source["ts"], source["action"], source.get("item_id"))
        top = ex.events[0]
        assert ex.rationale.startswith(f"Driven most by {top.action}")
        assert f"({top.weight:.0%}, " in ex.rationale


def test_removing_the_heaviest_events_moves_the_answer_more_than_removing_random_ones(exported_plain, engine):
    rng = np.random.default_rng(0)
    by_user: dict[str, list] = {}
    for e in exported_plain.events:
        by_user.setdefault(e["user_id"], []).append(e)
    top_moves, random_moves = [], []

    def probs(events, at_ms):
        encoded = engine.encode(events, at_ms)
        logits = engine.run_graph([encoded])[0][0].astype(np.float64)
        p = np.exp(logits - logits[np.isfinite(logits)].max())
        return p / p.sum()

    for events in list(by_user.values())[:40]:
        events = events[-engine.max_len :]
        at_ms = events[-1]["ts"] + 60_000
        base = probs(events, at_ms)
        weights = engine.predict(events, k=1, at_ms=at_ms).explanation.events
        heavy = {e.event_id for e in weights[:2]}
        light = set(rng.choice([e["event_id"] for e in events], size=2, replace=False))
        top_moves.append(np.abs(probs([e for e in events if e["event_id"] not in heavy], at_ms) - base).sum())
        random_moves.append(
            np.abs(probs([e for e in events if e["event_id"] not in light], at_ms) - base).sum()
        )
    assert np.mean(top_moves) > np.mean(random_moves)


def test_serving_never_imports_torch(exported_plain):
    code = f"""
import sys
from seqintent.runtime import InferenceEngine
engine = InferenceEngine.load({str(exported_plain.runtime)!r})
r = engine.predict([{{"user_id": "u", "ts": 1711900000000, "action": "view", "item_id": "g0i1"}}], k=3)
assert r.source == "model", r
engine.close()
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
