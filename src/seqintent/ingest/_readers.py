"""Readers: each input file as a DuckDB relation of raw rows in file order.

Text tables go through DuckDB's ``read_csv`` (rejected lines land in a rejects table, so a
malformed line is counted or reported with its line number), Parquet through ``read_parquet``.
Line formats (JSONL, ``sequences``, ``prefix_label``) are first read as raw lines into a table
whose ``rowid`` is the line order, then parsed in SQL; the raw columns they expose are listed in
:class:`seqintent.schema.columns.RawColumns`.

A relation either streams from the file (``row_column`` None: the row of an event is the rowid of
the table it is loaded into) or reads a staged table with a ``_row`` column naming the raw row
(a line number for line formats).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from seqintent.errors import DataError
from seqintent.ingest._inputs import InputFile
from seqintent.ingest._sql import error_text, literal, string_list
from seqintent.schema.columns import DropReasons, RawColumns
from seqintent.schema.config import SourceConfig, _TableSource

ROW = "_row"  # column naming the raw row of a staged relation
_MAX_LINE = 1 << 27


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


def _given_args(file: InputFile, spec: _TableSource) -> list[str]:
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
    args.append(f"max_line_size={_MAX_LINE}")
    return args


def _read_args(
    file: InputFile, spec: _TableSource, sniffed: tuple, columns: dict[str, str], header: bool
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
        f"max_line_size={_MAX_LINE}",
    ]
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
) -> RawInput:
    """A text table; ``staged`` copies it into a table first so that ``row_no`` exists.

    The file is sniffed once (dialect, header, column types); the read repeats what was found.
    ``types`` overrides column types; ``text_columns`` are read as VARCHAR whatever DuckDB would
    guess (a time with a ``format`` must reach ``strptime`` as written, not as a guessed TIMESTAMP).
    """
    try:
        sniffed = con.execute(
            f"SELECT {_SNIFFED} FROM sniff_csv({', '.join(_given_args(file, spec))}, ignore_errors=true)"
        ).fetchall()[0]
    except duckdb.Error as exc:
        raise _read_error(file, exc, "a delimited text table") from None
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
    read_args = _read_args(file, spec, sniffed, columns, header)
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


# --- line formats --------------------------------------------------------------------------------


def read_lines(con: duckdb.DuckDBPyConnection, file: InputFile, encoding: str, tag: str) -> str:
    """A table ``(line_no, line)`` of every physical line (blank lines are NULL); returns its name.

    A line the reader rejects (invalid encoding) is kept as NULL with ``bad`` true, so line numbers
    stay exact.
    """
    table = f"lines_{tag}"
    args = [
        literal(str(file.path)),
        "columns={'line': 'VARCHAR'}",
        "delim=chr(0)",
        "quote=''",
        "escape=''",
        "header=false",
        "auto_detect=false",
        f"max_line_size={_MAX_LINE}",
        f"store_rejects=true, rejects_table={literal('lrej_' + tag)}",
        f"rejects_scan={literal('lrejscan_' + tag)}",
    ]
    if encoding != "utf-8":
        args.append(f"encoding={literal(encoding)}")
    try:
        con.execute(f"CREATE TABLE {table}_read AS SELECT line FROM read_csv({', '.join(args)})")
        rejected = sorted({int(r[0]) for r in con.execute(f"SELECT line FROM lrej_{tag}").fetchall()})
    except duckdb.Error as exc:
        raise _read_error(file, exc, "text lines") from None
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


def _count_invalid_lines(
    con: duckdb.DuckDBPyConnection, raw: RawInput, lines: str, condition: str, what: str
) -> None:
    n, first = con.execute(f"SELECT count(*), min(line_no) FROM {lines} WHERE {condition}").fetchall()[0]
    if n:
        text = con.execute(f"SELECT line FROM {lines} WHERE line_no = {first}").fetchall()[0][0]
        raw.count_bad(
            DropReasons.MALFORMED, int(n), BadRow(int(first), DropReasons.MALFORMED, what, value=text)
        )


def open_jsonl(con: duckdb.DuckDBPyConnection, file: InputFile, spec: _TableSource, tag: str) -> RawInput:
    """JSON lines: one object per line; other non-blank lines are malformed."""
    lines = read_lines(con, file, spec.encoding, tag)
    table = f"json_{tag}"
    con.execute(
        f"CREATE TABLE {table} AS SELECT line_no, line, (NOT bad AND CASE WHEN json_valid(line) "
        f"THEN json_type(line::JSON) = 'OBJECT' ELSE false END) AS ok "
        f"FROM {lines} WHERE bad OR trim(line) <> ''"
    )
    con.execute(f"DROP TABLE {lines}")
    raw = RawInput(file, "", {}, ROW, tag, encoding=spec.encoding)
    raw.staged_tables.append(table)
    _count_invalid_lines(
        con, raw, table, "NOT ok", "malformed JSON line: expected one JSON object per line ({...})"
    )
    structure = con.execute(f"SELECT json_group_structure(line::JSON) FROM {table} WHERE ok").fetchall()[0][0]
    fields = json.loads(structure) if structure else {}
    if not isinstance(fields, dict):
        fields = {}
    wanted = {name: _json_type(kind) for name, kind in fields.items()}
    if not wanted:
        raw.relation = f"(SELECT line_no AS {ROW}, line_no AS {RawColumns.LINE_NO} FROM {table} WHERE ok)"
    else:
        raw.relation = (
            f"(SELECT line_no AS {ROW}, line_no AS {RawColumns.LINE_NO}, line_no AS {RawColumns.ROW_NO}, "
            f"unnest(json_transform(line, {literal(json.dumps(wanted))})) FROM {table} WHERE ok)"
        )
    raw.columns = {**{n: ("VARCHAR" if t == "JSON" else t) for n, t in wanted.items()}}
    raw.columns.setdefault(RawColumns.LINE_NO, "BIGINT")
    raw.columns.setdefault(RawColumns.ROW_NO, "BIGINT")
    return raw


def _json_type(kind: Any) -> str:
    if not isinstance(kind, str):
        return "JSON"
    kind = kind.upper()
    if kind in ("UBIGINT", "BIGINT", "INTEGER"):
        return "BIGINT"
    if kind in ("DOUBLE", "BOOLEAN", "VARCHAR"):
        return kind
    return "VARCHAR"


_TOKENS = "list_filter(string_split_regex(coalesce({x}, ''), '\\s+'), lambda t: t <> '')"


def open_sequences(
    con: duckdb.DuckDBPyConnection, file: InputFile, source: SourceConfig, tag: str
) -> RawInput:
    """One whitespace-separated id sequence per line: one raw row per token (after the head)."""
    lines = read_lines(con, file, source.encoding, tag)
    table = f"seq_{tag}"
    con.execute(
        f"CREATE TABLE {table} AS SELECT line_no, bad, {_TOKENS.format(x='line')} AS toks "
        f"FROM {lines} WHERE bad OR trim(line) <> ''"
    )
    con.execute(f"DROP TABLE {lines}")
    raw = RawInput(file, "", {}, ROW, tag, encoding=source.encoding)
    raw.staged_tables.append(table)
    _count_invalid_lines(con, raw, table, "bad", "line is not valid text in this encoding; set `encoding`")
    first_item = 2 if source.head_is_user else 1
    n_empty, first_empty = con.execute(
        f"SELECT count(*), min(line_no) FROM {table} WHERE NOT bad AND len(toks) < {first_item}"
    ).fetchall()[0]
    if n_empty:
        raw.count_bad(
            DropReasons.EMPTY_SEQUENCE,
            int(n_empty),
            BadRow(int(first_empty), DropReasons.EMPTY_SEQUENCE, "line has no item after its head"),
        )
    head = f"toks[1] AS {RawColumns.HEAD}, " if source.head_is_user else ""
    raw.relation = (
        f"(SELECT line_no AS {ROW}, line_no AS {RawColumns.LINE_NO}, {head}"
        f"unnest(range(len(toks) - {first_item - 1})) AS {RawColumns.POSITION}, "
        f"unnest(toks[{first_item}:]) AS {RawColumns.TOKEN} FROM {table} WHERE NOT bad)"
    )
    raw.columns = {RawColumns.LINE_NO: "BIGINT", RawColumns.POSITION: "BIGINT", RawColumns.TOKEN: "VARCHAR"}
    if source.head_is_user:
        raw.columns[RawColumns.HEAD] = "VARCHAR"
    return raw


def open_prefix_label(
    con: duckdb.DuckDBPyConnection, file: InputFile, source: SourceConfig, tag: str
) -> RawInput:
    """``prefix<TAB>label`` lines holding every prefix of each session, longest first.

    A line continues the session above it when its prefix is that line's prefix minus the last
    item and its label is that item. A session is kept when its lines run down to a one-item
    prefix and the line before it ends a session (or is the first line); it is rebuilt as its
    longest prefix plus label, so a kept session of n items has exactly n - 1 lines. Lines of
    sessions that are not kept are counted as malformed.
    """
    lines = read_lines(con, file, source.encoding, tag)
    table = f"pl_{tag}"
    tab = "chr(9)"
    con.execute(
        f"""CREATE TABLE {table} AS
        WITH parsed AS (
            SELECT line_no, line,
                   {_TOKENS.format(x=f"split_part(line, {tab}, 1)")} AS prefix,
                   {_TOKENS.format(x=f"split_part(line, {tab}, 2)")} AS label_toks,
                   NOT bad AND len(string_split(line, {tab})) = 2 AS has_tab
            FROM {lines} WHERE bad OR trim(line) <> ''
        ), checked AS (
            SELECT line_no, line, prefix, label_toks[1] AS label, len(prefix) AS n,
                   has_tab AND len(prefix) >= 1 AND len(label_toks) = 1 AS ok
            FROM parsed
        ), chained AS (
            SELECT *,
                   lag(ok) OVER w AS prev_ok, lag(n) OVER w AS prev_n, lag(prefix) OVER w AS prev_prefix
            FROM checked WINDOW w AS (ORDER BY line_no)
        ), started AS (
            SELECT *,
                   ok AND NOT coalesce(prev_ok AND n = prev_n - 1 AND prefix = prev_prefix[1:n]
                                       AND label = prev_prefix[prev_n], false) AS starts,
                   prev_ok IS NULL OR (prev_ok AND prev_n = 1) AS clean_start
            FROM chained
        )
        SELECT *, sum(starts::INTEGER) OVER (ORDER BY line_no ROWS UNBOUNDED PRECEDING) AS grp FROM started
        ORDER BY line_no"""
    )
    con.execute(f"DROP TABLE {lines}")
    raw = RawInput(file, "", {}, ROW, tag, encoding=source.encoding)
    raw.staged_tables.append(table)
    _count_invalid_lines(con, raw, table, "NOT ok", "expected 'prefix items<TAB>label' (one label item)")
    groups = f"groups_{tag}"
    con.execute(
        f"""CREATE TABLE {groups} AS
        SELECT grp, min(line_no) AS first_line, max(line_no) AS last_line, count(*) AS n_lines,
               arg_min(prefix, line_no) AS prefix, arg_min(label, line_no) AS label,
               min(n) AS last_n, bool_and(clean_start) FILTER (WHERE starts) AS clean
        FROM {table} WHERE ok GROUP BY grp ORDER BY grp"""
    )
    raw.staged_tables.append(groups)
    n_bad_lines, n_bad_groups, first = con.execute(
        f"SELECT sum(n_lines), count(*), min(first_line) FROM {groups} WHERE NOT (clean AND last_n = 1)"
    ).fetchall()[0]
    if n_bad_groups:
        row = con.execute(
            f"SELECT first_line, last_line, last_n, clean FROM {groups} WHERE first_line = {first}"
        ).fetchall()[0]
        if not row[3]:
            why = "it follows a line that does not end a session (a one-item prefix)"
        else:
            why = (
                f"its lines stop at line {row[1]} with a {row[2]}-item prefix; "
                "the next line does not continue it "
                "(expected the same prefix minus its last item, labelled with that item)"
            )
        raw.count_bad(
            DropReasons.MALFORMED,
            int(n_bad_lines),
            BadRow(
                int(row[0]),
                DropReasons.MALFORMED,
                f"session starting here is not a full run of prefixes: {why}",
            ),
        )
    con.execute(
        f"CREATE TABLE sess_{tag} AS SELECT row_number() OVER (ORDER BY grp) AS session_no, "
        "first_line, n_lines, "
        f"list_append(prefix, label) AS toks FROM {groups} WHERE clean AND last_n = 1 ORDER BY grp"
    )
    raw.staged_tables.append(f"sess_{tag}")
    lines_kept, sessions, events = con.execute(
        f"SELECT coalesce(sum(n_lines), 0), count(*), coalesce(sum(len(toks)), 0) FROM sess_{tag}"
    ).fetchall()[0]
    if lines_kept != events - sessions:  # the format's own invariant: n - 1 lines per session of n
        raise DataError(
            f"prefix_label check failed: {lines_kept} lines for {sessions} sessions of {events} items",
            file=str(file.path),
        )
    raw.extra_stats = {"lines": int(lines_kept), "sessions": int(sessions)}
    raw.relation = (
        f"(SELECT first_line AS {ROW}, first_line AS {RawColumns.LINE_NO}, "
        f"session_no AS {RawColumns.SESSION_NO}, "
        f"unnest(range(len(toks))) AS {RawColumns.POSITION}, unnest(toks) AS {RawColumns.TOKEN} "
        f"FROM sess_{tag})"
    )
    raw.columns = {
        RawColumns.SESSION_NO: "BIGINT",
        RawColumns.LINE_NO: "BIGINT",
        RawColumns.POSITION: "BIGINT",
        RawColumns.TOKEN: "VARCHAR",
    }
    return raw
