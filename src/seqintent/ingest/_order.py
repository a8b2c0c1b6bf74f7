"""One ordering: events still in play, by (user, time, input order), as numpy arrays.

The event table is scanned once in input order (DuckDB maps raw actions to canonical codes in the
same scan). The order itself comes from one ``np.sort`` of packed 64-bit keys
``user rank | position`` (when each user's events already come in time order, as in append-only
logs) or ``user rank | time | position`` (when that fits in 64 bits); the position makes every
key unique, so the sort is stable and the permutation is read back from the low bits. Otherwise
DuckDB sorts the keys. Every later step (cleaning rules, vocabularies, gaps, sessions, splits)
is a linear pass over the sorted arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.ingest._load import EVENTS
from seqintent.ingest._mapping import REASON, SOURCE
from seqintent.ingest._sql import ident, literal
from seqintent.ingest._vocab import integer_key
from seqintent.schema.columns import Columns

_CASE_LIMIT = 64  # up to this many (source, raw action) pairs, map with CASE; beyond, with a join
ORD = "_ord"
_CODE = "_action_code"


@dataclass
class Coded:
    """A column as dictionary codes (-1 for null) and the distinct raw values."""

    codes: np.ndarray
    values: pa.Array


@dataclass
class SortedEvents:
    """Events in play, sorted by user, time, input order (all arrays aligned)."""

    ord: np.ndarray  # int64: rowid in the event table (= input order)
    user: Coded  # codes are user ranks: equal codes are one user, increasing along the arrays
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
    known = sorted(((k, v) for k, v in action_map.items() if k[1] is not None), key=lambda kv: kv[0])
    if len(known) <= _CASE_LIMIT:
        whens = []
        for (src, raw), code in known:
            cond = f"e.{Columns.ACTION_RAW} = {literal(raw)}"
            if multi:
                cond = f"e.{SOURCE} = {src} AND {cond}"
            whens.append(f"WHEN {cond} THEN {code}")
        body = " ".join(whens) if whens else "WHEN false THEN 0"
        return f"CAST(CASE {body} END AS SMALLINT)", ""
    table = pa.table(
        {
            "src": pa.array([k[0] for k, _ in known], pa.uint8()),
            "raw": pa.array([k[1] for k, _ in known], pa.string()),
            "code": pa.array([v for _, v in known], pa.int16()),
        }
    )
    con.register("_action_map", table)
    return "m.code", f"JOIN _action_map m ON m.src = e.{SOURCE} AND m.raw = e.{Columns.ACTION_RAW}"


def _bits(n: int) -> int:
    return max(int(n).bit_length(), 1)


def _user_ranks(user: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Rank codes of users in vocabulary order (numeric when all ids are integers, else text)."""
    if pa.types.is_integer(user.type) and user.null_count == 0 and len(user):
        values = user.to_numpy().astype(np.int64, copy=False)
        low = int(values.min())
        if int(values.max()) - low < 4 * len(values):  # dense enough: the id itself is the rank
            return values - low, user  # the caller rebuilds the values at each user's first event
    encoded = pc.dictionary_encode(user)
    dictionary = encoded.dictionary
    keys = {"text": dictionary.cast(pa.string())}
    order_by = [("text", "ascending")]
    numeric = integer_key(dictionary)
    if numeric is not None:
        keys = {"number": numeric, **keys}
        order_by = [("number", "ascending"), *order_by]
    order = pc.sort_indices(pa.table(keys), sort_keys=order_by).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return rank[codes], dictionary.take(pa.array(order))


def _sort_packed(parts: list[tuple[np.ndarray, int]], n: int) -> np.ndarray | None:
    """Stable order by the parts (major first) and position, from one sort of packed uint64 keys."""
    b_pos = _bits(n - 1)
    if sum(width for _, width in parts) + b_pos > 64:
        return None
    key = np.zeros(n, dtype=np.uint64)
    for values, width in parts:
        key <<= np.uint64(width)
        key |= values.astype(np.uint64, copy=False)
    key <<= np.uint64(b_pos)
    key |= np.arange(n, dtype=np.uint64)
    key.sort()  # the position makes every key unique, so this sort is stable
    key &= np.uint64((1 << b_pos) - 1)
    return key.view(np.int64)


def _packed_order(rank: np.ndarray, ts: np.ndarray | None) -> np.ndarray | None:
    """The stable order by (rank, ts, position) without DuckDB, or None when keys do not pack.

    First by user alone: when each user's events already come in time order in the input (an
    append-only log, a log grouped by user), that is the answer. Otherwise user, time and
    position are packed together if they fit in 64 bits.
    """
    n = len(rank)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    b_rank = _bits(int(rank.max()))
    by_user = _sort_packed([(rank, b_rank)], n)
    if ts is None or by_user is None:
        return by_user
    t = ts[by_user]
    same_user = rank[by_user[1:]] == rank[by_user[:-1]]
    if not np.any(same_user & (t[1:] < t[:-1])):
        return by_user
    del by_user, t, same_user
    rel = ts - int(ts.min())
    if not np.any(rel % 1000):
        rel //= 1000  # whole seconds: 10 fewer bits
    return _sort_packed([(rank, b_rank), (rel, _bits(int(rel.max())))], n)


def _duckdb_order(
    con: duckdb.DuckDBPyConnection, scan: str, ords: np.ndarray, user: pa.Array, has_time: bool
) -> np.ndarray:
    """Positions (in the scan's order) sorted by (user, time, input order), by DuckDB.

    Users are ordered as :func:`_user_ranks` orders them: numerically when every id is an integer
    (then by the raw text, so "007" and "7" stay apart), else by text.
    """
    if pa.types.is_integer(user.type):
        user_key = Columns.USER
    elif integer_key(pc.unique(user)) is not None:
        user_key = f"TRY_CAST({Columns.USER} AS HUGEINT), CAST({Columns.USER} AS VARCHAR)"
    else:
        user_key = f"CAST({Columns.USER} AS VARCHAR)"
    keys = [user_key] + ([Columns.TIME] if has_time else []) + [ORD]
    sorted_ords = con.execute(f"SELECT {ORD} FROM ({scan}) ORDER BY {', '.join(keys)}").fetchnumpy()[ORD]
    position = np.empty(int(ords[-1]) + 1 if len(ords) else 0, dtype=np.int64)
    position[ords] = np.arange(len(ords))
    return position[sorted_ords.astype(np.int64, copy=False)]


def _numpy(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    """One contiguous numpy array from the chunks (no null values expected)."""
    if column.num_chunks == 0:
        return np.zeros(0, dtype=dtype)
    if column.num_chunks == 1:
        return column.chunk(0).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return np.concatenate([c.to_numpy(zero_copy_only=False) for c in column.chunks]).astype(dtype, copy=False)


def _coded(column: pa.ChunkedArray, perm: np.ndarray) -> Coded:
    # one dictionary for all chunks: the kernel shares its hash table across them
    encoded = pc.dictionary_encode(column)
    del column
    if encoded.num_chunks == 0:
        return Coded(np.zeros(0, dtype=np.int32), pa.array([], pa.string()))
    codes = np.concatenate(
        [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in encoded.chunks]
    ).astype(np.int32, copy=False)
    return Coded(codes[perm], encoded.chunk(0).dictionary)


def _floats(column: pa.ChunkedArray, perm: np.ndarray) -> np.ndarray:
    return _numpy(column.fill_null(np.nan), np.float64)[perm]


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
    scan = f"SELECT * FROM (SELECT {', '.join(select)} FROM {EVENTS} e {join} WHERE e.{REASON} = 0) "
    scan += f"WHERE {_CODE} IS NOT NULL"
    if join:
        scan += f" ORDER BY {ORD}"  # a join does not keep the input order
    table = con.sql(scan).to_arrow_reader().read_all()  # streamed: no second copy of the result
    columns = {name: table.column(name) for name in table.column_names}
    del table  # each column is released as soon as it has been turned into sorted arrays

    def take(name: str) -> pa.ChunkedArray | None:
        return columns.pop(name, None)

    ords = _numpy(take(ORD), np.int64)
    ts = _numpy(take(Columns.TIME), np.int64) if has_time else None
    user = take(Columns.USER).combine_chunks()
    rank, user_values = _user_ranks(user)
    perm = _packed_order(rank, ts)
    if perm is None:
        perm = _duckdb_order(con, scan, ords, user, has_time)
    if len(perm) < 2**31:
        perm = perm.astype(np.int32)
    # sorted copies replace the originals one by one, so memory holds one extra array at a time
    ords = ords[perm]
    ts = ts[perm] if ts is not None else None
    rank = rank[perm]
    user_new = np.ones(len(rank), dtype=bool)
    user_new[1:] = rank[1:] != rank[:-1]
    if user_values is user:  # integer ids ranked by value: keep the ids of each user's first event
        user_values = user.take(pa.array(perm[user_new]))
        rank = np.cumsum(user_new, dtype=np.int64) - 1
    del user
    user_codes = rank.astype(np.int32) if len(rank) == 0 or rank[-1] < 2**31 else rank
    del rank
    action = _numpy(take(_CODE), np.int16)[perm]

    def coded(name: str) -> Coded | None:
        c = take(name)
        return None if c is None else _coded(c, perm)

    def floats(name: str) -> np.ndarray | None:
        c = take(name)
        return None if c is None else _floats(c, perm)

    return SortedEvents(
        ord=ords,
        user=Coded(user_codes, user_values),
        user_new=user_new,
        action=action,
        ts=ts,
        item=coded(Columns.ITEM),
        category=coded(Columns.CATEGORY),
        device=coded(Columns.DEVICE),
        session=coded(Columns.SESSION),
        dwell=floats(Columns.DWELL),
        amount=floats(Columns.AMOUNT),
        source=_numpy(take(SOURCE), np.uint8)[perm] if multi_source else None,
    )
