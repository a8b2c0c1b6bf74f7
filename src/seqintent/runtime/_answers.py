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
    # the events are read in one pass (this runs on every request, where per-event Python is the cost)
    family_of = ACTION_FAMILY.get
    families: list[str] = []
    items: list[str | None] = []
    keys: list[str | None] = []
    times: list[Any] = []
    dwells: list[float] = []
    for e in events:
        family = family_of(e.get(Columns.ACTION))  # type: ignore[arg-type]
        if family is None:
            continue
        item, key = e.get(Columns.ITEM), e.get(Columns.CATEGORY)
        item = None if item is None else str(item)
        if key is not None:
            key = str(key)
        elif category_of_item is not None and item is not None:
            key = category_of_item.get(item)
        families.append(family)
        items.append(item)
        keys.append(key)
        times.append(e.get(Columns.TIME))
        dwells.append(_number(e.get(Columns.DWELL)))
    n = len(families)
    if n == 0:
        return Interests([], [], "category")
    by = "category"
    if all(k is None for k in keys):
        keys, by = items, "item"
    if None not in times:
        time_s = np.asarray(times, np.float64) / 1000.0
        age = (time_s[-1] - time_s) / spec.half_life_s
    else:
        age = (n - 1 - np.arange(n)) / spec.half_life_events
    recency = 0.5**age
    action = np.array([FAMILY_WEIGHT.get(f, 0.5) for f in families])
    dwell = np.array(dwells, np.float64)
    known = np.isfinite(dwell)
    fast = known & (dwell < spec.skip_dwell_s)
    factor = np.ones(n)
    factor[known] = np.clip(np.log1p(dwell[known]) / np.log1p(TYPICAL_DWELL_S), 0.25, 3.0)
    factor[fast] = 0.0
    weight = recency * action * factor
    # keys numbered in order of first appearance; bincount adds in event order, as a loop would
    index: dict[str, int] = {}
    code = np.array([-1 if k is None else index.setdefault(k, len(index)) for k in keys], dtype=np.int64)
    named = code >= 0
    exposure = np.array([f in EXPOSURE_FAMILIES for f in families])
    skip = np.array([f == "negative" for f in families]) | (fast & exposure)
    size = len(index)
    totals = np.bincount(code[named], weights=weight[named], minlength=size)
    exposures = np.bincount(code[named & exposure], minlength=size)
    skips = np.bincount(code[named & skip], minlength=size)
    names = list(index)
    total = sum(totals.tolist())  # in order of first appearance, as the explain stage adds
    ranked = sorted(zip(names, totals.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    interests = [
        {by: key, "share": round(value / total, 4)}
        for key, value in ranked[: spec.top]
        if total > 0 and value > 0
    ]
    counted = sorted(
        ((names[c], int(skips[c]), int(exposures[c])) for c in np.flatnonzero(skips)),
        key=lambda x: (-x[1], x[0]),
    )
    exclusions = [
        key
        for key, count, shown in counted
        if count >= spec.min_skips and count / max(shown, 1) >= spec.skip_share
    ]
    return Interests(interests, exclusions, by)


def _number(value: Any) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")
