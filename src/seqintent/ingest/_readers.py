"""Readers: each input file as a DuckDB relation of raw rows in file order.

Text tables go through DuckDB's ``read_csv`` (rejected lines land in a rejects table, so a
malformed line is counted or reported with its line number), Parquet through ``read_parquet``.
:func:`read_lines` reads any file as raw lines with exact line numbers; the line formats (JSONL,
``sequences``, ``prefix_label``) are parsed from those in :mod:`seqintent.ingest._lines`.

A relation either streams from the file (``row_column`` None: the row of an event is the rowid of
the table it is loaded into) or reads a staged table with a ``_row`` column naming the raw row
(a line number for line formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from seqintent.errors import DataError
from seqintent.ingest._inputs import InputFile
from seqintent.ingest._sql import error_text, literal, string_list
from seqintent.schema.columns import DropReasons, RawColumns
from seqintent.schema.config import _TableSource

ROW = "_row"  # column naming the raw row of a staged relation
# A text line may be this long when a file needs it. DuckDB sizes its read buffers from the
# maximum line, so asking for it up front split a 672 MB file into few buffers: the 10M-event
# read took 5.8-6.8 s on 2 threads against 2.8-3.5 s at DuckDB's default (2 MB). Text tables
# are read at the default and again with long lines only when a line is over it
# (``LINE_TOO_LONG`` among the rejects, or a sniff that fails).
_MAX_LINE = 1 << 27
LINE_TOO_LONG = "LINE SIZE OVER MAXIMUM"  # the reject kind of such a line
_SNIFF_LINE_TOO_LONG = "Maximum line size"  # the sniff's error for one (it fails even ignoring errors)


@dataclass
class BadRow:
    """A raw row that yields no event, with what is wrong with it."""

    line: int | None
    reason: str
    message: str
    column: str | None = None
    value: Any = None


@dataclass
class RawInput:
    """One file's raw rows as a DuckDB relation, plus what the reader learnt about them."""

    file: InputFile
    relation: str
    columns: dict[str, str]
    row_column: str | None
    tag: str
    csv_args: str | None = None
    rejects_table: str | None = None
    header_lines: int = 0
    encoding: str = "utf-8"
    bad_rows: dict[str, int] = field(default_factory=dict)
    first_bad: BadRow | None = None
    extra_stats: dict[str, int] = field(default_factory=dict)
    staged_tables: list[str] = field(default_factory=list)
    long_lines: bool = False  # read with lines up to _MAX_LINE allowed (see LINE_TOO_LONG)

    @property
    def is_line_format(self) -> bool:
        return self.file.format in ("jsonl", "sequences", "prefix_label")

    def count_bad(self, reason: str, n: int, first: BadRow | None) -> None:
        if n:
            self.bad_rows[reason] = self.bad_rows.get(reason, 0) + n
            if first is not None and (
                self.first_bad is None or (first.line or 0) < (self.first_bad.line or 0)
            ):
                self.first_bad = first

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        for table in self.staged_tables:
            con.execute(f"DROP TABLE IF EXISTS {table}")

    # --- locating a raw row (for error messages) ------------------------------------------------

    def locate(self, con: duckdb.DuckDBPyConnection, row: int) -> tuple[int | None, dict[str, Any]]:
        """The 1-based line (or row) of raw row ``row`` and its raw values."""
        if self.is_line_format:
            values = _first_row(con, f"SELECT * FROM {self.relation} WHERE {ROW} = {row} LIMIT 1")
            return row, values
        if self.file.format == "parquet":
            return row + 1, _first_row(con, f"SELECT * FROM {self.relation} WHERE {ROW} = {row}")
        source = self.relation if self.row_column else f"read_csv({self.csv_args}, ignore_errors=true)"
        where = f"WHERE {ROW} = {row}" if self.row_column else f"LIMIT 1 OFFSET {row}"
        values = _first_row(con, f"SELECT * FROM {source} {where}")
        return self._csv_line(con, row), values

    def _csv_line(self, con: duckdb.DuckDBPyConnection, row: int) -> int | None:
        # The row-th data line: skip the header, blank lines and rejected lines. A quoted field
        # spanning lines shifts this; it is only used in messages.
        rejected = self.rejected_lines(con)
        lines = read_lines(con, self.file, self.encoding, f"{self.tag}_loc")
        try:
            found = con.execute(
                f"SELECT line_no FROM {lines} WHERE line_no > {self.header_lines} AND line IS NOT NULL "
                f"AND line_no NOT IN (SELECT unnest({rejected or [0]})) ORDER BY line_no LIMIT 1 OFFSET {row}"
            ).fetchall()
        finally:
            con.execute(f"DROP TABLE IF EXISTS {lines}")
        return int(found[0][0]) if found else None

    # --- CSV rejects -----------------------------------------------------------------------------

    def rejects(self, con: duckdb.DuckDBPyConnection) -> list[tuple[int, str | None, str, str, str]]:
        """(line, column, error type, line text, message) of each line the CSV reader rejected."""
        if self.rejects_table is None:
            return []
        try:
            return con.execute(
                f"SELECT line, column_name, error_type, csv_line, error_message FROM {self.rejects_table} "
                "ORDER BY line, column_idx"
            ).fetchall()
        except duckdb.CatalogException:
            return []

    def rejected_lines(self, con: duckdb.DuckDBPyConnection) -> list[int]:
        return sorted({int(r[0]) for r in self.rejects(con)})

    def collect_rejects(self, con: duckdb.DuckDBPyConnection) -> None:
        """Count the lines the CSV reader rejected as malformed (call after the relation was read)."""
        rows = self.rejects(con)
        if not rows:
            return
        first = rows[0]
        kind = first[2].lower().replace("_", " ")
        fix = "; check the delimiter, quoting and number of columns on that line"
        if first[2].replace("_", " ") in ("INVALID UNICODE", "INVALID ENCODING"):
            fix = "; set `encoding: latin-1` (or utf-16) on this input"
        self.count_bad(
            DropReasons.MALFORMED,
            len({r[0] for r in rows}),
            BadRow(
                int(first[0]),
                DropReasons.MALFORMED,
                f"malformed row ({kind}): {first[4].rstrip('.')}{fix}",
                first[1],
                first[3],
            ),
        )


def _first_row(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    try:
        cur = con.execute(sql)
        rows = cur.fetchall()
        names = [d[0] for d in cur.description]
    except duckdb.Error:
        return {}
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def _read_error(file: InputFile, exc: duckdb.Error, what: str) -> DataError:
    return DataError(
        f"cannot read the file as {what}: {error_text(exc)}",
        file=str(file.path),
        fix="check the file's `format`, `delimiter`, `header` and `encoding` in the config",
    )


# --- text tables ---------------------------------------------------------------------------------


_SNIFFED = ", ".join(
    (
        "Delimiter",
        "Quote",
        "Escape",
        "NewLineDelimiter",
        "Comment",
        "SkipRows",
        "HasHeader",
        "Columns",
        "DateFormat",
        "TimestampFormat",
    )
)


def _given_args(file: InputFile, spec: _TableSource, long_lines: bool) -> list[str]:
    """read_csv options the config fixes (the sniffer guesses the rest)."""
    args = [literal(str(file.path))]
    delimiter = "\t" if file.format == "tsv" and spec.delimiter is None else spec.delimiter
    if delimiter is not None:
        args.append(f"delim={literal(delimiter)}")
    if spec.header is not None:
        args.append(f"header={literal(spec.header)}")
    if spec.columns:
        args.append(f"names={string_list(spec.columns)}")
    if spec.null_values:
        args.append(f"nullstr={string_list(spec.null_values)}")
    if spec.encoding != "utf-8":
        args.append(f"encoding={literal(spec.encoding)}")
    if long_lines:
        args.append(f"max_line_size={_MAX_LINE}")
    return args


def _read_args(
    file: InputFile,
    spec: _TableSource,
    sniffed: tuple,
    columns: dict[str, str],
    header: bool,
    long_lines: bool,
) -> str:
    """read_csv options that repeat the sniffed dialect, so the file is not sniffed again."""
    delim, quote, escape, new_line, comment, skip, _, _, date_format, timestamp_format = sniffed

    def text(value: str) -> str:
        return literal("" if value == "(empty)" else value)

    args = [
        literal(str(file.path)),
        "auto_detect=false",
        f"delim={text(delim)}",
        f"quote={text(quote)}",
        f"escape={text(escape)}",
        f"new_line={text(new_line)}",
        f"comment={text(comment)}",
        f"skip={int(skip or 0)}",
        f"header={literal(header)}",
        "columns={" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in columns.items()) + "}",
    ]
    if long_lines:
        args.append(f"max_line_size={_MAX_LINE}")
    if spec.null_values:
        args.append(f"nullstr={string_list(spec.null_values)}")
    if spec.encoding != "utf-8":
        args.append(f"encoding={literal(spec.encoding)}")
    if date_format:
        args.append(f"dateformat={literal(date_format)}")
    if timestamp_format:
        args.append(f"timestampformat={literal(timestamp_format)}")
    return ", ".join(args)


def open_csv(
    con: duckdb.DuckDBPyConnection,
    file: InputFile,
    spec: _TableSource,
    tag: str,
    *,
    types: dict[str, str],
    staged: bool,
    text_columns: frozenset[str] = frozenset(),
    long_lines: bool = False,
) -> RawInput:
    """A text table; ``staged`` copies it into a table first so that ``row_no`` exists.

    The file is sniffed once (dialect, header, column types); the read repeats what was found.
    ``types`` overrides column types; ``text_columns`` are read as VARCHAR whatever DuckDB would
    guess (a time with a ``format`` must reach ``strptime`` as written, not as a guessed TIMESTAMP).
    ``long_lines`` allows lines up to 128 MB (slower; see ``LINE_TOO_LONG``); a sniff that fails
    without it is tried again with it.
    """

    def sniff(long: bool) -> tuple:
        given = ", ".join(_given_args(file, spec, long))
        return con.execute(f"SELECT {_SNIFFED} FROM sniff_csv({given}, ignore_errors=true)").fetchall()[0]

    try:
        sniffed = sniff(long_lines)
    except duckdb.Error as exc:
        if long_lines or _SNIFF_LINE_TOO_LONG not in str(exc):
            raise _read_error(file, exc, "a delimited text table") from None
        try:
            sniffed, long_lines = sniff(True), True
        except duckdb.Error as again:
            raise _read_error(file, again, "a delimited text table") from None
    columns = {c["name"]: c["type"] for c in sniffed[7]}
    if spec.columns and len(spec.columns) != len(columns):
        raise DataError(
            f"the config names {len(spec.columns)} columns but the file has {len(columns)}",
            file=str(file.path),
            value=spec.columns,
            fix="list one name per column under `columns`, or check the `delimiter`",
        )
    columns.update({c: "VARCHAR" for c in text_columns if c in columns})
    columns.update({c: t for c, t in types.items() if c in columns})
    header = spec.header if spec.header is not None else bool(sniffed[6])
    read_args = _read_args(file, spec, sniffed, columns, header, long_lines)
    rejects = (
        f"store_rejects=true, rejects_table={literal('rej_' + tag)}, rejects_scan={literal('rejscan_' + tag)}"
    )
    raw = RawInput(
        file,
        f"read_csv({read_args}, {rejects})",
        dict(columns),
        None,
        tag,
        csv_args=read_args,
        rejects_table=f"rej_{tag}",
        header_lines=int(sniffed[5] or 0) + int(header),
        encoding=spec.encoding,
        long_lines=long_lines,
    )
    raw.staged_tables += [f"rej_{tag}", f"rejscan_{tag}"]
    if staged:
        table = f"raw_{tag}"
        try:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {raw.relation}")
        except duckdb.Error as exc:
            raise _read_error(file, exc, "a delimited text table") from None
        raw.staged_tables.append(table)
        raw.relation = f"(SELECT *, rowid AS {ROW}, rowid + 1 AS {RawColumns.ROW_NO} FROM {table})"
        raw.row_column = ROW
        raw.columns.setdefault(RawColumns.ROW_NO, "BIGINT")
    return raw


def open_parquet(con: duckdb.DuckDBPyConnection, file: InputFile, tag: str) -> RawInput:
    path = literal(str(file.path))
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
    except duckdb.Error as exc:
        raise _read_error(file, exc, "Parquet") from None
    columns = {name: sql_type for name, sql_type, *_ in described}
    row_no = "" if RawColumns.ROW_NO in columns else f", file_row_number + 1 AS {RawColumns.ROW_NO}"
    relation = (
        f"(SELECT * EXCLUDE (file_row_number), file_row_number AS {ROW}{row_no} "
        f"FROM read_parquet({path}, file_row_number=true))"
    )
    columns.setdefault(RawColumns.ROW_NO, "BIGINT")
    return RawInput(file, relation, columns, ROW, tag)


def open_json_object(con: duckdb.DuckDBPyConnection, file: InputFile, tag: str) -> RawInput:
    """One JSON object ``{"id": value, ...}`` (a side table) as rows ``(key, value)`` in file order.

    The values' type is inferred from all of them (``[1, 2]`` lists become integer lists), so a list
    of attributes stays a list; values of mixed types stay JSON text.
    """
    table = f"jobj_{tag}"
    path = literal(str(file.path))
    try:
        kind = con.execute(f"SELECT json_type(CAST(content AS JSON)) FROM read_text({path})").fetchall()
    except duckdb.Error as exc:
        raise _read_error(file, exc, "one JSON object") from None
    if kind[0][0] != "OBJECT":
        raise DataError(
            f"expected one JSON object mapping ids to values, found a JSON {str(kind[0][0]).lower()}",
            file=str(file.path),
            fix='give {"id": value, ...}, or a JSONL / CSV / Parquet table with format set to match',
        )
    try:
        con.execute(
            f"CREATE TABLE {table}_raw AS SELECT unnest(map_keys(m)) AS key, unnest(map_values(m)) AS value "
            f"FROM (SELECT CAST(CAST(content AS JSON) AS MAP(VARCHAR, JSON)) AS m FROM read_text({path}))"
        )
        structure = con.execute(f"SELECT json_group_structure(value) FROM {table}_raw").fetchall()[0][0]
        # an empty object has no value to infer a type from: its (no) values stay JSON
        value = "value" if structure is None else f"json_transform_strict(value, {literal(str(structure))})"
        con.execute(
            f"CREATE TABLE {table} AS SELECT rowid + 1 AS {ROW}, rowid + 1 AS {RawColumns.ROW_NO}, key, "
            f"{value} AS value FROM {table}_raw"
        )
    except duckdb.Error as exc:
        raise _read_error(file, exc, "one JSON object with values of one type") from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}_raw")
    columns = {name: sql_type for name, sql_type, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
    return RawInput(file, table, columns, ROW, tag, staged_tables=[table])


# --- line formats --------------------------------------------------------------------------------


def read_lines(con: duckdb.DuckDBPyConnection, file: InputFile, encoding: str, tag: str) -> str:
    """A table ``(line_no, line)`` of every physical line (blank lines are NULL); returns its name.

    A line the reader rejects (invalid encoding) is kept as NULL with ``bad`` true, so line numbers
    stay exact. Lines are read at DuckDB's default maximum size, and all again with long lines
    allowed when one is over it (see ``LINE_TOO_LONG``).
    """
    table = f"lines_{tag}"

    def read(long_lines: bool) -> list[tuple[int, str]]:
        args = [
            literal(str(file.path)),
            "columns={'line': 'VARCHAR'}",
            "delim=chr(0)",
            "quote=''",
            "escape=''",
            "header=false",
            "auto_detect=false",
            f"store_rejects=true, rejects_table={literal('lrej_' + tag)}",
            f"rejects_scan={literal('lrejscan_' + tag)}",
        ]
        if long_lines:
            args.append(f"max_line_size={_MAX_LINE}")
        if encoding != "utf-8":
            args.append(f"encoding={literal(encoding)}")
        for name in (f"lrej_{tag}", f"lrejscan_{tag}"):  # a second read would add to the first's
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE OR REPLACE TABLE {table}_read AS SELECT line FROM read_csv({', '.join(args)})")
        return con.execute(f"SELECT line, error_type FROM lrej_{tag}").fetchall()

    try:
        rejects = read(long_lines=False)
        if any(kind == LINE_TOO_LONG for _, kind in rejects):
            rejects = read(long_lines=True)
    except duckdb.Error as exc:
        raise _read_error(file, exc, "text lines") from None
    rejected = sorted({int(line) for line, _ in rejects})
    if rejected:
        # accepted line a (0-based) sits at physical line a + 1 + #{j : rejected[j] - (j + 1) <= a}
        shifts = [r - (j + 1) for j, r in enumerate(rejected)]
        line_no = f"rowid + 1 + len(list_filter({shifts}, lambda s: s <= rowid))"
        con.execute(
            f"CREATE TABLE {table} AS SELECT {line_no} AS line_no, line, false AS bad FROM {table}_read "
            f"UNION ALL SELECT unnest({rejected}) AS line_no, NULL AS line, true AS bad ORDER BY line_no"
        )
    else:
        con.execute(
            f"CREATE TABLE {table} AS SELECT rowid + 1 AS line_no, line, false AS bad FROM {table}_read"
        )
    for name in (f"{table}_read", f"lrej_{tag}", f"lrejscan_{tag}"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return table
