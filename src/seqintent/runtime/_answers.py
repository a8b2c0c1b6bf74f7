"""Intent answers from head logits, and interests / exclusions from a history, without torch.

Calibration maps come from :mod:`seqintent.models.calibration` (numpy only; ``seqintent.models``
loads its torch modules lazily). Interests mirror :mod:`seqintent.explain.interests` over canonical
event dicts instead of importing it, because ``seqintent.explain`` loads torch; ``tests/runtime``
checks that both give the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqintent.runtime._folder import InterestSpec
from seqintent.schema.actions import ACTION_FAMILY
from seqintent.schema.columns import Columns

# as seqintent.explain.interests
FAMILY_WEIGHT = {
    "convert": 3.0,
    "engage": 2.0,
    "review": 1.5,
    "browse": 1.0,
    "search": 1.0,
    "other": 0.5,
    "negative": 0.0,
    "account": 0.0,
    "payment": 0.0,
}
EXPOSURE_FAMILIES = ("browse", "negative")
TYPICAL_DWELL_S = 30.0


@dataclass(frozen=True)
class Interests:
    """``interests``: ``[{by: key, share}]`` largest first; ``exclusions``: the keys rejected; ``by``:
    "category", or "item" when no event has a category."""

    interests: list[dict[str, Any]]
    exclusions: list[str]
    by: str


def interests_of(
    events: Sequence[Mapping[str, Any]], spec: InterestSpec, category_of_item: Mapping[str, str] | None = None
) -> Interests:
    """Interest shares and exclusions of a history (canonical events, oldest first).

    Events with an action that is not canonical are left out. An event without a category takes its
    item's category from ``category_of_item`` (the Model's catalogue) when it has one.
    """
    rows = [e for e in events if e.get(Columns.ACTION) in ACTION_FAMILY]
    n = len(rows)
    if n == 0:
        return Interests([], [], "category")
    families = [ACTION_FAMILY[e[Columns.ACTION]] for e in rows]
    items = [_text(e.get(Columns.ITEM)) for e in rows]
    keys = [_text(e.get(Columns.CATEGORY)) for e in rows]
    if category_of_item is not None:
        keys = [
            k if k is not None or i is None else category_of_item.get(i)
            for k, i in zip(keys, items, strict=True)
        ]
    by = "category"
    if all(k is None for k in keys):
        keys, by = items, "item"
    times = [e.get(Columns.TIME) for e in rows]
    if all(t is not None for t in times):
        time_s = np.asarray(times, np.float64) / 1000.0
        age = (time_s[-1] - time_s) / spec.half_life_s
    else:
        age = (n - 1 - np.arange(n)) / spec.half_life_events
    recency = 0.5**age
    action = np.array([FAMILY_WEIGHT.get(f, 0.5) for f in families])
    dwell = np.array([_number(e.get(Columns.DWELL)) for e in rows], np.float64)
    known = np.isfinite(dwell)
    fast = known & (dwell < spec.skip_dwell_s)
    factor = np.ones(n)
    factor[known] = np.clip(np.log1p(dwell[known]) / np.log1p(TYPICAL_DWELL_S), 0.25, 3.0)
    factor[fast] = 0.0
    weight = recency * action * factor
    totals: dict[str, float] = {}
    skips: dict[str, int] = {}
    exposures: dict[str, int] = {}
    for k in range(n):
        key = keys[k]
        if key is None:
            continue
        totals[key] = totals.get(key, 0.0) + float(weight[k])
        if families[k] in EXPOSURE_FAMILIES:
            exposures[key] = exposures.get(key, 0) + 1
        if families[k] == "negative" or (fast[k] and families[k] in EXPOSURE_FAMILIES):
            skips[key] = skips.get(key, 0) + 1
    total = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    interests = [
        {by: key, "share": round(value / total, 4)}
        for key, value in ranked[: spec.top]
        if total > 0 and value > 0
    ]
    exclusions = [
        key
        for key, count in sorted(skips.items(), key=lambda kv: (-kv[1], kv[0]))
        if count >= spec.min_skips and count / max(exposures.get(key, 0), 1) >= spec.skip_share
    ]
    return Interests(interests, exclusions, by)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")
