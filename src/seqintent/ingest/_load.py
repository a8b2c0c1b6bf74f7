"""Loading: every input file, in order, into one DuckDB table of mapped events.

The table ``ev`` gets one row per candidate event; its ``rowid`` is the input order (source order
in the config, file order in the glob, line, sub-event), because each file is appended in order and
DuckDB keeps insertion order. Row-local checks happen here, file by file, while the raw rows are
at hand: with ``on_error: fail`` the first bad row raises an error naming its file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import duckdb

from seqintent.errors import DataError, close_names
from seqintent.ingest._inputs import InputFile
from seqintent.ingest._lines import open_jsonl, open_prefix_label, open_sequences
from seqintent.ingest._mapping import REASON, StagePlan, needs_row_column, plan_stage
from seqintent.ingest._readers import (
    LINE_TOO_LONG,
    ROW,
    RawInput,
    open_csv,
    open_json_object,
    open_parquet,
)
from seqintent.ingest._sql import error_text, ident, literal, unify_types
from seqintent.schema.actions import CANONICAL_ACTIONS, canonical_action
from seqintent.schema.columns import Columns, DropReasons
from seqintent.schema.config import ActionSpec, DatasetConfig, SourceConfig, _TableSource

EVENTS = "ev"
_MAX_RETRIES = 8
T = TypeVar("T")
_ERROR_REASONS = (DropReasons.MISSING_USER, DropReasons.MISSING_TIME, DropReasons.BAD_TIME)


@dataclass
class FileLoad:
    """What loading one file found."""

    source: int
    file: InputFile
    events: int = 0  # candidate events appended to the table
    dropped: Counter[str] = field(default_factory=Counter)  # rows yielding no event + row-local drops
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> int:
        """Events read: appended events plus input rows that yielded none (see DropReasons)."""
        no_event = (DropReasons.MALFORMED, DropReasons.EMPTY_SEQUENCE, DropReasons.NO_ACTION)
        return self.events + sum(self.dropped[r] for r in no_event)


@dataclass
class Loaded:
    """The event table and what is known about it after loading."""

    files: list[FileLoad]
    types: dict[str, str]  # column → DuckDB type of the event table
    action_counts: Counter[tuple[int, str | None]]  # (source, raw action) → events still in play
    n_rows: int = 0


def map_action(raw: str | None, spec: ActionSpec) -> str | None:
    """The canonical action of a raw value under a source's action spec (None: unknown).

    The config's ``map`` comes first, then canonical names and known synonyms; for ``flags``
    sources the raw value is the flag column (or the base action).
    """
    if raw is None:
        return None
    if spec.flags:
        if raw in spec.flags:
            return spec.flags[raw]
        if raw == spec.base:
            return spec.base
    if raw in spec.map:
        return spec.map[raw]
    return canonical_action(raw)


def _open(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    file: InputFile,
    tag: str,
    types: dict[str, str],
    long_lines: bool,
) -> RawInput:
    fmt = file.format
    if fmt in ("csv", "tsv"):
        time = source.time
        text = frozenset([time.column]) if time is not None and time.format and time.column else frozenset()
        return open_csv(
            con,
            file,
            source,
            tag,
            types=types,
            staged=needs_row_column(source),
            text_columns=text,
            long_lines=long_lines,
        )
    if fmt == "parquet":
        return open_parquet(con, file, tag)
    if fmt == "jsonl":
        return open_jsonl(con, file, source, tag)
    if fmt == "sequences":
        return open_sequences(con, file, source, tag)
    return open_prefix_label(con, file, source, tag)


def open_table(
    con: duckdb.DuckDBPyConnection,
    spec: _TableSource,
    file: InputFile,
    tag: str,
    types: dict[str, str],
    long_lines: bool,
) -> RawInput:
    """A side table (items / users): text, Parquet or JSONL."""
    if file.format in ("csv", "tsv"):
        return open_csv(con, file, spec, tag, types=types, staged=False, long_lines=long_lines)
    if file.format == "parquet":
        return open_parquet(con, file, tag)
    if file.format == "jsonl":
        return open_jsonl(con, file, spec, tag)
    if file.format == "json_object":
        return open_json_object(con, file, tag)
    raise DataError(f"a side table cannot be in the {file.format!r} format", file=str(file.path))


def stage_with_retry(
    con: duckdb.DuckDBPyConnection,
    table: str,
    build: Callable[[dict[str, str], bool], tuple[RawInput, str, T]],
    file: InputFile,
) -> tuple[RawInput, T]:
    """Run ``build(types, long_lines) -> (raw, sql, plan)`` into ``table``; read again what the
    reader rejected for a reason of its own rather than the row's.

    DuckDB guesses column types from a sample; a later value that does not fit (a text id in a
    column of numbers) is rejected as a cast error. Those columns are read again as VARCHAR, so
    the value reaches the mapping (and its own checks) instead of dropping the row. A line over
    the reader's default maximum size is rejected too: the file is then read again with long
    lines allowed.
    """
    types: dict[str, str] = {}
    long_lines = False
    for _ in range(_MAX_RETRIES):
        raw, sql, plan = build(types, long_lines)
        try:
            con.execute(f"CREATE TABLE {table} AS {sql}")
        except duckdb.Error as exc:
            raise DataError(
                f"cannot read the file: {error_text(exc)}",
                file=str(file.path),
                fix="check the file's format options (delimiter, header, encoding) in the config",
            ) from None
        rejects = raw.rejects(con)
        cast_failures = {r[1] for r in rejects if r[2] == "CAST" and r[1]} - set(types)
        too_long = not raw.long_lines and any(r[2] == LINE_TOO_LONG for r in rejects)
        if not cast_failures and not too_long:
            raw.collect_rejects(con)
            return raw, plan
        con.execute(f"DROP TABLE {table}")
        raw.drop(con)
        types.update(dict.fromkeys(cast_failures, "VARCHAR"))
        long_lines = raw.long_lines or too_long
    raise DataError("could not settle the column types of the file", file=str(file.path))


def load_events(
    con: duckdb.DuckDBPyConnection, config: DatasetConfig, inputs: list[list[InputFile]]
) -> Loaded:
    """Load every file of every source into the table ``ev`` (see the module docstring).

    Raises
    ------
    DataError
        With ``on_error: fail``, at the first malformed row, missing user or time, unreadable time,
        or unknown action (under ``unknown: error``); the message names file, line and column.
    """
    loaded = Loaded(files=[], types={}, action_counts=Counter())
    for s, (source, files) in enumerate(zip(config.sources, inputs, strict=True)):
        for f, file in enumerate(files):
            tag = f"s{s}f{f}"
            stage = f"stage_{tag}"

            def build(
                types: dict[str, str],
                long_lines: bool,
                source: SourceConfig = source,
                file: InputFile = file,
                tag: str = tag,
                s: int = s,
            ) -> tuple[RawInput, str, StagePlan]:
                raw = _open(con, source, file, tag, types, long_lines)
                plan = plan_stage(con, source, s, raw, config.cleaning)
                return raw, plan.sql, plan

            raw, plan = stage_with_retry(con, stage, build, file)
            load = FileLoad(s, file, extra=dict(raw.extra_stats))
            for reason, n in raw.bad_rows.items():
                load.dropped[reason] += n
            for query, reason in plan.empty:
                n, _ = con.execute(query).fetchall()[0]
                load.dropped[reason] += int(n)
            _check_file(con, config, source, s, raw, plan, stage, load, loaded)
            raw.drop(con)
            _append(con, stage, loaded)
            loaded.files.append(load)
    loaded.n_rows = con.execute(f"SELECT count(*) FROM {EVENTS}").fetchall()[0][0]
    return loaded


def _check_file(
    con: duckdb.DuckDBPyConnection,
    config: DatasetConfig,
    source: SourceConfig,
    s: int,
    raw: RawInput,
    plan: StagePlan,
    stage: str,
    load: FileLoad,
    loaded: Loaded,
) -> None:
    """Count row-local drops of one staged file; with ``on_error: fail``, raise at its first bad row."""
    fail = config.on_error == "fail"
    errors: list[DataError] = []
    if fail and raw.first_bad is not None and raw.first_bad.reason == DropReasons.MALFORMED:
        bad = raw.first_bad
        errors.append(
            DataError(
                bad.message,
                file=str(raw.file.path),
                line=bad.line,
                column=bad.column,
                value=bad.value,
                fix="repair the line, or pass --on-error skip (on_error: skip) to drop such rows, "
                "counted as 'malformed'",
            )
        )
    by_reason = con.execute(f"SELECT {REASON}, count(*), min(rowid) FROM {stage} GROUP BY 1").fetchall()
    load.events = sum(int(n) for _, n, _ in by_reason)
    first_error: tuple[int, str] | None = None
    for code, n, first in by_reason:
        if code == 0:
            continue
        reason = DropReasons.ALL[code - 1]
        load.dropped[reason] += int(n)
        if reason in _ERROR_REASONS and (first_error is None or first < first_error[0]):
            first_error = (int(first), reason)
    if fail and first_error is not None:
        errors.append(_row_error(con, raw, plan, stage, *first_error))
    actions = con.execute(
        f"SELECT {Columns.ACTION_RAW}, count(*), min(rowid) FROM {stage} "
        f"WHERE {REASON} = 0 GROUP BY 1 ORDER BY 3"
    ).fetchall()
    first_unknown: tuple[int, str | None] | None = None
    for value, n, first in actions:
        loaded.action_counts[(s, value)] += int(n)
        unknown = source.action.unknown == "error" and map_action(value, source.action) is None
        if fail and unknown and (first_unknown is None or first < first_unknown[0]):
            first_unknown = (int(first), value)
    if first_unknown is not None:
        errors.append(
            _unknown_action_error(con, raw, plan, stage, s, source, first_unknown[1], first_unknown[0])
        )
    if errors:
        raise min(errors, key=lambda e: e.line if e.line is not None else float("inf"))


def _locate(
    con: duckdb.DuckDBPyConnection, raw: RawInput, stage: str, row: int
) -> tuple[int | None, dict[str, Any]]:
    if raw.row_column is not None:
        row = con.execute(f"SELECT {ROW} FROM {stage} WHERE rowid = {row}").fetchall()[0][0]
    return raw.locate(con, int(row))


def _row_error(
    con: duckdb.DuckDBPyConnection, raw: RawInput, plan: StagePlan, stage: str, row: int, reason: str
) -> DataError:
    line, values = _locate(con, raw, stage, row)
    skip = f"or pass --on-error skip (on_error: skip) to drop such rows, counted as {reason!r}"
    if reason == DropReasons.MISSING_USER:
        column, key = plan.field_origin[Columns.USER]
        return DataError(
            "the user id is empty",
            file=str(raw.file.path),
            line=line,
            column=column,
            key=None if column else key,
            fix=f"fill in the user id, {skip}",
        )
    column, key = plan.field_origin[Columns.TIME]
    if reason == DropReasons.MISSING_TIME:
        return DataError(
            "the time is empty",
            file=str(raw.file.path),
            line=line,
            column=column,
            key=None if column else key,
            fix=f"fill in the time, {skip}",
        )
    value = values.get(column) if column else None
    return DataError(
        f"cannot read the time: expected {plan.time_expected}",
        file=str(raw.file.path),
        line=line,
        column=column,
        key=key,
        value=value if value is not None else "(see the expression)",
        fix=f"set the right `unit` / `format` / `timezone` under {key}, {skip}",
    )


def _unknown_action_error(
    con: duckdb.DuckDBPyConnection,
    raw: RawInput,
    plan: StagePlan,
    stage: str,
    s: int,
    source: SourceConfig,
    value: str | None,
    row: int,
) -> DataError:
    line, _ = _locate(con, raw, stage, row)
    column, _ = plan.field_origin[Columns.ACTION]
    known = sorted(source.action.map) + list(CANONICAL_ACTIONS)
    return DataError(
        "the action is empty"
        if value is None
        else "unknown action: not in the config's `map`, not a canonical action and not a known synonym",
        file=str(raw.file.path),
        line=line,
        column=column,
        key=f"sources[{s}].action.map",
        value=value,
        candidates=close_names(value, known) if value else None,
        fix=f"map it under sources[{s}].action.map (e.g. {literal(value or 'x')}: view), or set "
        f"sources[{s}].action.unknown to 'other' or 'drop', "
        "or pass --on-error skip (counted as 'unknown_action')",
    )


def _append(con: duckdb.DuckDBPyConnection, stage: str, loaded: Loaded) -> None:
    """Append a staged file to the event table, widening column types where sources differ."""
    stage_types = {name: t for name, t, *_ in con.execute(f"DESCRIBE {stage}").fetchall() if name != ROW}
    if not loaded.types:
        if ROW in {r[0] for r in con.execute(f"DESCRIBE {stage}").fetchall()}:
            con.execute(f"CREATE TABLE {EVENTS} AS SELECT * EXCLUDE ({ROW}) FROM {stage}")
            con.execute(f"DROP TABLE {stage}")
        else:
            con.execute(f"ALTER TABLE {stage} RENAME TO {EVENTS}")
        loaded.types = stage_types
        return
    for name, kind in stage_types.items():
        if name not in loaded.types:
            con.execute(f"ALTER TABLE {EVENTS} ADD COLUMN {ident(name)} {kind}")
            loaded.types[name] = kind
        elif loaded.types[name] != kind:
            wide = unify_types([loaded.types[name], kind])
            if wide != loaded.types[name]:
                con.execute(f"ALTER TABLE {EVENTS} ALTER {ident(name)} TYPE {wide}")
                loaded.types[name] = wide
    cols = ", ".join(f"CAST({ident(n)} AS {loaded.types[n]}) AS {ident(n)}" for n in stage_types)
    con.execute(f"INSERT INTO {EVENTS} BY NAME SELECT {cols} FROM {stage}")
    con.execute(f"DROP TABLE {stage}")
