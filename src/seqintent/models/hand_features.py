"""Hand-made features of a history cut: the "traditional method" the intent heads are compared with.

What a data scientist would build for a purchase or churn model, per cut (the history up to and
including one event), with no order information beyond recency:

- size: events, sessions, span, events per day;
- counts and shares of every action over the whole history, counts in the current session and in
  the last 24 hours;
- recency: seconds since the previous event, since the first event, since the last ``convert``
  event (cart, buy …), and how many there were;
- dwell: mean, max, the newest event's, mean of the newest 5, share of fast skips (< 3 s);
- categories among the newest 50 events: distinct count, share of the top one, entropy, share
  of the newest event's category; items: distinct share, repeats of the newest event's item;
- time of day and weekday of the cut.

Counts and durations enter as ``log1p``; a missing value (no dwell, no convert yet) is NaN, which
gradient-boosted trees handle natively and the logistic regression imputes.
"""

from __future__ import annotations

import numpy as np

from seqintent.data import Dataset
from seqintent.models.features import FAMILY_NAMES, EventTokens
from seqintent.schema.columns import SequenceFields, Vocabularies

DAY_S = 86400.0
RECENT = 50
FAST_SKIP_S = 3.0


def user_time_key(
    tokens: EventTokens, time_s: np.ndarray | None = None, users: np.ndarray | None = None
) -> np.ndarray:
    """A sortable key (user, time in ms) to search a user's events by time with ``np.searchsorted``.

    Keys of the events themselves are sorted (events are ordered by user, then time). ``time_s``
    and ``users`` give keys of other instants (for each event by default).
    """
    user = tokens.user if users is None else users
    t = tokens.time_s if time_s is None else time_s
    base = float(tokens.time_s.min()) if tokens.n_events else 0.0
    ms = np.floor((np.asarray(t, dtype=np.float64) - base) * 1000.0)
    ms = np.clip(ms, -1, 2**40 - 1).astype(np.int64) + 1
    return (np.asarray(user, dtype=np.int64) << 41) + ms


def _prefix_count(mask: np.ndarray, cuts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Number of True in ``mask[starts[i] : cuts[i] + 1]``."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return c[cuts + 1] - c[starts]


def _prefix_sum(values: np.ndarray, cuts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return c[cuts + 1] - c[starts]


def hand_features(dataset: Dataset, tokens: EventTokens, cuts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Feature matrix [len(cuts), F] (float32) and the feature names, for histories ending at ``cuts``.

    Parameters
    ----------
    dataset:
        The Dataset (raw dwell and session arrays, action names).
    tokens:
        Its event tokens.
    cuts:
        Event indices; each history is the user's events up to and including the cut.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return _hand_features(dataset, tokens, np.asarray(cuts, dtype=np.int64))


def _hand_features(dataset: Dataset, tokens: EventTokens, cuts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    seq = dataset.sequences
    start = tokens.user_start[cuts]
    n = (cuts - start + 1).astype(np.float64)
    time = tokens.time_s
    cols: dict[str, np.ndarray] = {}
    cols["log_events"] = np.log1p(n)
    session = np.asarray(seq[SequenceFields.SESSION], dtype=np.int64)
    cols["log_sessions"] = np.log1p(session[cuts] + 1.0)
    span = time[cuts] - time[start]
    cols["log_span_s"] = np.log1p(span)
    cols["events_per_day"] = np.log1p(n / (span / DAY_S + 1.0))
    cols["log_since_previous_s"] = np.where(
        cuts > start, np.log1p(time[cuts] - time[np.maximum(cuts - 1, 0)]), np.nan
    )

    # session start of every event: the first event of its (user, session)
    idx = np.arange(tokens.n_events)
    new = np.ones(tokens.n_events, dtype=bool)
    new[1:] = (tokens.user[1:] != tokens.user[:-1]) | (session[1:] != session[:-1])
    session_start = np.maximum.accumulate(np.where(new, idx, 0))[cuts]
    cols["log_session_events"] = np.log1p(cuts - session_start + 1.0)
    cols["log_session_s"] = np.log1p(time[cuts] - time[session_start])
    key = user_time_key(tokens)
    day_start = np.searchsorted(
        key, user_time_key(tokens, time[cuts] - DAY_S, tokens.user[cuts]), side="right"
    )
    day_start = np.maximum(day_start, start)

    actions = dataset.vocab(Vocabularies.ACTIONS)
    for code in range(1, len(actions)):
        name = actions.value_of(code)
        is_a = tokens.action == code
        count = _prefix_count(is_a, cuts, start)
        cols[f"log_count_{name}"] = np.log1p(count)
        cols[f"share_{name}"] = count / n
        cols[f"log_session_count_{name}"] = np.log1p(_prefix_count(is_a, cuts, session_start))
        cols[f"log_day_count_{name}"] = np.log1p(_prefix_count(is_a, cuts, day_start))

    convert = tokens.family == FAMILY_NAMES.index("convert") + 1
    last_convert = np.maximum.accumulate(np.where(convert, idx, -1))[cuts]
    has = last_convert >= start
    cols["log_since_convert_s"] = np.where(
        has, np.log1p(time[cuts] - time[np.maximum(last_convert, 0)]), np.nan
    )
    cols["log_converts"] = np.log1p(_prefix_count(convert, cuts, start))

    if SequenceFields.DWELL in seq:
        dwell = np.asarray(seq[SequenceFields.DWELL], dtype=np.float64)
        known = np.isfinite(dwell)
        d0 = np.where(known, dwell, 0.0)
        k = _prefix_count(known, cuts, start)
        cols["log_mean_dwell"] = np.log1p(_prefix_sum(d0, cuts, start) / k)
        cols["log_last_dwell"] = np.log1p(dwell[cuts])
        s5 = np.maximum(cuts - 4, start)
        cols["log_mean_dwell_last5"] = np.log1p(_prefix_sum(d0, cuts, s5) / _prefix_count(known, cuts, s5))
        cols["fast_skip_share"] = _prefix_count(known & (dwell < FAST_SKIP_S), cuts, start) / k
        cols["log_max_dwell"] = np.log1p(_recent_max(d0, cuts, start))

    cat_feats = _recent_categories(tokens, cuts, start)
    cols.update(cat_feats)
    cols["hour"] = tokens.hour[cuts].astype(np.float64)
    cols["weekday"] = tokens.weekday[cuts].astype(np.float64)
    names = list(cols)
    return np.stack([cols[k] for k in names], axis=1).astype(np.float32), names


def _recent_max(values: np.ndarray, cuts: np.ndarray, start: np.ndarray) -> np.ndarray:
    lo = np.maximum(start, cuts - RECENT + 1)
    return np.array([values[a : b + 1].max() for a, b in zip(lo, cuts, strict=True)], dtype=np.float64)


def _recent_categories(tokens: EventTokens, cuts: np.ndarray, start: np.ndarray) -> dict[str, np.ndarray]:
    """Category and item mix among the newest ``RECENT`` events of each history."""
    out = {
        k: np.zeros(len(cuts))
        for k in (
            "log_categories",
            "top_category_share",
            "category_entropy",
            "last_category_share",
            "distinct_item_share",
            "log_last_item_repeats",
        )
    }
    lo = np.maximum(start, cuts - RECENT + 1)
    for i, (a, b) in enumerate(zip(lo, cuts, strict=True)):
        cats = tokens.category[a : b + 1]
        items = tokens.item[a : b + 1]
        _, counts = np.unique(cats, return_counts=True)
        p = counts / counts.sum()
        out["log_categories"][i] = np.log1p(len(counts))
        out["top_category_share"][i] = p.max()
        out["category_entropy"][i] = float(-(p * np.log(p)).sum())
        out["last_category_share"][i] = float((cats == cats[-1]).mean())
        out["distinct_item_share"][i] = len(np.unique(items)) / len(items)
        out["log_last_item_repeats"][i] = np.log1p(float((items == items[-1]).sum() - 1))
    return out
