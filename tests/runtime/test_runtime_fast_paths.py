"""The serving fast paths give exactly what the plain computations they replace give."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.models.history_summary import history_summary
from seqintent.runtime._answers import interests_of
from seqintent.runtime._folder import InterestSpec
from seqintent.runtime.engine import _top_k
from tests.runtime_builders import rich_events


def _plain_top_k(logits: np.ndarray, k: int, excluded: np.ndarray) -> list[int]:
    """The argpartition top-k alone (what _top_k answers, ties included)."""
    if len(excluded):
        logits = logits.copy()
        logits[excluded] = -np.inf
    k = min(k, len(logits) - 1 - len(np.unique(excluded)))
    if k <= 0:
        return []
    part = np.argpartition(logits, len(logits) - k)[-k:]
    return [int(i) for i in part[np.argsort(-logits[part], kind="stable")]]


@pytest.mark.parametrize("kind", ["distinct", "ties", "nan", "few_finite"])
def test_top_k_equals_the_full_partition(kind):
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(2, 5000))
        logits = rng.normal(size=n).astype(np.float32)
        if kind == "ties":
            logits = rng.integers(-3, 4, n).astype(np.float32)
        elif kind == "nan":
            logits[rng.integers(1, n)] = np.nan
        elif kind == "few_finite":
            logits[rng.random(n) < 0.9] = -np.inf
        logits[0] = -np.inf
        excluded = rng.integers(0, n, int(rng.integers(0, 4)))
        for k in (1, 5, 10, 100):
            got = _top_k(logits, k, excluded)
            assert got == _plain_top_k(logits, k, excluded), (kind, trial, k)
            assert all(type(i) is int for i in got)


def test_interests_read_dwell_and_ids_of_any_type_as_before():
    spec = InterestSpec(
        half_life_s=7200.0, half_life_events=50, skip_dwell_s=3.0, min_skips=1, skip_share=0.3, top=5
    )
    events = rich_events(users=1, length=60, seed=5)
    for i, e in enumerate(events):
        e["dwell_s"] = [1.0, 2.0, 45.0, None][i % 4]
        if i % 4 == 3:
            del e["dwell_s"]
    want = interests_of(events, spec)
    # dwell as text and ids as numbers go through the per-value path: the same answer
    texts = [{**e, "dwell_s": str(e["dwell_s"])} if "dwell_s" in e else e for e in events]
    assert interests_of(texts, spec) == want
    # events the engine cannot read are left out, wherever they are
    odd = [*events[:10], {"ts": events[9]["ts"], "action": "nonsense", "category": "c"}, *events[10:]]
    assert interests_of(odd, spec) == want
    # no category anywhere: by item, ids sent as numbers read as their text
    number = {x: i for i, x in enumerate(sorted({e["item_id"] for e in events if "item_id" in e}))}
    bare = [{k: v for k, v in e.items() if k != "category"} for e in events]
    numbered = [{**e, "item_id": number[e["item_id"]]} if "item_id" in e else e for e in bare]
    as_text = [{**e, "item_id": str(e["item_id"])} if "item_id" in e else e for e in numbered]
    want = interests_of(as_text, spec)
    assert want.by == "item" and want.interests
    assert interests_of(numbered, spec) == want


def test_one_history_counts_distinct_items_as_unique_does():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 300))
        item = rng.integers(0, int(rng.integers(1, 40)), n)
        category = rng.integers(0, 4, n)
        got = history_summary(
            action=rng.integers(1, 4, n),
            family=rng.integers(0, 5, n),
            item=item,
            category=category,
            dwell=np.zeros(n, dtype=np.int64),
            time_s=np.sort(rng.random(n) * 1e5),
            starts=[0],
            cuts=[n - 1],
            n_actions=4,
            dwell_buckets=4,
        )[0]
        variety = got[7 + 4 * 3 + 2 :][:2]  # after the size, per-action and convert columns
        want = [len(np.unique(item[item > 0])) / n, len(np.unique(category[category > 0])) / n]
        assert variety.tolist() == np.array(want, dtype=np.float32).tolist()
