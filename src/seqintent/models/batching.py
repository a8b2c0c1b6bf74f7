"""Histories → padded token tensors, the only input format of the network.

A history is the list of event indices (into :class:`EventTokens`) the model reads, oldest first.
Rows are left-padded with ``-1`` so the newest event is always the last column; the network's
prediction for "what comes next" is read at that column. How a long history is shortened
(``truncation``) is decided here, once, for training, evaluation and serving alike:

- ``last``: the ``max_len`` most recent events;
- ``importance``: the ``max_len - slots`` most recent events plus up to ``slots`` older events of
  important action families (purchases, carts, searches ...), newest of them first, in time order.
"""

from __future__ import annotations

import numpy as np
import torch

from seqintent.models.features import GAP_BUCKETS, EventTokens, log_bucket

TOKEN_FIELDS = ("item", "action", "family", "category", "gap", "hour", "weekday", "dwell")


def history_rows(
    starts: np.ndarray,
    ends: np.ndarray,
    max_len: int,
    *,
    important: np.ndarray | None = None,
    slots: int = 0,
) -> np.ndarray:
    """Event indices of each history ``[starts[b], ends[b])``, shortened to ``max_len``, left-padded with -1.

    Parameters
    ----------
    starts, ends:
        int arrays [B]: each history is the events ``starts[b] .. ends[b] - 1``.
    max_len:
        Columns of the result.
    important:
        bool [n_events]: events importance truncation may keep from beyond the last ``max_len``
        (None: plain last-``max_len`` truncation).
    slots:
        How many of the ``max_len`` columns older important events may take.

    Returns
    -------
    np.ndarray
        int64 [B, max_len].

    Examples
    --------
    >>> history_rows(np.array([0, 10]), np.array([2, 16]), 4).tolist()
    [[-1, -1, 0, 1], [12, 13, 14, 15]]
    >>> imp = np.zeros(16, bool); imp[[10, 11]] = True
    >>> history_rows(np.array([10]), np.array([16]), 4, important=imp, slots=1).tolist()
    [[11, 13, 14, 15]]
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    rows = ends[:, None] - max_len + np.arange(max_len, dtype=np.int64)[None, :]
    rows[rows < starts[:, None]] = -1
    if important is None or slots <= 0:
        return rows
    recent = max_len - slots
    for b in np.flatnonzero(ends - starts > max_len):
        older = np.arange(starts[b], ends[b] - recent)
        flags = important[older]
        # important older events first (newest first), then the newest of the rest fill free slots
        preferred = np.concatenate([older[flags][::-1], older[~flags][::-1]])
        kept = np.sort(preferred[:slots])
        rows[b, :slots] = kept
        rows[b, slots:] = np.arange(ends[b] - recent, ends[b])
    return rows


def gather_tokens(
    tokens: EventTokens, rows: np.ndarray, next_time_s: np.ndarray | None
) -> dict[str, torch.Tensor]:
    """Token tensors [B, T] for history rows, plus the time features that depend on the row.

    Parameters
    ----------
    tokens:
        The event tokens of the Dataset.
    rows:
        int [B, T] event indices, -1 for padding, newest last.
    next_time_s:
        float [B]: the time (epoch seconds) of what is being predicted — the next event, or the
        request — for the "time to next" feature of the last column; None when unknown.

    Returns
    -------
    dict
        ``item``, ``action``, ``family``, ``category``, ``gap``, ``hour``, ``weekday``, ``dwell``,
        ``next_gap`` (int64 [B, T], 0 on padding) and ``time_s`` (float32 [B, T]: seconds relative
        to the newest event, 0 on padding).
    """
    valid = rows >= 0
    safe = np.where(valid, rows, 0)
    out: dict[str, torch.Tensor] = {}
    for name in TOKEN_FIELDS:
        values = getattr(tokens, name)[safe]
        values[~valid] = 0
        out[name] = torch.from_numpy(values)
    time = tokens.time_s[safe]
    following = np.empty_like(time)
    following[:, :-1] = time[:, 1:]
    following[:, -1] = np.nan if next_time_s is None else next_time_s
    next_valid = valid.copy()
    next_valid[:, :-1] &= valid[:, 1:]
    next_gap = log_bucket(np.where(next_valid, following - time, np.nan), GAP_BUCKETS)
    has_time = bool(tokens.time_s.any())
    out["next_gap"] = torch.from_numpy(next_gap if has_time else np.zeros_like(next_gap))
    rel = np.where(valid, time - time[:, -1:], 0.0).astype(np.float32)
    out["time_s"] = torch.from_numpy(rel)
    return out
