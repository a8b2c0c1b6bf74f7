"""Interests (what a user is into) and exclusions (what they reject), read off a history.

Interest share of a category = its part of the user's recent engagement. Each event weighs

``recency × action weight × dwell factor``

- recency halves every ``half_life`` before the newest event (every ``half_life_events`` events
  without time);
- action weight by family: convert 3, engage 2, review 1.5, browse / search 1, other 0.5,
  negative / account / payment 0;
- dwell factor ``log1p(dwell) / log1p(30 s)`` clipped to [0.25, 3] where dwell is known, 0 for a fast
  skip (dwell under ``skip_dwell_s``), 1 where dwell is unknown.

Categories come from the events (or the item's category in the model); where no event has one,
interests are by item. Shares sum to 1 over the categories listed plus the rest.

A category is *excluded* when the user skipped it fast or disliked it (a ``negative`` action:
hate, skip …) at least ``min_skips`` times and in at least ``skip_share`` of its exposures
(views, clicks, exposures and dislikes of it). One stray skip is not an exclusion.

>>> from seqintent.models.intent_config import InterestConfig
>>> cats = ["news", "news", "news", "sport", "sport"]
>>> fams = ["browse"] * 5
>>> dwell = np.array([1.0, 1.5, 2.0, 60.0, 40.0])
>>> r = interests_and_exclusions(cats, fams, dwell, None, InterestConfig())
>>> r.interests[0]["category"], r.interests[0]["share"], [e["category"] for e in r.exclusions]
('sport', 1.0, ['news'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqintent.models.intent_config import InterestConfig, parse_horizon

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


@dataclass
class InterestResult:
    """Interests and exclusions of a history.

    ``interests``: ``[{category, share}]``, largest share first; ``exclusions``:
    ``[{category, skips, exposures, skip_share}]``; ``by``: "category", or "item" when no event
    has a category (the key of both lists).
    """

    interests: list[dict[str, Any]]
    exclusions: list[dict[str, Any]]
    by: str  # "category" or "item"


def interests_and_exclusions(
    categories: list[str | None],
    families: list[str | None],
    dwell_s: np.ndarray,
    time_s: np.ndarray | None,
    config: InterestConfig,
    items: list[str | None] | None = None,
) -> InterestResult:
    """Interest shares and exclusions of one history (events oldest first).

    Parameters
    ----------
    categories, families:
        Category name and action family of every event (None when unknown).
    dwell_s:
        Dwell seconds per event (NaN when unknown).
    time_s:
        Event times in seconds, or None for a log without time.
    config:
        Half-life, skip line and exclusion thresholds.
    items:
        Item ids, used as the grouping key when no event has a category.
    """
    n = len(families)
    if n == 0:
        return InterestResult([], [], "category")
    by = "category"
    keys = list(categories)
    if all(c is None for c in keys) and items is not None:
        keys, by = list(items), "item"
    if time_s is not None:
        half_life = parse_horizon(config.half_life) or 7 * 86400.0
        age = (time_s[-1] - np.asarray(time_s, np.float64)) / half_life
    else:
        age = (n - 1 - np.arange(n)) / config.half_life_events
    recency = 0.5**age
    action = np.array([FAMILY_WEIGHT.get(f or "other", 0.5) for f in families])
    dwell = np.asarray(dwell_s, np.float64)
    known = np.isfinite(dwell)
    fast = known & (dwell < config.skip_dwell_s)
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
        negative = families[k] == "negative"
        if families[k] in EXPOSURE_FAMILIES:
            exposures[key] = exposures.get(key, 0) + 1
        if negative or (fast[k] and families[k] in EXPOSURE_FAMILIES):
            skips[key] = skips.get(key, 0) + 1
    total = sum(totals.values())
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    interests = [
        {by: key, "share": round(value / total, 4)}
        for key, value in ranked[: config.top]
        if total > 0 and value > 0
    ]
    exclusions = []
    for key, count in sorted(skips.items(), key=lambda kv: (-kv[1], kv[0])):
        share = count / max(exposures.get(key, 0), 1)
        if count >= config.min_skips and share >= config.skip_share:
            exclusions.append(
                {by: key, "skips": count, "exposures": exposures.get(key, 0), "skip_share": round(share, 4)}
            )
    return InterestResult(interests, exclusions, by)
