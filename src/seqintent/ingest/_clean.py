"""Cleaning rules over events sorted by (user, time, input order), as numpy masks.

Each function returns a boolean mask of the events it drops among those still ``alive``; the
caller counts them by reason and removes them before the next rule, so an event is counted once.

>>> import numpy as np
>>> user = np.array([0, 0, 0, 1]); item = np.array([5, 5, 5, 5]); action = np.array([1, 1, 1, 1])
>>> ts = np.array([0, 0, 4000, 0])
>>> duplicate_mask(user, item, action, ts, np.ones(4, bool), within_ms=0).tolist()
[False, True, False, False]
>>> duplicate_mask(user, item, action, ts, np.ones(4, bool), within_ms=5000).tolist()
[False, True, True, False]
"""

from __future__ import annotations

import numpy as np


def misclick_mask(
    action: np.ndarray, dwell_s: np.ndarray | None, actions: np.ndarray, min_dwell_s: float
) -> np.ndarray:
    """Events of the given action codes whose dwell is known and below ``min_dwell_s``."""
    if dwell_s is None or len(actions) == 0:
        return np.zeros(len(action), dtype=bool)
    with np.errstate(invalid="ignore"):
        short = dwell_s < min_dwell_s  # NaN (unknown dwell) compares False
    return short & np.isin(action, actions)


def grouped_order(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stable order by several non-negative integer keys (first = major), and "same keys as previous".

    Packs the keys and the position into one int64 and sorts the values (much faster than
    ``np.lexsort``); falls back to ``np.lexsort`` when they do not fit in 63 bits.
    """
    n = len(keys[0])
    pos_bits = max((n - 1).bit_length(), 1)
    widths = [max(int(k.max()).bit_length(), 1) if n else 1 for k in keys]
    if sum(widths) + pos_bits <= 63:
        packed = np.zeros(n, dtype=np.int64)
        for k, w in zip(keys, widths, strict=True):
            packed = (packed << w) | k.astype(np.int64, copy=False)
        packed = (packed << pos_bits) | np.arange(n, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << pos_bits) - 1)
        group = packed >> pos_bits
        same = np.zeros(n, dtype=bool)
        same[1:] = group[1:] == group[:-1]
        return order, same
    order = np.lexsort((np.arange(n), *reversed(keys)))
    same = np.zeros(n, dtype=bool)
    same[1:] = np.logical_and.reduce([k[order][1:] == k[order][:-1] for k in keys])
    return order, same


def duplicate_mask(
    user: np.ndarray,
    item: np.ndarray,
    action: np.ndarray,
    ts: np.ndarray,
    alive: np.ndarray,
    *,
    within_ms: int,
) -> np.ndarray:
    """Events repeating the same (user, item, action) within ``within_ms`` of its previous occurrence.

    The previous occurrence is the one just before in (time, input order), whether or not it was
    itself a duplicate, so a burst collapses to its first event. Inputs are sorted by user, then
    time, then input order; ``item`` uses -1 for "no item" (a value like any other here).
    """
    out = np.zeros(len(user), dtype=bool)
    idx = np.flatnonzero(alive)
    if len(idx) < 2:
        return out
    u, i, a, t = user[idx], item[idx] + 1, action[idx], ts[idx]
    if within_ms == 0:
        # only events sharing user and timestamp can repeat each other: look at those groups alone
        tie = np.zeros(len(idx), dtype=bool)
        tie[1:] = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
        in_group = tie.copy()
        in_group[:-1] |= tie[1:]
        cand = np.flatnonzero(in_group)
        if len(cand) == 0:
            return out
        group = np.cumsum(~tie[cand])
        order, same = grouped_order([group, i[cand], a[cand]])
        out[idx[cand[order[same]]]] = True
        return out
    order, same = grouped_order([u, i, a])
    close = np.zeros(len(idx), dtype=bool)
    close[1:] = (t[order][1:] - t[order][:-1]) <= within_ms
    out[idx[order[same & close]]] = True
    return out


def kcore_mask(
    user: np.ndarray, item: np.ndarray, alive: np.ndarray, *, min_user: int, min_item: int
) -> np.ndarray:
    """Events removed by the iterative k-core filter.

    Repeats until stable: drop every event of a user with fewer than ``min_user`` alive events,
    and every event of an item with fewer than ``min_item`` alive events. Events without an item
    (-1) count for their user and are removed only with their user.
    """
    keep = alive.copy()
    has_item = item >= 0
    n_users = int(user.max()) + 1 if len(user) else 0
    n_items = int(item.max()) + 1 if has_item.any() else 0
    while True:
        user_count = np.bincount(user[keep], minlength=n_users)
        item_count = np.bincount(item[keep & has_item], minlength=n_items)
        weak = user_count[user] < min_user
        if n_items:
            weak |= has_item & (item_count[np.where(has_item, item, 0)] < min_item)
        weak &= keep
        if not weak.any():
            return alive & ~keep
        keep &= ~weak
