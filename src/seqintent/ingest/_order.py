"""One sort: events still in play, by (user, time, input order), as numpy arrays.

DuckDB sorts and maps raw actions to canonical ones in the same query; every later step (cleaning
rules, vocabularies, gaps, sessions, splits) is a linear pass over these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.ingest._load import EVENTS
from seqintent.ingest._mapping import REASON, SOURCE
from seqintent.ingest._sql import ident, is_integer, literal
from seqintent.schema.columns import Columns

_CASE_LIMIT = 64  # up to this many (source, raw action) pairs, map with CASE; beyond, with a join
ORD = "_ord"
_CODE = "_action_code"
_UKEY = "_user_key"


@dataclass
class Coded:
    """A column as dictionary codes (-1 for null) and the distinct raw values."""

    codes: np.ndarray
    values: pa.Array


@dataclass
class SortedEvents:
    """Events in play, sorted by user, time, input order (all arrays aligned)."""

    ord: np.ndarray  # int64: rowid in the event table (= input order)
    user: pa.Array  # raw user ids
    user_new: np.ndarray  # bool: first event of a user
    action: np.ndarray  # int16: index into CANONICAL_ACTIONS
    ts: np.ndarray | None
    item: Coded | None
    category: Coded | None
    device: Coded | None
    session: Coded | None
    dwell: np.ndarray | None
    amount: np.ndarray | None
    source: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ord)


def _action_sql(
    con: duckdb.DuckDBPyConnection, action_map: dict[tuple[int, str | None], int], multi: bool
) -> tuple[str, str]:
    """SQL for the canonical action code, and a join clause (empty when CASE does it)."""
    known = {k: v for k, v in action_map.items() if k[1] is not None}
    if len(known) <= _CASE_LIMIT:
        whens = []
        for (src, raw), code in sorted(known.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            cond = f"e.{Columns.ACTION_RAW} = {literal(raw)}"
            if multi:
                cond = f"e.{SOURCE} = {src} AND {cond}"
            whens.append(f"WHEN {cond} THEN {code}")
        body = " ".join(whens) if whens else "WHEN false THEN 0"
        return f"CAST(CASE {body} END AS SMALLINT)", ""
    rows = sorted(known.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    table = pa.table(
        {
            "src": pa.array([k[0] for k, _ in rows], pa.uint8()),
            "raw": pa.array([k[1] for k, _ in rows], pa.string()),
            "code": pa.array([v for _, v in rows], pa.int16()),
        }
    )
    con.register("_action_map", table)
    join = f"JOIN _action_map m ON m.src = e.{SOURCE} AND m.raw = e.{Columns.ACTION_RAW}"
    return "m.code", join


def _user_order(con: duckdb.DuckDBPyConnection, user_type: str) -> str:
    """ORDER BY key of users: numeric when every id is an integer, else the raw value."""
    if is_integer(user_type):
        return Columns.USER
    if user_type == "VARCHAR":
        all_int = con.execute(
            f"SELECT coalesce(bool_and(TRY_CAST({Columns.USER} AS HUGEINT) IS NOT NULL), false) "
            f"FROM {EVENTS} WHERE {REASON} = 0"
        ).fetchall()[0][0]
        if all_int:
            return f"TRY_CAST({Columns.USER} AS HUGEINT), {Columns.USER}"
    return Columns.USER


def _coded(column: pa.ChunkedArray) -> Coded:
    encoded = pc.dictionary_encode(column.combine_chunks())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return Coded(codes, encoded.dictionary)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return (
        column.combine_chunks()
        .fill_null(np.nan)
        .to_numpy(zero_copy_only=False)
        .astype(np.float64, copy=False)
    )


def fetch_sorted(
    con: duckdb.DuckDBPyConnection,
    types: dict[str, str],
    action_map: dict[tuple[int, str | None], int],
    *,
    has_time: bool,
    multi_source: bool,
) -> SortedEvents:
    """Events with no row-local drop reason and a known action, sorted, as arrays."""
    action, join = _action_sql(con, action_map, multi_source)
    wanted = [
        c
        for c in (
            Columns.ITEM,
            Columns.CATEGORY,
            Columns.DEVICE,
            Columns.SESSION,
            Columns.DWELL,
            Columns.AMOUNT,
        )
        if c in types
    ]
    select = [f"e.rowid AS {ORD}", f"e.{Columns.USER}", f"{action} AS {_CODE}"]
    select += [f"e.{ident(c)}" for c in ([Columns.TIME] if has_time else []) + wanted]
    if multi_source:
        select.append(f"e.{SOURCE}")
    keys = [_user_order(con, types[Columns.USER])] + ([Columns.TIME] if has_time else []) + [ORD]
    sql = (
        f"SELECT * FROM (SELECT {', '.join(select)} FROM {EVENTS} e {join} WHERE e.{REASON} = 0) "
        f"WHERE {_CODE} IS NOT NULL ORDER BY {', '.join(keys)}"
    )
    table = con.sql(sql).to_arrow_table()
    user = table.column(Columns.USER).combine_chunks()
    n = table.num_rows
    user_new = np.ones(n, dtype=bool)
    if n > 1:
        if pa.types.is_integer(user.type):
            u = user.to_numpy()
            user_new[1:] = u[1:] != u[:-1]
        else:
            user_new[1:] = pc.not_equal(user.slice(1), user.slice(0, n - 1)).to_numpy(zero_copy_only=False)

    def col(name: str) -> pa.ChunkedArray | None:
        return table.column(name) if name in table.column_names else None

    def coded(name: str) -> Coded | None:
        c = col(name)
        return None if c is None else _coded(c)

    def floats(name: str) -> np.ndarray | None:
        c = col(name)
        return None if c is None else _floats(c)

    return SortedEvents(
        ord=table.column(ORD).to_numpy().astype(np.int64, copy=False),
        user=user,
        user_new=user_new,
        action=table.column(_CODE).to_numpy().astype(np.int16, copy=False),
        ts=table.column(Columns.TIME).to_numpy().astype(np.int64, copy=False) if has_time else None,
        item=coded(Columns.ITEM),
        category=coded(Columns.CATEGORY),
        device=coded(Columns.DEVICE),
        session=coded(Columns.SESSION),
        dwell=floats(Columns.DWELL),
        amount=floats(Columns.AMOUNT),
        source=table.column(SOURCE).to_numpy() if multi_source else None,
    )
