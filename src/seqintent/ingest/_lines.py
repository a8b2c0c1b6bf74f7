"""Line formats: JSON lines, ``sequences`` and ``prefix_label`` files, parsed in SQL from raw lines.

Each is first read as raw lines (:func:`seqintent.ingest._readers.read_lines`, exact line numbers),
then parsed; the raw columns they expose are listed in :class:`seqintent.schema.columns.RawColumns`.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from seqintent.errors import DataError
from seqintent.ingest._inputs import InputFile
from seqintent.ingest._readers import ROW, BadRow, RawInput, read_lines
from seqintent.ingest._sql import literal
from seqintent.schema.columns import DropReasons, RawColumns
from seqintent.schema.config import SourceConfig, _TableSource


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
        f"THEN json_type(line) = 'OBJECT' ELSE false END) AS ok "
        f"FROM {lines} WHERE bad OR trim(line) <> ''"
    )
    con.execute(f"DROP TABLE {lines}")
    raw = RawInput(file, "", {}, ROW, tag, encoding=spec.encoding)
    raw.staged_tables.append(table)
    _count_invalid_lines(
        con, raw, table, "NOT ok", "malformed JSON line: expected one JSON object per line ({...})"
    )
    # The structure of every line is the structure of one line per distinct structure: merging
    # those few (in line order, so keys keep their first-seen order) replaces DuckDB's
    # json_group_structure over all lines, a macro that first concatenates every line into one
    # JSON array (3M lines: 17.3 s against 5.7 s, the same structure)
    structure = con.execute(
        f"SELECT json_structure(to_json(list(line::JSON ORDER BY line_no))) -> 0 FROM {table} "
        f"WHERE line_no IN (SELECT min(line_no) FROM {table} WHERE ok GROUP BY json_structure(line))"
    ).fetchall()[0][0]
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
