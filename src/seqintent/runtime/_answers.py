"""Intent answers from head logits, and interests / exclusions from a history, without torch.

Calibration maps come from :mod:`seqintent.models.calibration` (numpy only; ``seqintent.models``
loads its torch modules lazily). Interests mirror :mod:`seqintent.explain.interests` over canonical
event dicts instead of importing it, because ``seqintent.explain`` loads torch; ``tests/runtime``
checks that both give the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
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


# families as small codes, so that per-family values are read off arrays rather than per event
_FAMILIES = tuple(dict.fromkeys(ACTION_FAMILY.values()))
_FAMILY_CODE = {action: _FAMILIES.index(family) for action, family in ACTION_FAMILY.items()}
_ACTION_WEIGHT = np.array([FAMILY_WEIGHT.get(f, 0.5) for f in _FAMILIES])
_EXPOSURE = np.array([f in EXPOSURE_FAMILIES for f in _FAMILIES])
_NEGATIVE = np.array([f == "negative" for f in _FAMILIES])
_PLAIN_DWELL = {float, type(None)}  # values numpy converts exactly as _number does


def interests_of(
    events: Sequence[Mapping[str, Any]], spec: InterestSpec, category_of_item: Mapping[str, str] | None = None
) -> Interests:
    """Interest shares and exclusions of a history (canonical events, oldest first).

    Events with an action that is not canonical are left out. An event without a category takes its
    item's category from ``category_of_item`` (the Model's catalogue) when it has one.
    """
    # this runs on every request, where per-event Python is the cost: the fields are read column by
    # column, and everything per family or per key is done by numpy
    code_of = _FAMILY_CODE.get
    family = [code_of(e.get(Columns.ACTION), -1) for e in events]
    rows = events
    if -1 in family:
        rows = [e for e, f in zip(events, family, strict=True) if f >= 0]
        family = [f for f in family if f >= 0]
    n = len(family)
    if n == 0:
        return Interests([], [], "category")
    keys = [None if (x := e.get(Columns.CATEGORY)) is None else str(x) for e in rows]
    by = "category"
    if None in keys:  # items are read only where some event lacks a category
        items = [None if (x := e.get(Columns.ITEM)) is None else str(x) for e in rows]
        if category_of_item is not None:
            lookup = category_of_item.get
            keys = [lookup(i) if k is None and i is not None else k for k, i in zip(keys, items, strict=True)]
        if keys.count(None) == n:
            keys, by = items, "item"
    times = [e.get(Columns.TIME) for e in rows]
    if None not in times:
        time_s = np.asarray(times, np.float64) / 1000.0
        age = (time_s[-1] - time_s) / spec.half_life_s
    else:
        age = (n - 1 - np.arange(n)) / spec.half_life_events
    recency = 0.5**age
    codes = np.array(family, dtype=np.intp)
    action = _ACTION_WEIGHT[codes]
    exposure = _EXPOSURE[codes]
    skip = _NEGATIVE[codes]
    dwells = [e.get(Columns.DWELL) for e in rows]
    if dwells.count(None) == n:  # no dwell: every factor is 1
        weight = recency * action
    else:
        if set(map(type, dwells)) <= _PLAIN_DWELL:
            dwell = np.array(dwells, np.float64)
        else:
            dwell = np.array([_number(x) for x in dwells], np.float64)
        known = np.isfinite(dwell)
        fast = known & (dwell < spec.skip_dwell_s)
        factor = np.ones(n)
        factor[known] = np.clip(np.log1p(dwell[known]) / np.log1p(TYPICAL_DWELL_S), 0.25, 3.0)
        factor[fast] = 0.0
        weight = recency * action * factor
        skip |= fast & exposure
    # keys numbered in order of first appearance; bincount adds in event order, as a loop would
    first = dict.fromkeys(keys)
    unnamed = None in first
    first.pop(None, None)
    index = {key: i for i, key in enumerate(first)}
    code = np.fromiter(map(index.get, keys, repeat(-1)), dtype=np.int64, count=n)
    if unnamed:
        named = code >= 0
        code, weight, exposure, skip = code[named], weight[named], exposure[named], skip[named]
    size = len(index)
    totals = np.bincount(code, weights=weight, minlength=size).tolist()
    exposures = np.bincount(code[exposure], minlength=size)
    skips = np.bincount(code[skip], minlength=size)
    names = list(index)
    total = sum(totals)  # in order of first appearance, as the explain stage adds
    ranked = sorted(zip(names, totals, strict=True), key=lambda kv: (-kv[1], kv[0]))
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
