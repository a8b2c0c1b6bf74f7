"""The whole-history summary the intent heads read beside the encoder: counts the window cannot see.

The encoder and the wide path (:class:`~seqintent.models.heads.RecentEvents`) read the newest
``max_len`` events. Many intents hang on what lies before them: how often the user liked or
bought at all, how active the last day was, how varied the items are (on KuaiRand, a user's share
of likes over the whole history predicts the next like at AUC 0.713 alone, while 36% of the test
cuts have more events than a 30-event window). The summary is that "traditional" feature vector,
computed from the newest ``window`` events of a history (the online store keeps as many), so
training and serving read exactly the same numbers:

- size: log events; events in the last hour and the last day; log span; events per day; events
  and seconds of the current session (since the last pause over 30 minutes);
- per action: share of the history, log count, log count in the last day and in the session;
- recency of conversion: log seconds since the newest ``convert`` event, and whether there is one;
- variety: distinct items / events, distinct categories / events, log repeats of the newest item;
- dwell: share of each dwell bucket among events with a known dwell.

Every value is scaled to about [0, 1]. This module needs numpy only: the runtime (no torch) shares
it with training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seqintent.schema.actions import FAMILIES

if TYPE_CHECKING:
    from seqintent.models.features import EventTokens

DEFAULT_WINDOW = 500
CONVERT_FAMILY = list(FAMILIES).index("convert") + 1  # family codes are FAMILIES order + 1
HOUR_S = 3600.0
DAY_S = 86400.0
SESSION_GAP_S = 1800.0  # a pause this long ends a session (the ingest default)
_LOG_COUNT = 6.0  # log1p(400) ≈ 6
_LOG_SECONDS = 16.0  # log1p(a year in seconds) ≈ 17.3

SIZE_NAMES = (
    "log_events",
    "log_hour_events",
    "log_day_events",
    "log_span_s",
    "log_events_per_day",
    "log_session_events",
    "log_session_s",
)
PER_ACTION = ("share", "log_count", "log_day_count", "log_session_count")
CONVERT_NAMES = ("log_since_convert_s", "has_convert")
VARIETY_NAMES = ("distinct_item_share", "distinct_category_share", "log_newest_item_repeats")


def summary_names(action_names: list[str], dwell_buckets: int) -> list[str]:
    """Names of the summary's columns; ``action_names`` are the actions of codes 1.. in order."""
    per_action = [f"{kind}_{a}" for a in action_names for kind in PER_ACTION]
    dwell = [f"dwell_share_{b}" for b in range(1, dwell_buckets)]
    return [*SIZE_NAMES, *per_action, *CONVERT_NAMES, *VARIETY_NAMES, *dwell]


def summary_width(n_actions: int, dwell_buckets: int) -> int:
    """Columns of the summary for ``n_actions`` action codes and ``dwell_buckets`` (padding included)."""
    per_action = len(PER_ACTION) * (n_actions - 1)
    return len(SIZE_NAMES) + per_action + len(CONVERT_NAMES) + len(VARIETY_NAMES) + dwell_buckets - 1


def history_summary(
    *,
    action: np.ndarray,
    family: np.ndarray,
    item: np.ndarray,
    category: np.ndarray,
    dwell: np.ndarray,
    time_s: np.ndarray,
    starts: np.ndarray,
    cuts: np.ndarray,
    n_actions: int,
    dwell_buckets: int,
    convert_family: int = CONVERT_FAMILY,
    window: int = DEFAULT_WINDOW,
) -> np.ndarray:
    """Summary [len(cuts), width] (float32) of each history ``events[max(start, cut - window + 1) :
    cut + 1]``.

    Parameters
    ----------
    action, family, item, category, dwell:
        int codes of every event (0: unknown / padding), histories stored one after another, each
        sorted by time.
    time_s:
        float seconds of every event (all 0 when the log has no time).
    starts, cuts:
        For each history, the index of its user's first event and of its newest event.
    n_actions, dwell_buckets:
        Sizes of the action and dwell codes (padding included).
    convert_family:
        The family code of ``convert`` actions.
    window:
        Events read per history (the newest).
    """
    starts = np.asarray(starts, dtype=np.int64)
    cuts = np.asarray(cuts, dtype=np.int64)
    if len(cuts) and (np.any(cuts < starts) or cuts.max() >= len(action)):
        raise ValueError("every cut must lie between its start and the last event")
    codes = [np.asarray(x, np.int64) for x in (action, family, item, category, dwell)]
    times = np.asarray(time_s, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if len(cuts) == 1 and cuts[0] == len(action) - 1 and starts[0] == 0:  # serving: one history
            lo = max(0, len(action) - window)
            window_codes = [x[lo:] for x in codes]
            one = _one_history(*window_codes, times[lo:], n_actions, dwell_buckets, convert_family)
            return one[None, :]
        return _summary(*codes, times, starts, cuts, n_actions, dwell_buckets, convert_family, window)


def tokens_summary(
    tokens: EventTokens,
    starts: np.ndarray,
    cuts: np.ndarray,
    *,
    n_actions: int,
    dwell_buckets: int,
    window: int = DEFAULT_WINDOW,
) -> np.ndarray:
    """:func:`history_summary` of histories ``tokens[starts[i] : cuts[i] + 1]`` of a Dataset's tokens
    (an empty history, ``cuts[i] < starts[i]``, has a summary of zeros).

    For a few histories only their windows are gathered (no pass over every event); for many whole
    user histories the arrays are read once.
    """
    starts = np.asarray(starts, dtype=np.int64)
    cuts = np.asarray(cuts, dtype=np.int64)
    sizes = {"n_actions": n_actions, "dwell_buckets": dwell_buckets, "window": window}
    if (
        not np.any(cuts < starts)  # no empty history
        and int((cuts - starts + 1).sum()) >= tokens.n_events // 2
        and np.array_equal(starts, tokens.user_start[cuts])  # segments of the arrays = users
    ):
        return history_summary(**_fields(tokens), starts=starts, cuts=cuts, **sizes)
    lo = np.maximum(starts, cuts - window + 1)
    return _ranges_summary(tokens, lo, cuts, np.full(len(cuts), -1), **sizes)


def tokens_summary_without(
    tokens: EventTokens,
    starts: np.ndarray,
    cuts: np.ndarray,
    removed: np.ndarray,
    *,
    n_actions: int,
    dwell_buckets: int,
    window: int = DEFAULT_WINDOW,
) -> np.ndarray:
    """:func:`tokens_summary` of each history with event ``removed[i]`` taken out (-1: none).

    What an occlusion explanation needs: the summary counts the removed event too, so taking an
    event out of a history changes both what the encoder reads and the counts.
    """
    starts = np.asarray(starts, dtype=np.int64)
    cuts = np.asarray(cuts, dtype=np.int64)
    lo = np.maximum(starts, cuts - window)  # one more than the window: the removed one may be in it
    sizes = {"n_actions": n_actions, "dwell_buckets": dwell_buckets, "window": window}
    return _ranges_summary(tokens, lo, cuts, np.asarray(removed, dtype=np.int64), **sizes)


def _fields(tokens: EventTokens) -> dict[str, np.ndarray]:
    return {
        "action": tokens.action,
        "family": tokens.family,
        "item": tokens.item,
        "category": tokens.category,
        "dwell": tokens.dwell,
        "time_s": tokens.time_s,
    }


def _ranges_summary(
    tokens: EventTokens,
    lo: np.ndarray,
    cuts: np.ndarray,
    removed: np.ndarray,
    *,
    n_actions: int,
    dwell_buckets: int,
    window: int,
) -> np.ndarray:
    """The summary of events ``lo[i] .. cuts[i]`` without ``removed[i]``, each range gathered into a
    history of its own (a range left empty: zeros)."""
    lengths = np.maximum(cuts - lo + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    index = np.repeat(lo - offsets[:-1], lengths) + np.arange(offsets[-1])
    keep = index != np.repeat(removed, lengths)
    kept = np.bincount(np.repeat(np.arange(len(cuts)), lengths)[keep], minlength=len(cuts))
    out = np.zeros((len(cuts), summary_width(n_actions, dwell_buckets)), dtype=np.float32)
    some = kept > 0
    if some.any():
        bounds = np.concatenate([[0], np.cumsum(kept)])
        out[some] = history_summary(
            **{k: v[index[keep]] for k, v in _fields(tokens).items()},
            starts=bounds[:-1][some],
            cuts=bounds[1:][some] - 1,
            n_actions=n_actions,
            dwell_buckets=dwell_buckets,
            window=window,
        )
    return out


def _summary(
    action: np.ndarray,
    family: np.ndarray,
    item: np.ndarray,
    category: np.ndarray,
    dwell: np.ndarray,
    time_s: np.ndarray,
    starts: np.ndarray,
    cuts: np.ndarray,
    n_actions: int,
    dwell_buckets: int,
    convert_family: int,
    window: int,
) -> np.ndarray:
    n_events = len(action)
    lo = np.maximum(starts, cuts - window + 1)
    n = (cuts - lo + 1).astype(np.float64)
    now = time_s[cuts]
    # the segment (history) of every event, so that "the last day" stops at the history's start;
    # a new one also wherever time steps back (a user without a cut between two with one), so that
    # every segment is sorted by time, as the searches below need
    segment = np.zeros(n_events, dtype=np.int64)
    segment[np.unique(starts)] = 1
    segment[1:][np.diff(time_s) < 0] = 1
    segment = np.cumsum(segment)
    hour_lo = np.maximum(lo, _first_at_or_after(segment, time_s, segment[cuts], now - HOUR_S))
    day_lo = np.maximum(lo, _first_at_or_after(segment, time_s, segment[cuts], now - DAY_S))
    cols: list[np.ndarray] = [
        np.log1p(n) / _LOG_COUNT,
        np.log1p(cuts - hour_lo + 1.0) / _LOG_COUNT,
        np.log1p(cuts - day_lo + 1.0) / _LOG_COUNT,
    ]
    span = np.maximum(now - time_s[lo], 0.0)
    cols.append(np.log1p(span) / _LOG_SECONDS)
    cols.append(np.log1p(n / (span / DAY_S + 1.0)) / _LOG_COUNT)
    idx = np.arange(n_events)
    # the current session: events since the last pause longer than SESSION_GAP_S (within the window)
    pause = np.ones(n_events, dtype=bool)
    pause[1:] = (segment[1:] != segment[:-1]) | (np.diff(time_s) > SESSION_GAP_S)
    session_lo = np.maximum(lo, np.maximum.accumulate(np.where(pause, idx, 0))[cuts])
    cols.append(np.log1p(cuts - session_lo + 1.0) / _LOG_COUNT)
    cols.append(np.log1p(np.maximum(now - time_s[session_lo], 0.0)) / _LOG_SECONDS)
    for code in range(1, n_actions):
        is_a = action == code
        count = _range_count(is_a, lo, cuts)
        cols += [
            count / n,
            np.log1p(count) / _LOG_COUNT,
            np.log1p(_range_count(is_a, day_lo, cuts)) / _LOG_COUNT,
            np.log1p(_range_count(is_a, session_lo, cuts)) / _LOG_COUNT,
        ]
    last_convert = np.maximum.accumulate(np.where(family == convert_family, idx, -1))[cuts]
    has = last_convert >= lo
    since = np.where(has, now - time_s[np.maximum(last_convert, 0)], 0.0)
    cols += [np.log1p(np.maximum(since, 0.0)) / _LOG_SECONDS, has.astype(np.float64)]
    item_order = _same_value_order(item, segment)  # one sort serves both item figures
    cols.append(_distinct(item, segment, lo, cuts, starts, window, item_order) / n)
    category_order = _same_value_order(category, segment)
    cols.append(_distinct(category, segment, lo, cuts, starts, window, category_order) / n)
    cols.append(np.log1p(_newest_repeats(item, segment, lo, cuts, starts, item_order)) / 4.0)
    known = dwell > 0
    n_known = _range_count(known, lo, cuts)
    for bucket in range(1, dwell_buckets):
        cols.append(np.where(n_known > 0, _range_count(dwell == bucket, lo, cuts) / n_known, 0.0))
    if not cols or not len(cuts):
        return np.zeros((len(cuts), summary_width(n_actions, dwell_buckets)), dtype=np.float32)
    return np.stack(cols, axis=1).astype(np.float32)


def _one_history(
    action: np.ndarray,
    family: np.ndarray,
    item: np.ndarray,
    category: np.ndarray,
    dwell: np.ndarray,
    time_s: np.ndarray,
    n_actions: int,
    dwell_buckets: int,
    convert_family: int,
) -> np.ndarray:
    """:func:`_summary` of one history already cut to its window, in a dozen numpy calls rather than
    a hundred (the online path, once per request); ``tests/models`` checks both agree."""
    k = float(len(action))
    now = time_s[-1]
    base = time_s.min()
    ms = np.rint((time_s - base) * 1000.0).astype(np.int64)
    day = ms >= ms[-1] - int(DAY_S * 1000)
    hour_events = np.count_nonzero(ms >= ms[-1] - int(HOUR_S * 1000))
    span = max(now - time_s[0], 0.0)
    pauses = np.flatnonzero(time_s[1:] - time_s[:-1] > SESSION_GAP_S)  # np.diff's result, minus its overhead
    session = int(pauses[-1]) + 1 if len(pauses) else 0
    size = [
        np.log1p(k) / _LOG_COUNT,
        np.log1p(hour_events) / _LOG_COUNT,
        np.log1p(np.count_nonzero(day)) / _LOG_COUNT,
        np.log1p(span) / _LOG_SECONDS,
        np.log1p(k / (span / DAY_S + 1.0)) / _LOG_COUNT,
        np.log1p(k - session) / _LOG_COUNT,
        np.log1p(max(now - time_s[session], 0.0)) / _LOG_SECONDS,
    ]
    counts = np.bincount(action, minlength=n_actions)[1:n_actions].astype(np.float64)
    day_counts = np.bincount(action[day], minlength=n_actions)[1:n_actions].astype(np.float64)
    session_counts = np.bincount(action[session:], minlength=n_actions)[1:n_actions].astype(np.float64)
    per_action = np.stack(
        [
            counts / k,
            np.log1p(counts) / _LOG_COUNT,
            np.log1p(day_counts) / _LOG_COUNT,
            np.log1p(session_counts) / _LOG_COUNT,
        ],
        axis=1,
    )
    converts = np.flatnonzero(family == convert_family)
    since = max(now - time_s[converts[-1]], 0.0) if len(converts) else 0.0
    convert = [np.log1p(since) / _LOG_SECONDS, float(len(converts) > 0)]
    newest = item[-1]
    repeats = np.count_nonzero(item[:-1] == newest) if newest > 0 else 0
    variety = []
    # distinct known codes, counted where the sorted codes change (np.unique costs more on ~200 events)
    for codes in (item, category):
        present = np.sort(codes[codes > 0])
        variety.append((np.count_nonzero(present[1:] != present[:-1]) + min(len(present), 1)) / k)
    variety.append(np.log1p(repeats) / 4.0)
    dwell_counts = np.bincount(dwell, minlength=dwell_buckets)[1:dwell_buckets].astype(np.float64)
    known = dwell_counts.sum()
    shares = dwell_counts / known if known > 0 else np.zeros(dwell_buckets - 1)
    return np.concatenate([size, per_action.reshape(-1), convert, variety, shares]).astype(np.float32)


def _range_count(mask: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Number of True in ``mask[lo[i] : hi[i] + 1]``."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return (c[hi + 1] - c[lo]).astype(np.float64)


def _first_at_or_after(
    segment: np.ndarray, time_s: np.ndarray, cut_segment: np.ndarray, since: np.ndarray
) -> np.ndarray:
    """Index of the first event of each cut's segment at or after time ``since``.

    Events are sorted by (segment, time): one search over a (segment, milliseconds) key finds it.
    """
    base = float(time_s.min()) if len(time_s) else 0.0  # keys count milliseconds from the first event

    def key(seg: np.ndarray, t: np.ndarray) -> np.ndarray:
        # times are whole milliseconds: rounding (not flooring) keeps the comparison exact
        ms = np.rint((np.asarray(t, np.float64) - base) * 1000.0)
        ms = np.clip(ms, -1, 2**40 - 1).astype(np.int64) + 1
        return (np.asarray(seg, np.int64) << 41) + ms

    return np.searchsorted(key(segment, time_s), key(cut_segment, since), side="left")


def _same_value_order(values: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events sorted by (segment, value, index), and which sorted neighbours share segment and value."""
    order = np.lexsort((np.arange(len(values)), values, segment))
    same = (segment[order][1:] == segment[order][:-1]) & (values[order][1:] == values[order][:-1])
    return order, same


def _distinct(
    values: np.ndarray,
    segment: np.ndarray,
    lo: np.ndarray,
    cuts: np.ndarray,
    starts: np.ndarray,
    window: int,
    sorted_values: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Distinct non-zero values among ``values[lo[i] : cuts[i] + 1]``, per history.

    A window that starts at its history's first event counts first occurrences (a prefix sum).
    A full window slides: one step adds its new event when that value's previous occurrence lies
    before the window, and drops the leaving event when its value does not recur before that new one,
    so a running sum from the last window that starts at the history's first event gives the rest.
    """
    n = len(values)
    order, same = sorted_values  # from _same_value_order
    previous = np.full(n, -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    following = np.full(n, n, dtype=np.int64)
    following[order[:-1][same]] = order[1:][same]
    known = values > 0
    prefix = np.concatenate([[0], np.cumsum((previous < 0) & known, dtype=np.int64)])
    idx = np.arange(n)
    first = np.searchsorted(segment, segment, side="left")  # the first event of each event's segment
    full = idx - first >= window
    leaving = np.maximum(idx - window, 0)
    add = known & (previous < idx - window + 1)
    # the leaving value is gone unless it recurs among the events the two windows share
    drop = full & known[leaving] & (following[leaving] >= idx)
    running = np.cumsum(np.where(full, add.astype(np.int64) - drop, 0))
    base = np.minimum(first + window - 1, n - 1)  # the last window starting at the segment's first event
    slid = prefix[base + 1] - prefix[first] + running - running[base]
    from_start = (prefix[cuts + 1] - prefix[starts]).astype(np.float64)
    return np.where(lo > starts, slid[cuts], from_start)


def _newest_repeats(
    item: np.ndarray,
    segment: np.ndarray,
    lo: np.ndarray,
    cuts: np.ndarray,
    starts: np.ndarray,
    sorted_items: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Earlier events of each window with the newest event's (known) item."""
    n = len(item)
    order, same = sorted_items  # from _same_value_order
    group = np.concatenate([[0], np.cumsum(~same)])  # group id of each sorted position
    block = np.searchsorted(group, group, side="left")  # first sorted position of each group
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    rank = position - block[position]  # earlier events of the history with the event's item
    # earlier ones before the window: search the (group, index) keys of the sorted events for lo
    keys = (group.astype(np.int64) << 32) | order
    group_of_cut = group[position[cuts]]
    before = np.searchsorted(keys, (group_of_cut.astype(np.int64) << 32) | lo) - block[position[cuts]]
    out = np.where(lo > starts, rank[cuts] - before, rank[cuts])
    return np.where(item[cuts] > 0, out, 0).astype(np.float64)
