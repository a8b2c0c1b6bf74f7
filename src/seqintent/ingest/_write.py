"""Writing the Dataset pieces: events.parquet (DuckDB COPY), side tables and stats.json."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from seqintent.ingest._assemble import Assembled
from seqintent.ingest._load import EVENTS, Loaded
from seqintent.ingest._mapping import ATTR_PREFIX
from seqintent.ingest._sql import ident, literal
from seqintent.schema.columns import Columns, DropReasons, SequenceFields, Splits, Vocabularies
from seqintent.schema.config import DatasetConfig

_DERIVED = "_derived"
_PERCENTILES = (5, 25, 50, 75, 95, 99)
PARQUET_COMPRESSION = "snappy"


def _scatter(n_rows: int, positions: np.ndarray, values: np.ndarray, fill: Any, dtype: Any) -> np.ndarray:
    out = np.full(n_rows, fill, dtype=dtype)
    out[positions] = values
    return out


def write_events(
    con: duckdb.DuckDBPyConnection, path: Path, loaded: Loaded, rows: np.ndarray, built: Assembled
) -> None:
    """Kept events with canonical columns and derived ones, in input order, to Parquet.

    Derived columns are computed in sort order and scattered back to input order, then joined to
    the event table by position (no sort, no hash join); ``event_index`` gives each row's
    position in the sequence arrays. ``rows`` are the event-table rows of the kept events, in
    sequence order.
    """
    n = loaded.n_rows
    k = len(rows)
    fields = built.fields
    actions = built.vocabs[Vocabularies.ACTIONS]
    action_names = pa.array([v or "" for v in actions.values], pa.string())
    gap = _scatter(n, rows, fields[SequenceFields.GAP], np.nan, np.float32)
    derived = pa.table(
        {
            "event_index": _scatter(n, rows, np.arange(k, dtype=np.int64), -1, np.int64),
            "action": pa.DictionaryArray.from_arrays(
                pa.array(_scatter(n, rows, fields[SequenceFields.ACTION], 0, np.int16)), action_names
            ),
            "gap_s": pa.array(gap, mask=np.isnan(gap)),
            "session_index": _scatter(n, rows, fields[SequenceFields.SESSION], -1, np.int32),
            "split": pa.DictionaryArray.from_arrays(
                pa.array(_scatter(n, rows, fields[SequenceFields.SPLIT], 0, np.int8)),
                pa.array(list(Splits.NAMES)),
            ),
        }
    )
    con.register(_DERIVED, derived)
    present = loaded.types
    cols = [
        f"e.{Columns.USER}",
        f"e.{Columns.TIME}",
        f"d.action AS {Columns.ACTION}",
        f"e.{Columns.ACTION_RAW}",
    ]
    for name in (
        Columns.ITEM,
        Columns.CATEGORY,
        Columns.DWELL,
        Columns.AMOUNT,
        Columns.DEVICE,
        Columns.SESSION,
        Columns.TEXT,
    ):
        default = "DOUBLE" if name in (Columns.DWELL, Columns.AMOUNT) else "VARCHAR"
        cols.append(f"e.{ident(name)}" if name in present else f"CAST(NULL AS {default}) AS {ident(name)}")
    attrs = [c for c in present if c.startswith(ATTR_PREFIX)]
    if attrs:
        packed = ", ".join(f"{ident(c[len(ATTR_PREFIX) :])} := e.{ident(c)}" for c in attrs)
        cols.append(f"struct_pack({packed}) AS {Columns.ATTRS}")
    cols += [
        f"e.rowid AS {Columns.INPUT_ORDER}",
        f"d.gap_s AS {Columns.GAP}",
        f"d.session_index AS {Columns.SESSION_INDEX}",
        f"d.split AS {Columns.SPLIT}",
        f"d.event_index AS {Columns.EVENT_INDEX}",
    ]
    con.execute(
        f"COPY (SELECT {', '.join(cols)} FROM {EVENTS} e POSITIONAL JOIN {_DERIVED} d "
        "WHERE d.event_index >= 0) "
        f"TO {literal(str(path))} (FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})"
    )
    con.unregister(_DERIVED)


def write_side_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    key: str,
    index_name: str,
    vocab_values: list[str | None],
    path: Path,
    *,
    padded: bool,
) -> None:
    """A deduplicated side table with the Dataset index of each id (null when absent from the events)."""
    start = 1 if padded else 0
    index = pa.table(
        {
            "_value": pa.array(vocab_values[start:], pa.string()),
            "_index": pa.array(np.arange(start, len(vocab_values), dtype=np.int32)),
        }
    )
    con.register("_side_index", index)
    key_text = f"CAST(t.{ident(key)} AS VARCHAR)"
    con.execute(
        f"COPY (SELECT t.{ident(key)}, x._index AS {ident(index_name)}, t.* EXCLUDE ({ident(key)}) "
        f"FROM {table} t LEFT JOIN _side_index x ON {key_text} = x._value "
        f"ORDER BY x._index NULLS LAST, {key_text}) "
        f"TO {literal(str(path))} (FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})"
    )
    con.unregister("_side_index")


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def build_stats(
    config: DatasetConfig, loaded: Loaded, unknown: Counter[int], built: Assembled, side: dict[str, Any]
) -> dict[str, Any]:
    """stats.json: counts read / kept / dropped by reason (overall and per source), mix, lengths, time range.

    Invariant: ``events_read == events_kept + sum(dropped.values())``, overall and per source.
    """
    by_source: dict[int, dict[str, Any]] = {}
    for i, source in enumerate(config.sources):
        by_source[i] = {
            "index": i,
            "path": source.path,
            "files": 0,
            "events_read": 0,
            "events_kept": 0,
            "dropped": Counter(),
        }
    for load in loaded.files:
        entry = by_source[load.source]
        entry["files"] += 1
        entry["events_read"] += load.read
        entry["dropped"].update(load.dropped)
        for name, value in load.extra.items():
            entry[name] = entry.get(name, 0) + value
    for src, n in unknown.items():
        by_source[src]["dropped"][DropReasons.UNKNOWN_ACTION] += n
    if len(config.sources) == 1:
        by_source[0]["dropped"].update(built.dropped)
        by_source[0]["events_kept"] = len(built.kept)
    else:
        for src, counts in built.dropped_by_source.items():
            by_source[src]["dropped"].update(counts)
        for src, n in built.kept_by_source.items():
            by_source[src]["events_kept"] = n
    dropped: Counter[str] = Counter()
    for entry in by_source.values():
        dropped.update(entry["dropped"])
        entry["dropped"] = {r: int(entry["dropped"][r]) for r in DropReasons.ALL}
    lengths = np.diff(built.offsets)
    fields = built.fields
    split_counts = (
        np.bincount(fields[SequenceFields.SPLIT], minlength=len(Splits.NAMES)) if len(lengths) else [0, 0, 0]
    )
    ts = fields.get(SequenceFields.TIME)
    vocabs = built.vocabs
    actions = vocabs[Vocabularies.ACTIONS]
    stats: dict[str, Any] = {
        "events_read": sum(e["events_read"] for e in by_source.values()),
        "events_kept": len(built.kept),
        "dropped": {r: int(dropped[r]) for r in DropReasons.ALL},
        "users": vocabs[Vocabularies.USERS].n_real,
        "items": vocabs[Vocabularies.ITEMS].n_real,
        "categories": vocabs[Vocabularies.CATEGORIES].n_real,
        "devices": vocabs[Vocabularies.DEVICES].n_real,
        "sessions": built.n_sessions,
        "actions": {v: int(c) for v, c in zip(actions.values[1:], actions.counts[1:], strict=True)},
        "splits": {name: int(split_counts[i]) for i, name in enumerate(Splits.NAMES)},
        "sequence_length": _length_stats(lengths),
        "time_range": None
        if ts is None or len(ts) == 0
        else {
            "start": _iso(int(ts.min())),
            "end": _iso(int(ts.max())),
            "start_ms": int(ts.min()),
            "end_ms": int(ts.max()),
        },
        "sources": list(by_source.values()),
    }
    if side:
        stats["side_tables"] = side
    return stats


def _length_stats(lengths: np.ndarray) -> dict[str, float]:
    if len(lengths) == 0:
        return {}
    out: dict[str, float] = {"min": int(lengths.min()), "mean": round(float(lengths.mean()), 3)}
    for p, v in zip(_PERCENTILES, np.percentile(lengths, _PERCENTILES), strict=True):
        out[f"p{p}"] = round(float(v), 2)
    out["max"] = int(lengths.max())
    return out
