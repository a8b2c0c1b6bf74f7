"""Canonical events as aligned numpy columns, sorted per user: what profiles, rules and risk read.

Input is an Arrow table, a list of dicts or a pandas frame with canonical column names
(:class:`~seqintent.schema.Columns`), or a file of them (Parquet, CSV, JSONL). Every event keeps
its input row number (``row``), so results point back to the caller's rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.errors import ColumnError, DataError, close_names
from seqintent.schema.actions import ACTION_FAMILY, CANONICAL_ACTIONS
from seqintent.schema.columns import Columns

EventsLike = pa.Table | Sequence[Mapping[str, Any]] | Any
"""An Arrow table, a list of event dicts, or a pandas DataFrame, with canonical column names."""

MS_PER_S = 1000


@dataclass(frozen=True)
class EventFrame:
    """Aligned per-event columns, sorted by user, then time, then input row.

    ``users`` are the distinct user ids in order; user ``k``'s events are
    ``offsets[k]:offsets[k + 1]``. Times are UTC epoch ms; ``hour`` is the local hour of day
    with minutes as a fraction (NaN without time), ``weekday`` 0 = Monday (-1 without time).
    Text columns hold ``None`` where the event has no value.
    """

    row: np.ndarray  # int64, the event's position in the input
    user: np.ndarray  # object, user id as text
    ts: np.ndarray  # int64, UTC epoch ms (input order when the log has no time)
    action: np.ndarray  # object, canonical action
    family: np.ndarray  # object, the action's family
    item: np.ndarray  # object
    category: np.ndarray  # object
    amount: np.ndarray  # float64, NaN when unknown
    dwell: np.ndarray  # float64, NaN when unknown
    device: np.ndarray  # object
    location: np.ndarray  # object
    unit: np.ndarray  # object, the scoring unit (session key "user/session", or the user)
    session: np.ndarray  # object, the session part of the key (the log's session id, or a number)
    hour: np.ndarray  # float64
    weekday: np.ndarray  # int8
    gap_s: np.ndarray  # float64, seconds since the user's previous event in this frame (NaN first)
    users: np.ndarray  # object, distinct users in order
    offsets: np.ndarray  # int64, len(users) + 1
    has_time: bool
    timezone: str

    def __len__(self) -> int:
        return len(self.row)

    @property
    def user_index(self) -> np.ndarray:
        """Index into ``users`` of every event."""
        return np.repeat(np.arange(len(self.users)), np.diff(self.offsets))

    def user_slices(self) -> list[tuple[str, int, int]]:
        bounds = zip(self.users, self.offsets[:-1], self.offsets[1:], strict=True)
        return [(str(u), int(lo), int(hi)) for u, lo, hi in bounds]


def read_events_file(path: str | Path) -> pa.Table:
    """Read a file of canonical events: ``.parquet``, ``.csv`` / ``.tsv``, or ``.jsonl`` / ``.json``.

    Raises
    ------
    DataError
        If the file is missing, of an unknown type, or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "no such events file", file=str(path), fix="give a .parquet, .csv or .jsonl file of events"
        )
    suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
    try:
        if suffix.startswith(".parquet"):
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix.startswith((".csv", ".tsv")):
            import pyarrow.csv as pacsv

            delimiter = "\t" if suffix.startswith(".tsv") else ","
            # ids stay text: "007" and "7" are different devices
            text_columns = [Columns.USER, Columns.ITEM, Columns.DEVICE, Columns.SESSION, Columns.CATEGORY]
            return pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in text_columns}),
            )
        if suffix.startswith((".jsonl", ".json", ".ndjson")):
            import pyarrow.json as pajson

            return pajson.read_json(path)
    except pa.ArrowInvalid as exc:
        raise DataError(f"cannot parse the events file: {exc}", file=str(path)) from None
    raise DataError(
        "unknown events file type",
        file=str(path),
        value=path.suffix,
        fix="use .parquet, .csv, .tsv or .jsonl",
    )


def as_table(events: EventsLike) -> pa.Table:
    """Any supported events input as an Arrow table."""
    if isinstance(events, pa.Table):
        return events
    if isinstance(events, (list, tuple)):
        if not events:
            return pa.table(
                {Columns.USER: pa.array([], pa.string()), Columns.ACTION: pa.array([], pa.string())}
            )
        columns: dict[str, list[Any]] = {}
        for i, event in enumerate(events):
            if not isinstance(event, Mapping):
                raise DataError(
                    "an event must be a mapping of canonical fields", line=i + 1, value=type(event).__name__
                )
            for key in event:
                columns.setdefault(key, [None] * i)
            for key, values in columns.items():
                values.append(event.get(key))
        return pa.table(
            {k: pa.array(v) if k != Columns.ATTRS else _attrs_array(v) for k, v in columns.items()}
        )
    if hasattr(events, "to_arrow") or type(events).__module__.startswith("pandas"):
        return pa.Table.from_pandas(events, preserve_index=False)
    raise DataError(
        "unsupported events input", value=type(events).__name__, fix="pass an Arrow table or a list of dicts"
    )


def _attrs_array(values: list[Any]) -> pa.Array:
    # attrs of different events may have different keys: keep them as JSON text
    return pa.array(
        [None if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in values], pa.string()
    )


def _text_column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, None, dtype=object)
    col = table.column(name)
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return np.asarray(col.to_pylist(), dtype=object)


def _float_column(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    col = table.column(name)
    try:
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = col.to_pylist()
        for i, v in enumerate(values):
            try:
                float(v) if v is not None else None
            except (TypeError, ValueError):
                raise DataError("expected a number", line=i + 1, column=name, value=v) from None
        raise


def _times_ms(table: pa.Table) -> np.ndarray | None:
    if Columns.TIME not in table.column_names:
        return None
    col = table.column(Columns.TIME)
    if col.null_count:
        first = next(i for i, v in enumerate(col.to_pylist()) if v is None)
        raise DataError(
            "event without a time", line=first + 1, column=Columns.TIME, fix="give every event a time"
        )
    if pa.types.is_timestamp(col.type):
        unit_ms = {"s": 1000, "ms": 1, "us": 1e-3, "ns": 1e-6}[col.type.unit]
        return (pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False) * unit_ms).astype(np.int64)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
    out = np.empty(table.num_rows, dtype=np.int64)
    for i, value in enumerate(col.to_pylist()):
        try:
            if isinstance(value, (int, float)):
                out[i] = int(value)
                continue
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise DataError(
                "expected epoch milliseconds or an ISO-8601 time",
                line=i + 1,
                column=Columns.TIME,
                value=value,
            ) from None
        if parsed.tzinfo is None:  # naive times are UTC, as everywhere in seqintent
            parsed = parsed.replace(tzinfo=dt.UTC)
        out[i] = int(parsed.timestamp() * MS_PER_S)
    return out


def _attr_values(table: pa.Table, key: str) -> np.ndarray:
    """``key`` from a top-level column, else from ``attrs`` (a struct, a map or JSON text)."""
    if key in table.column_names:
        return _text_column(table, key)
    out = np.full(table.num_rows, None, dtype=object)
    if Columns.ATTRS not in table.column_names:
        return out
    col = table.column(Columns.ATTRS)
    if pa.types.is_struct(col.type):
        if col.type.get_field_index(key) < 0:
            return out
        return _text_column(pa.table({key: pc.struct_field(col, key)}), key)
    for i, value in enumerate(col.to_pylist()):
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise DataError("attrs is not JSON", line=i + 1, column=Columns.ATTRS, value=value) from None
        if isinstance(value, list):  # a map column reads as a list of (key, value) pairs
            value = dict(value)
        if isinstance(value, dict) and value.get(key) is not None:
            out[i] = str(value[key])
    return out


def _local_hour_weekday(ts: np.ndarray, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    stamps = pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz=timezone))
    hour = pc.hour(stamps).to_numpy(zero_copy_only=False).astype(np.float64)
    minute = pc.minute(stamps).to_numpy(zero_copy_only=False).astype(np.float64)
    weekday = pc.day_of_week(stamps).to_numpy(zero_copy_only=False).astype(np.int8)
    return hour + minute / 60.0, weekday


def build_frame(
    events: EventsLike,
    *,
    timezone: str = "UTC",
    location_field: str | None = "location",
    session_gap_s: float = 1800.0,
    unit: str = "session",
) -> EventFrame:
    """Canonical events → :class:`EventFrame`.

    Parameters
    ----------
    events:
        Events with at least ``user_id`` and ``action`` (canonical action names).
    timezone:
        Zone of the log's local time, for hour of day and weekday.
    location_field:
        Column (or ``attrs`` key) holding the event's location; None for none.
    session_gap_s:
        Events without ``session_id`` / ``session_index`` start a new session after this idle gap.
    unit:
        ``"session"`` or ``"user"``: what one risk result covers.

    Raises
    ------
    ColumnError
        If ``user_id`` or ``action`` is missing.
    DataError
        If an action is not canonical, or a time or number cannot be read; names the row.
    """
    table = as_table(events)
    for required in Columns.REQUIRED:
        if required not in table.column_names:
            raise ColumnError(
                "required column is missing",
                column=required,
                candidates=close_names(required, table.column_names) or None,
                fix="give events with canonical column names (seqintent.schema.Columns)",
            )
    n = table.num_rows
    user = _text_column(table, Columns.USER)
    if n and any(u is None for u in user):
        first = next(i for i, u in enumerate(user) if u is None)
        raise DataError("event without a user", line=first + 1, column=Columns.USER)
    action = _text_column(table, Columns.ACTION)
    family = np.empty(n, dtype=object)
    for i, a in enumerate(action):
        fam = ACTION_FAMILY.get(a)
        if fam is None:
            raise DataError(
                "not a canonical action",
                line=i + 1,
                column=Columns.ACTION,
                value=a,
                candidates=close_names(str(a), CANONICAL_ACTIONS),
                fix="map raw actions to canonical ones (seqintent ingest does it from a dataset config)",
            )
        family[i] = fam
    ts = _times_ms(table)
    has_time = ts is not None
    if ts is None:
        ts = np.arange(n, dtype=np.int64)
    row = np.arange(n, dtype=np.int64)
    order = np.lexsort((row, ts, user.astype(str))) if n else row
    user = user[order]
    ts = ts[order]
    cols = {
        "item": _text_column(table, Columns.ITEM)[order],
        "category": _text_column(table, Columns.CATEGORY)[order],
        "amount": _float_column(table, Columns.AMOUNT)[order],
        "dwell": _float_column(table, Columns.DWELL)[order],
        "device": _text_column(table, Columns.DEVICE)[order],
        "location": (_attr_values(table, location_field) if location_field else np.full(n, None, object))[
            order
        ],
    }
    boundaries = np.flatnonzero(user[1:] != user[:-1]) + 1 if n else np.array([], np.int64)
    offsets = np.concatenate([[0], boundaries, [n]]).astype(np.int64) if n else np.zeros(1, np.int64)
    users = user[offsets[:-1]] if n else np.array([], dtype=object)
    first_of_user = np.zeros(n, dtype=bool)
    first_of_user[offsets[:-1]] = True
    gap_s = np.full(n, np.nan)
    if has_time and n:
        gap_s[1:] = np.diff(ts) / MS_PER_S
        gap_s[first_of_user] = np.nan
    if has_time:
        hour, weekday = _local_hour_weekday(ts, timezone)
    else:
        hour, weekday = np.full(n, np.nan), np.full(n, -1, dtype=np.int8)
    session = _sessions(table, order, user, gap_s, first_of_user, session_gap_s)
    unit_key = (
        user.copy()
        if unit == "user"
        else np.array([f"{u}/{k}" for u, k in zip(user, session, strict=True)], object)
    )
    if unit not in ("session", "user"):
        raise ValueError(f"unit must be 'session' or 'user' (got {unit!r})")
    return EventFrame(
        row=order.astype(np.int64),
        user=user,
        ts=ts,
        action=action[order],
        family=family[order],
        unit=unit_key,
        session=session,
        hour=hour,
        weekday=weekday,
        gap_s=gap_s,
        users=users,
        offsets=offsets,
        has_time=has_time,
        timezone=timezone,
        **cols,
    )


def _sessions(
    table: pa.Table,
    order: np.ndarray,
    user: np.ndarray,
    gap_s: np.ndarray,
    first_of_user: np.ndarray,
    session_gap_s: float,
) -> np.ndarray:
    for column in (Columns.SESSION, Columns.SESSION_INDEX):
        if column in table.column_names:
            session = _text_column(table, column)[order]
            if not any(s is None for s in session):
                return session
    # the log names no session: a new one starts after an idle gap, as ingest does
    starts = first_of_user | (np.nan_to_num(gap_s, nan=0.0) > session_gap_s)
    number = np.cumsum(starts)
    user_first = np.maximum.accumulate(np.where(first_of_user, number, 0))
    return (number - user_first).astype(str).astype(object)
