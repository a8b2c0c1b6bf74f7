"""Online events → the token codes the exported graph reads, exactly as training built them.

This mirrors :mod:`seqintent.models.features` (codes of each event) and
:mod:`seqintent.models.batching` (truncation and the row-dependent time features) without
importing them, because those modules load torch; ``tests/runtime`` checks that both give the same
codes on whole Datasets. Events whose action the model never saw are left out (they would read as
padding) and counted.
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqintent.data import Vocabulary
from seqintent.models.history_summary import history_summary, summary_width
from seqintent.runtime._folder import SUMMARY_INPUT, RuntimeConfig
from seqintent.schema.columns import Columns, Vocabularies

_QUARTER_MS = 900_000
_PLAIN_DWELL = {float, type(None)}  # dwell values numpy converts as _float does, without a call each
TOKEN_INPUTS = ("item", "action", "family", "category", "gap", "hour", "weekday", "dwell", "next_gap")
TIME_INPUT = "time_s"


def log_bucket(seconds: np.ndarray, n_buckets: int) -> np.ndarray:
    """Log2 buckets as in training: 0 unknown (NaN or negative), 1 under a second, then ``2 + floor(log2 s)``.

    >>> log_bucket(np.array([np.nan, 0.2, 1.0, 3.0, 3600.0]), 32).tolist()
    [0, 1, 2, 3, 13]
    """
    s = np.asarray(seconds, dtype=np.float64)
    out = np.zeros(s.shape, dtype=np.int64)
    known = np.isfinite(s) & (s >= 0)
    out[known & (s < 1.0)] = 1
    big = known & (s >= 1.0)
    out[big] = np.minimum(2 + np.floor(np.log2(s[big])).astype(np.int64), n_buckets - 1)
    return out


@dataclass(frozen=True)
class EncodedHistory:
    """One history as the graph reads it.

    ``codes`` maps every graph input to an array [T] (T ≤ max_len, oldest first); ``events`` are
    the events of those columns, in the same order; ``n_readable`` counts the history's events the
    model can read, ``n_ignored`` those with an action it never saw, ``n_known_items`` the events in
    the columns whose item it knows; ``summary`` is the whole-history summary (of the newest
    readable events, not only the columns) where the intent heads read one.
    """

    codes: dict[str, np.ndarray]
    events: list[Mapping[str, Any]]
    n_readable: int
    n_ignored: int
    n_known_items: int
    summary: np.ndarray | None = None  # float32 [width]: the whole-history summary, where the heads read one

    @property
    def length(self) -> int:
        return len(self.events)


class HistoryEncoder:
    """Encode online events (canonical dicts, oldest first) for the exported graph.

    Parameters
    ----------
    config:
        The Runtime's config (token spec and truncation rule).
    vocabs:
        The Runtime's vocabularies.
    """

    def __init__(self, config: RuntimeConfig, vocabs: Mapping[str, Vocabulary]) -> None:
        self.spec = config.tokens
        self.truncation = config.truncation
        self.summary = None if config.intents is None else config.intents.summary
        # plain dicts: one lookup per event field is the encoder's main cost
        self._items = _index(vocabs[Vocabularies.ITEMS])
        self._actions = _index(vocabs[Vocabularies.ACTIONS])
        self._categories = _index(vocabs[Vocabularies.CATEGORIES])
        self._family = np.asarray(self.spec.action_family, dtype=np.int64)
        self.zone = zoneinfo.ZoneInfo(self.spec.timezone)
        self._offsets: dict[int, int] = {}
        important = set(self.truncation.important_families)
        self.important_codes = {i + 1 for i, f in enumerate(self.spec.families) if f in important}

    def readable(self, event: Mapping[str, Any]) -> bool:
        """Whether the model can read the event (it knows its action)."""
        return event.get(Columns.ACTION) in self._actions

    def knows_item(self, event: Mapping[str, Any]) -> bool:
        return event.get(Columns.ITEM) in self._items

    def encode(self, events: Sequence[Mapping[str, Any]], at_ms: int | None = None) -> EncodedHistory:
        """Token codes of a history (sorted by time, oldest first) for a request at ``at_ms``.

        ``at_ms`` (UTC epoch ms) is the moment being predicted for, the "time to next" of the
        newest column; None leaves it unknown (as training does when no next event exists).
        """
        spec = self.spec
        action_of = self._actions.get
        action_codes = [action_of(e.get(Columns.ACTION), 0) for e in events]
        # from here on, positions count the readable events only
        readable: Sequence[Mapping[str, Any]] = events
        if 0 in action_codes:
            readable = [e for e, a in zip(events, action_codes, strict=True) if a > 0]
            action_codes = [a for a in action_codes if a > 0]
        n = len(readable)
        n_ignored = len(events) - n
        positions = self._truncate(action_codes)
        rows = [readable[j] for j in positions]
        t = len(rows)
        actions = np.array(action_codes, dtype=np.int64)
        # each event's fields are read once: the columns older than the summary's window (all of
        # them without a summary), then the window, which holds the remaining columns
        window_start = n if self.summary is None else max(n - self.summary.window, 0)
        n_early = bisect.bisect_left(positions, window_start)
        whole = window_start == 0  # every readable event is read, in order
        read = self._read(
            readable if whole else [readable[j] for j in [*positions[:n_early], *range(window_start, n)]]
        )
        later = np.asarray(positions[n_early:], dtype=np.int64) - window_start + n_early
        take = np.concatenate([np.arange(n_early, dtype=np.int64), later])
        item, category, ts_ms, seconds = (x[take] for x in read)
        action = actions[positions]
        family = self._family[action]
        zeros = np.zeros(t, dtype=np.int64)
        gap = hour = weekday = next_gap = zeros
        time_rel = np.zeros(t, dtype=np.float32)
        if spec.has_time and t:
            ts_s = ts_ms / 1000.0
            # the gap is to the previous readable event, kept or not; float32 as the Dataset stores it
            if whole:
                previous = np.where(take > 0, read[2][take - 1], -1)
            else:
                previous = np.array(
                    [readable[j - 1][Columns.TIME] if j else -1 for j in positions], dtype=np.int64
                )
            gap_s = np.where(previous >= 0, ((ts_ms - previous) / 1000.0).astype(np.float32), np.nan)
            gap = log_bucket(gap_s, spec.gap_buckets)
            local_ms = ts_ms + self._utc_offsets_ms(ts_ms)
            hour = (local_ms // 3_600_000) % 24 + 1
            weekday = (local_ms // 86_400_000 + 3) % 7 + 1  # 1970-01-01 was a Thursday; Monday = 1
            following = np.append(ts_s[1:], np.nan if at_ms is None else at_ms / 1000.0)
            next_gap = log_bucket(following - ts_s, spec.gap_buckets)
            time_rel = (ts_s - ts_s[-1]).astype(np.float32)
        dwell = log_bucket(seconds, spec.dwell_buckets) if spec.has_dwell and t else zeros
        codes = {
            "item": item,
            "action": action,
            "family": family,
            "category": category,
            "gap": gap,
            "hour": hour,
            "weekday": weekday,
            "dwell": dwell,
            "next_gap": next_gap,
            TIME_INPUT: time_rel,
        }
        summary = None
        if self.summary is not None:
            in_window = slice(n_early, None)
            summary = self._summary(actions[window_start:], *(x[in_window] for x in read))
        return EncodedHistory(codes, rows, n, n_ignored, int((item > 0).sum()), summary)

    def _read(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Item and category codes, epoch ms and dwell seconds of events (0 / NaN where unknown or unused)."""
        spec = self.spec
        item_of, category_of = self._items.get, self._categories.get
        item = np.array([item_of(r.get(Columns.ITEM), 0) for r in rows], dtype=np.int64)
        category = np.array([category_of(r.get(Columns.CATEGORY), 0) for r in rows], dtype=np.int64)
        category[category >= spec.n_categories] = 0
        ts_ms = np.zeros(len(rows), dtype=np.int64)
        if spec.has_time:
            ts_ms = np.array([r[Columns.TIME] for r in rows], dtype=np.int64)
        seconds = np.full(len(rows), np.nan, dtype=np.float32)
        if spec.has_dwell:
            values = [r.get(Columns.DWELL) for r in rows]
            if set(map(type, values)) <= _PLAIN_DWELL:
                seconds = np.array(values, dtype=np.float32)
            else:
                seconds = np.array([_float(x) for x in values], dtype=np.float32)
        return item, category, ts_ms, seconds

    def _summary(
        self,
        action: np.ndarray,
        item: np.ndarray,
        category: np.ndarray,
        ts_ms: np.ndarray,
        seconds: np.ndarray,
    ) -> np.ndarray:
        """The whole-history summary of the window's readable events, as training computes it."""
        rule, spec = self.summary, self.spec
        assert rule is not None
        if len(action) == 0:
            return np.zeros(summary_width(rule.n_actions, rule.dwell_buckets), dtype=np.float32)
        dwell = log_bucket(seconds, spec.dwell_buckets) if spec.has_dwell else np.zeros_like(action)
        values = history_summary(
            action=action,
            family=self._family[action],
            item=item,
            category=category,
            dwell=dwell,
            time_s=ts_ms / 1000.0,
            starts=np.zeros(1, dtype=np.int64),
            cuts=np.array([len(action) - 1]),
            n_actions=rule.n_actions,
            dwell_buckets=rule.dwell_buckets,
            window=rule.window,
        )
        return values[0]

    def _utc_offsets_ms(self, ts_ms: np.ndarray) -> np.ndarray:
        """The zone's UTC offset at each time (ms), looked up once per quarter hour.

        Zones change offset only on quarter-hour boundaries, and a history's events fall in few
        quarter hours, so this replaces a timezone-aware datetime per event.
        """
        quarters = ts_ms // _QUARTER_MS
        offsets = self._offsets
        if len(offsets) > 100_000:
            offsets.clear()
        out = np.empty(len(ts_ms), dtype=np.int64)
        for i, q in enumerate(quarters.tolist()):
            offset = offsets.get(q)
            if offset is None:
                moment = dt.datetime.fromtimestamp(q * _QUARTER_MS / 1000.0, tz=self.zone)
                offset = offsets[q] = int(moment.utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
            out[i] = offset
        return out

    def _truncate(self, actions: list[int]) -> list[int]:
        """Positions among readable events (their action codes) that the model reads (its truncation rule)."""
        rule, n = self.truncation, len(actions)
        if n <= rule.max_len:
            return list(range(n))
        first_recent = n - (rule.max_len - rule.important_slots)
        if rule.rule != "importance" or rule.important_slots <= 0:
            return list(range(n - rule.max_len, n))
        # important older events first (newest first), then the newest of the rest fill free slots
        family_of = self.spec.action_family
        families = [family_of[a] for a in actions]
        older = range(first_recent - 1, -1, -1)
        preferred = [j for j in older if families[j] in self.important_codes]
        preferred += [j for j in older if families[j] not in self.important_codes]
        return sorted(preferred[: rule.important_slots]) + list(range(first_recent, n))


def pad_batch(histories: Sequence[EncodedHistory], inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """Left-pad encoded histories to one batch [B, T_max] for the graph's ``inputs`` (0 is padding)."""
    width = max((h.length for h in histories), default=0) or 1
    batch: dict[str, np.ndarray] = {}
    for name in inputs:
        if name == SUMMARY_INPUT:
            batch[name] = np.stack([h.summary for h in histories]).astype(np.float32)  # type: ignore[misc]
            continue
        dtype = np.float32 if name == TIME_INPUT else np.int64
        out = np.zeros((len(histories), width), dtype=dtype)
        for b, h in enumerate(histories):
            if h.length:
                out[b, width - h.length :] = h.codes[name]
        batch[name] = out
    return batch


def _index(vocab: Vocabulary) -> dict[str, int]:
    return {v: i for i, v in enumerate(vocab.values) if v is not None}


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
