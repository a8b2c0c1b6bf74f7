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
    u, i, a, t = user[idx], item[idx], action[idx], ts[idx]
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
        order = np.lexsort((cand, a[cand], i[cand], group))
        c = cand[order]
        same = np.zeros(len(c), dtype=bool)
        same[1:] = (group[order][1:] == group[order][:-1]) & (i[c][1:] == i[c][:-1]) & (a[c][1:] == a[c][:-1])
        out[idx[c[same]]] = True
        return out
    order = np.lexsort((np.arange(len(idx)), a, i, u))  # stable: time order kept within a key
    key_same = (
        (u[order][1:] == u[order][:-1]) & (i[order][1:] == i[order][:-1]) & (a[order][1:] == a[order][:-1])
    )
    close = (t[order][1:] - t[order][:-1]) <= within_ms
    dup = np.zeros(len(idx), dtype=bool)
    dup[order[1:][key_same & close]] = True
    out[idx[dup]] = True
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
