"""Small helpers to write DuckDB SQL safely (quoting) and to turn its errors into ours."""

from __future__ import annotations

import duckdb

INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL literal for a string, number, bool or None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def string_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def is_integer(sql_type: str) -> bool:
    return sql_type in INTEGER_TYPES


def is_numeric(sql_type: str) -> bool:
    return sql_type in INTEGER_TYPES or sql_type in FLOAT_TYPES or sql_type.startswith("DECIMAL")


def unify_types(types: list[str]) -> str:
    """The type several sources' values of one field share: BIGINT, DOUBLE, the common type, or VARCHAR."""
    distinct = set(types)
    if len(distinct) == 1:
        (only,) = distinct
        return "BIGINT" if is_integer(only) else only
    if all(is_integer(t) for t in distinct):
        return "BIGINT"
    if all(is_numeric(t) for t in distinct):
        return "DOUBLE"
    return "VARCHAR"


QUOTED_LINE_CHARS = 300  # DuckDB quotes a rejected line whole ("Original Line: …"), megabytes for some


def error_text(exc: duckdb.Error) -> str:
    """DuckDB's message without the Python traceback noise, each line at most ``QUOTED_LINE_CHARS``."""
    text = str(exc).strip().split("\n\nLINE ")[0]
    return "\n".join(_shortened(line) for line in text.split("\n"))


def _shortened(line: str) -> str:
    if len(line) <= QUOTED_LINE_CHARS:
        return line
    return f"{line[:QUOTED_LINE_CHARS]}… ({len(line) - QUOTED_LINE_CHARS:,} more characters)"
