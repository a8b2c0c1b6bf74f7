"""From raw rows to canonical events: the SQL that maps one source's columns.

The stage query maps every raw row (after ``explode`` and ``flags`` expansion) to one event row
with the canonical fields, plus ``_reason``: the first row-local drop rule that applies
(missing user, missing / bad time, outside the time window, missing item), 0 when none does.
Every expression is checked against the raw columns before anything is read, so a config naming
a missing column fails with the closest names and a bad SQL ``expr`` fails with its key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from seqintent.errors import ColumnError, ConfigError, close_names
from seqintent.ingest._readers import ROW, RawInput
from seqintent.ingest._sql import FLOAT_TYPES, error_text, ident, is_integer, is_numeric, literal
from seqintent.schema.columns import Columns, DropReasons, RawColumns
from seqintent.schema.config import (
    CleaningConfig,
    FieldRef,
    FieldSource,
    Instant,
    SourceConfig,
    TimeSpec,
    as_field_source,
)

REASON = "_reason"
SOURCE = "_src"
ATTR_PREFIX = "_attr_"
_RAW_TIME = "_time_raw"
_ACTION = "_action_raw"
_TOKENS = "_tokens"
_FLAGS = "_flags"

# Epoch milliseconds of 1900-01-01 and 2200-01-01: a time outside is a unit or format mistake.
TIME_MIN_MS = -2_208_988_800_000
TIME_MAX_MS = 7_258_118_400_000

OPTIONAL_FIELDS = (
    Columns.ITEM,
    Columns.CATEGORY,
    Columns.DWELL,
    Columns.AMOUNT,
    Columns.DEVICE,
    Columns.SESSION,
    Columns.TEXT,
)
_NUMERIC_FIELDS = (Columns.DWELL, Columns.AMOUNT)
_TEXT_FIELDS = (Columns.DEVICE, Columns.TEXT)


def reason_code(reason: str) -> int:
    """The code of a drop reason in ``_reason`` (its 1-based position in DropReasons.ALL)."""
    return DropReasons.ALL.index(reason) + 1


def instant_ms(value: Instant) -> int:
    """Epoch ms of a config instant (naive datetimes are UTC; numbers are epoch seconds)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp() * 1000)
    return round(float(value) * 1000)


@dataclass
class StagePlan:
    """The stage query of one file, and how to name its fields in messages."""

    sql: str
    field_origin: dict[str, tuple[str | None, str]]  # canonical field → (raw column or None, config key)
    time_expected: str | None
    empty: list[tuple[str, str]] = field(default_factory=list)  # (count query, reason) of rows with no event


class Scope:
    """The raw columns a source's expressions may use, and a way to type-check an expression."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, raw: RawInput, columns: dict[str, str], key: str
    ) -> None:
        self.con = con
        self.raw = raw
        self.columns = columns
        self.key = key
        self.table = f"schema_{raw.tag}"
        cols = ", ".join(f"{ident(n)} {t}" for n, t in columns.items()) or "_none INTEGER"
        con.execute(f"CREATE OR REPLACE TABLE {self.table} ({cols})")

    def close(self) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {self.table}")

    def column(self, name: str, key: str) -> str:
        if name not in self.columns:
            raise ColumnError(
                "no such column in the input",
                file=str(self.raw.file.path),
                column=name,
                key=key,
                candidates=close_names(name, [c for c in self.columns if not c.startswith("_")]),
                fix="use one of the input's columns (names are case-sensitive), or an `expr`",
            )
        return ident(name)

    def type_of(self, sql: str, key: str) -> str:
        try:
            return self.con.execute(f"DESCRIBE SELECT {sql} AS x FROM {self.table}").fetchall()[0][1]
        except duckdb.Error as exc:
            raise ConfigError(
                f"the SQL expression does not work on this input: {error_text(exc)}",
                file=str(self.raw.file.path),
                key=key,
                value=sql,
                fix="write a DuckDB SQL expression over the input's columns "
                f"({', '.join(c for c in list(self.columns)[:12] if not c.startswith('_'))})",
            ) from None

    def field(self, ref: FieldRef, key: str) -> tuple[str, str | None]:
        """SQL of a field reference, and the raw column it names (if it is a column)."""
        src = as_field_source(ref)
        assert src is not None
        if src.column is not None:
            return self.column(src.column, key), src.column
        if src.expr is not None:
            sql = f"({src.expr})"
            self.type_of(sql, f"{key}.expr")
            return sql, None
        return literal(src.value), None


def _expand(
    scope: Scope, source: SourceConfig, relation: str, key: str
) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """Apply ``explode`` (one row per token) and ``flags`` (one row per action) to the relation.

    Also returns, per expansion, a query counting the raw rows that yield no event (with the
    first such row) and the reason they are counted under.
    """
    columns = dict(scope.columns)
    empty: list[tuple[str, str]] = []
    if source.explode is not None:
        col = scope.column(source.explode.column, f"{key}.explode.column")
        sep = literal(source.explode.separator)
        position = (
            ""
            if RawColumns.POSITION in columns
            else f", unnest(range(len({_TOKENS}))) AS {RawColumns.POSITION}"
        )
        tokens = (
            f"(SELECT *, list_filter(string_split(CAST({col} AS VARCHAR), {sep}), lambda t: t <> '') "
            f"AS {_TOKENS} FROM {relation})"
        )
        empty.append(
            (
                f"SELECT count(*), min({ROW}) FROM {tokens} WHERE coalesce(len({_TOKENS}), 0) = 0",
                DropReasons.EMPTY_SEQUENCE,
            )
        )
        relation = (
            f"(SELECT * EXCLUDE ({col}, {_TOKENS}){position}, unnest({_TOKENS}) AS {col} FROM {tokens})"
        )
        columns[source.explode.column] = "VARCHAR"
        columns.setdefault(RawColumns.POSITION, "BIGINT")
    spec = source.action
    if spec.flags:
        parts = [literal(spec.base)] if spec.base is not None else []
        for flag in spec.flags:
            col = scope.column(flag, f"{key}.action.flags")
            parts.append(f"CASE WHEN coalesce(TRY_CAST({col} AS BOOLEAN), false) THEN {literal(flag)} END")
        flags = f"list_filter([{', '.join(parts)}], lambda a: a IS NOT NULL)"
        flagged = f"(SELECT *, {flags} AS {_FLAGS} FROM {relation})"
        empty.append(
            (f"SELECT count(*), min({ROW}) FROM {flagged} WHERE len({_FLAGS}) = 0", DropReasons.NO_ACTION)
        )
        relation = f"(SELECT * EXCLUDE ({_FLAGS}), unnest({_FLAGS}) AS {_ACTION} FROM {flagged})"
        columns[_ACTION] = "VARCHAR"
    return relation, columns, empty


def needs_row_column(source: SourceConfig) -> bool:
    """Whether a source must be staged with a raw-row column (expansions, or ``row_no`` used)."""
    if source.explode is not None or source.action.flags:
        return True
    refs: list[FieldRef | None] = [
        source.user_id,
        source.item_id,
        source.category,
        source.dwell_s,
        source.amount,
    ]
    refs += [source.device, source.session_id, source.text, *source.attrs.values()]
    if source.time is not None:
        refs.append(
            FieldSource(column=source.time.column)
            if source.time.column
            else FieldSource(expr=source.time.expr)
        )
    return any(_mentions(ref, RawColumns.ROW_NO) for ref in refs)


def _mentions(ref: FieldRef | None, name: str) -> bool:
    src = as_field_source(ref)
    return src is not None and (src.column == name or (src.expr is not None and name in src.expr))


def time_sql(spec: TimeSpec, value: str, value_type: str, key: str) -> tuple[str, str]:
    """SQL giving UTC epoch ms from a raw time value (NULL when unreadable), and what was expected.

    The caller nulls values outside [1900, 2200) (see :data:`TIME_MIN_MS`), where a wrong unit lands.
    """

    def local(naive: str) -> str:
        if spec.timezone == "UTC":
            return f"epoch_ms({naive})"
        return f"epoch_ms(timezone({literal(spec.timezone)}, {naive}))"

    if spec.unit is not None:
        factor = {"s": 1000, "ms": 1, "us": 0.001, "ns": 0.000001}[spec.unit]
        expected = (
            f"epoch {dict(s='seconds', ms='milliseconds', us='microseconds', ns='nanoseconds')[spec.unit]}"
        )
        if is_integer(value_type):
            if spec.unit == "s":
                low, high = TIME_MIN_MS // 1000, TIME_MAX_MS // 1000
                ms = f"CASE WHEN {value} BETWEEN {low} AND {high} THEN {value} * 1000 END"
            elif spec.unit == "ms":
                ms = value
            else:
                div = 1000 if spec.unit == "us" else 1_000_000
                ms = f"({value} // {div} - CASE WHEN {value} % {div} < 0 THEN 1 ELSE 0 END)"
        else:
            number = value if value_type in FLOAT_TYPES else f"TRY_CAST({value} AS DOUBLE)"
            bound = (TIME_MAX_MS - TIME_MIN_MS) / factor
            ms = f"CASE WHEN abs({number}) < {bound!r} THEN CAST(round({number} * {factor!r}) AS BIGINT) END"
    elif spec.format is not None:
        text = value if value_type == "VARCHAR" else f"CAST({value} AS VARCHAR)"
        parsed = f"try_strptime({text}, {literal(spec.format)})"
        zoned = "%z" in spec.format or "%Z" in spec.format
        ms = f"epoch_ms({parsed})" if zoned else local(parsed)
        expected = f"a time in the format {spec.format!r}"
    else:
        expected = "an ISO-8601 time such as '2024-05-01 13:45:00' or '2024-05-01T13:45:00+02:00'"
        if value_type == "TIMESTAMP WITH TIME ZONE":
            ms = f"epoch_ms({value})"
        elif value_type.startswith("TIMESTAMP") or value_type == "DATE":
            ms = local(f"CAST({value} AS TIMESTAMP)")
        elif value_type == "VARCHAR":
            ms = (
                f"CASE WHEN regexp_matches({value}, '([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)$') "
                f"THEN epoch_ms(TRY_CAST({value} AS TIMESTAMPTZ)) "
                f"ELSE {local(f'TRY_CAST({value} AS TIMESTAMP)')} END"
            )
        elif is_numeric(value_type):
            raise ConfigError(
                f"the time holds numbers ({value_type}) but no unit is given",
                key=f"{key}.unit",
                fix="set `unit: s` (or ms, us, ns) for epoch times, or `format` for text times",
            )
        else:
            raise ConfigError(
                f"cannot read a time from values of type {value_type}",
                key=key,
                fix="give `unit` (epoch numbers), `format` (text), or an `expr` giving one of those",
            )
    return f"CAST({ms} AS BIGINT)", expected + " between the years 1900 and 2200"


def plan_stage(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    source_index: int,
    raw: RawInput,
    cleaning: CleaningConfig,
) -> StagePlan:
    """The stage query of one file of ``source``.

    Raises
    ------
    ColumnError
        A field names a column the input does not have (the message lists the closest ones).
    ConfigError
        An ``expr`` does not work on this input, or a time cannot be read as configured.
    """
    key = f"sources[{source_index}]"
    scope = Scope(con, raw, raw.columns, key)
    try:
        relation, columns, empty = _expand(scope, source, raw.relation, key)
        if columns != scope.columns:
            scope.close()
            scope = Scope(con, raw, columns, key)
        plan = _plan(scope, source, source_index, relation, cleaning, key)
        plan.empty = empty
        return plan
    finally:
        scope.close()


def _plan(
    scope: Scope, source: SourceConfig, source_index: int, relation: str, cleaning: CleaningConfig, key: str
) -> StagePlan:
    select: list[str] = []
    origin: dict[str, tuple[str | None, str]] = {}

    user_sql, user_col = scope.field(source.user_id, f"{key}.user_id")
    user_type = scope.type_of(user_sql, f"{key}.user_id")
    select.append(f"{user_sql} AS {Columns.USER}")
    origin[Columns.USER] = (user_col, f"{key}.user_id")

    time_expected = None
    if source.time is not None:
        spec = source.time
        if spec.column is not None:
            raw_time = scope.column(spec.column, f"{key}.time.column")
            origin[Columns.TIME] = (spec.column, f"{key}.time")
        else:
            raw_time = f"({spec.expr})"
            origin[Columns.TIME] = (None, f"{key}.time.expr")
        raw_type = scope.type_of(raw_time, origin[Columns.TIME][1])
        ts_sql, time_expected = time_sql(spec, _RAW_TIME, raw_type, f"{key}.time")
        select.append(f"{raw_time} AS {_RAW_TIME}")
    else:
        ts_sql = "CAST(NULL AS BIGINT)"

    spec = source.action
    if spec.flags:
        action_sql = _ACTION
        origin[Columns.ACTION] = (None, f"{key}.action.flags")
    else:
        ref = FieldSource(column=spec.column, expr=spec.expr, value=spec.value)
        action_sql, action_col = scope.field(ref, f"{key}.action")
        origin[Columns.ACTION] = (action_col, f"{key}.action")
    select.append(f"CAST({action_sql} AS VARCHAR) AS {Columns.ACTION_RAW}")

    for name in OPTIONAL_FIELDS:
        ref = getattr(source, name)
        if ref is None:
            continue
        sql, col = scope.field(ref, f"{key}.{name}")
        origin[name] = (col, f"{key}.{name}")
        kind = scope.type_of(sql, f"{key}.{name}") if col is not None else None
        if name in _NUMERIC_FIELDS and kind != "DOUBLE":
            sql = f"TRY_CAST({sql} AS DOUBLE)"
        elif name in _TEXT_FIELDS and kind != "VARCHAR":
            sql = f"CAST({sql} AS VARCHAR)"
        select.append(f"{sql} AS {ident(name)}")
    for attr, ref in source.attrs.items():
        sql, _ = scope.field(ref, f"{key}.attrs.{attr}")
        select.append(f"{sql} AS {ident(ATTR_PREFIX + attr)}")
    if scope.raw.row_column is not None:
        select.append(ROW)

    codes = []
    missing_user = f"{Columns.USER} IS NULL"
    if user_type == "VARCHAR":
        missing_user += f" OR {Columns.USER} = ''"
    codes.append((missing_user, DropReasons.MISSING_USER))
    if source.time is not None:
        codes.append((f"{_RAW_TIME} IS NULL", DropReasons.MISSING_TIME))
        codes.append((f"{Columns.TIME} IS NULL", DropReasons.BAD_TIME))
        window = cleaning.time_window
        if window is not None and (window.start is not None or window.end is not None):
            bounds = []
            if window.start is not None:
                bounds.append(f"{Columns.TIME} < {instant_ms(window.start)}")
            if window.end is not None:
                bounds.append(f"{Columns.TIME} >= {instant_ms(window.end)}")
            codes.append((" OR ".join(bounds), DropReasons.OUTSIDE_WINDOW))
    if cleaning.missing_item == "drop":
        item_missing = f"{Columns.ITEM} IS NULL" if source.item_id is not None else "true"
        codes.append((item_missing, DropReasons.MISSING_ITEM))
    case = " ".join(f"WHEN {cond} THEN {reason_code(reason)}" for cond, reason in codes)

    mapped = f"SELECT {', '.join(select)} FROM {relation}"
    if source.time is not None:
        # one projection per step, so each expression is evaluated once per row
        mapped = f"SELECT *, {ts_sql} AS _time_ms FROM ({mapped})"
        in_range = f"_time_ms >= {TIME_MIN_MS} AND _time_ms < {TIME_MAX_MS}"
        checked = f"CASE WHEN {in_range} THEN _time_ms END AS {Columns.TIME}"
        mapped = f"SELECT * EXCLUDE (_time_ms), {checked} FROM ({mapped})"
    else:
        mapped = f"SELECT *, {ts_sql} AS {Columns.TIME} FROM ({mapped})"
    drop_raw = f" EXCLUDE ({_RAW_TIME})" if source.time is not None else ""
    sql = (
        f"SELECT *{drop_raw}, CAST({source_index} AS UTINYINT) AS {SOURCE}, "
        f"CAST(CASE {case} ELSE 0 END AS UTINYINT) AS {REASON} FROM ({mapped})"
    )
    return StagePlan(sql, origin, time_expected)
