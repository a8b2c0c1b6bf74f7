"""Noise the cleaning rules should find, and the final log order.

Two kinds of noise, each listed in the truth's ``noise`` table so tests know the exact counts the
ingest cleaning must report:

- **misclick**: a view-like event with sub-second dwell (0.05–0.95 s) of a random item, a moment
  after a real event of the same session (ingest's ``min_dwell_s: 1.0`` drops it);
- **duplicate**: an exact copy of a real event, same time to the millisecond (``dedup_within_s: 0``
  drops it; the original, earlier in the file, is kept).

The log is then sorted by time over all users, as a real export is, with the input order as the
tie-break; an event's id is its 0-based row in that order.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from seqintent.schema.columns import SimulatorColumns as Log
from seqintent.schema.columns import TruthColumns as T
from seqintent.simulate._common import NONE, Coded, ItemDraw, NoiseSpec, RawEvents

MISCLICK = "misclick"
DUPLICATE = "duplicate"


def add_noise(
    events: RawEvents,
    rng: np.random.Generator,
    spec: NoiseSpec,
    *,
    misclick_after: np.ndarray | None = None,
    draw_item: ItemDraw | None = None,
) -> tuple[RawEvents, pa.Table, np.ndarray]:
    """Add misclicks and duplicates, sort by time over all users, renumber truth references.

    Parameters
    ----------
    events:
        The scenario's clean events (ordered by user, then time).
    misclick_after:
        Boolean mask of events a misclick may follow (e.g. page views, not logins).
    draw_item:
        Picks the items misclicked on.

    Returns
    -------
    log, noise, final_id:
        The events in log order (their truth tables renumbered to log rows), the noise table,
        and for each clean event its row in the log.
    """
    n = len(events)
    same_session_next = np.r_[events.session[1:] == events.session[:-1], False]
    next_gap = np.where(same_session_next, np.r_[np.diff(events.ts), 0], 2 * 1000)

    if spec.misclick_rate > 0 and misclick_after is not None and draw_item is not None:
        after = np.flatnonzero(misclick_after & (rng.random(n) < spec.misclick_rate))
    else:
        after = np.zeros(0, dtype=np.int64)
    misclicks = events.take(after)
    # strictly between the event and the next one of its session, never on the same millisecond
    misclicks.ts = events.ts[after] + 1 + (rng.random(len(after)) * (next_gap[after] - 2)).astype(np.int64)
    misclicks.action = Coded(np.full(len(after), spec.misclick_action, dtype=np.int32), events.action.names)
    item, category = (
        draw_item(rng, len(after)) if len(after) else (np.zeros(0, np.int64), np.zeros(0, np.int32))
    )
    misclicks.item = item
    misclicks.category = Coded(category, events.category.names)
    misclicks.dwell = np.round(rng.uniform(0.05, 0.95, len(after)), 2)
    misclicks.amount = np.full(len(after), np.nan)
    misclicks.payee = Coded(np.full(len(after), NONE, dtype=np.int32), events.payee.names)
    misclicks.text = Coded(np.full(len(after), NONE, dtype=np.int32), events.text.names)

    copied = np.flatnonzero(rng.random(n) < spec.duplicate_rate)
    duplicates = events.take(copied)

    parts = [events, misclicks, duplicates]
    order = _stable_time_order(np.concatenate([p.ts for p in parts]))
    final = np.empty(len(order), dtype=np.int64)
    final[order] = np.arange(len(order), dtype=np.int64)
    log = _concat_take(parts, order)

    final_id = final[:n]
    n_mis = len(after)
    noise_rows = np.r_[final[n : n + n_mis], final[n + n_mis :]]
    noise = pa.table(
        {
            T.EVENT_ID: noise_rows,
            T.USER: log.user[noise_rows],
            T.TIME: log.ts[noise_rows],
            T.KIND: pa.array([MISCLICK] * n_mis + [DUPLICATE] * len(copied), type=pa.string()),
            T.OF_EVENT_ID: np.r_[final_id[after], final_id[copied]],
        }
    ).sort_by(T.EVENT_ID)
    log.truth = {name: renumber(table, final_id) for name, table in events.truth.items()}
    return log, noise, final_id


def _stable_time_order(ts: np.ndarray) -> np.ndarray:
    """Indices that sort ``ts``, ties kept in input order (a duplicate stays after its original).

    A stable sort of 10M int64 is slow; packing (time, input position) into one unique key lets
    numpy's fast unstable sort give the same order.
    """
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    shift = max(1, int(n - 1).bit_length())
    span = int(ts.max() - ts.min())
    if span.bit_length() + shift > 62:
        return np.argsort(ts, kind="stable")
    key = ((ts - ts.min()) << shift) | np.arange(n, dtype=np.int64)
    key.sort()
    return key & ((1 << shift) - 1)


def renumber(table: pa.Table, final_id: np.ndarray) -> pa.Table:
    """Map every ``*event_id`` column from clean-event index to log row (negative stays null)."""
    for i, name in enumerate(table.column_names):
        if not name.endswith(T.EVENT_ID):
            continue
        index = table.column(i).to_numpy(zero_copy_only=False).astype(np.int64)
        missing = index < 0
        mapped = final_id[np.where(missing, 0, index)] if len(final_id) else index
        table = table.set_column(i, name, pa.array(mapped, type=pa.int64(), mask=missing))
    return table


def _concat_take(parts: list[RawEvents], order: np.ndarray) -> RawEvents:
    """The rows ``order`` of the concatenated parts, one column at a time (one temporary copy at most)."""

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[order]

    def coded(name: str) -> Coded:
        codes = np.concatenate([getattr(p, name).codes for p in parts])[order]
        return Coded(codes, getattr(parts[0], name).names)

    return RawEvents(
        user=column("user"),
        ts=column("ts"),
        session=column("session"),
        action=coded("action"),
        item=column("item"),
        category=coded("category"),
        dwell=column("dwell"),
        amount=column("amount"),
        device=coded("device"),
        payee=coded("payee"),
        location=coded("location"),
        text=coded("text"),
    )


def log_table(log: RawEvents) -> pa.Table:
    """The log as an Arrow table with the columns of :class:`SimulatorColumns`, in that order."""
    item_missing = log.item < 0
    columns = {
        Log.USER: pa.array(log.user, type=pa.int64()),
        Log.TIME: pa.array(log.ts, type=pa.int64()),
        Log.ACTION: log.action.to_arrow(),
        Log.ITEM: pa.array(np.where(item_missing, 0, log.item), type=pa.int64(), mask=item_missing),
        Log.CATEGORY: log.category.to_arrow(),
        Log.DWELL: pa.array(log.dwell, type=pa.float64(), from_pandas=True),
        Log.AMOUNT: pa.array(log.amount, type=pa.float64(), from_pandas=True),
        Log.DEVICE: log.device.to_arrow(),
        Log.SESSION: pa.array(log.session, type=pa.int64()),
        Log.PAYEE: log.payee.to_arrow(),
        Log.LOCATION: log.location.to_arrow(),
        Log.TEXT: log.text.to_arrow(),
    }
    assert tuple(columns) == Log.ALL
    return pa.table(columns)
