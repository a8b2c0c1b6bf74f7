"""Side tables: item information (category, attributes) and static user attributes."""

from __future__ import annotations

from typing import Any

import duckdb

from seqintent.errors import DataError
from seqintent.ingest._inputs import InputFile
from seqintent.ingest._load import EVENTS, Loaded, open_table, stage_with_retry
from seqintent.ingest._mapping import Scope
from seqintent.ingest._readers import RawInput
from seqintent.ingest._sql import ident, unify_types
from seqintent.schema.columns import Columns, DropReasons
from seqintent.schema.config import ItemTable, UserTable

_ORDER = "_side_order"


def load_side_table(
    con: duckdb.DuckDBPyConnection,
    spec: ItemTable | UserTable,
    files: list[InputFile],
    kind: str,
    on_error: str,
) -> tuple[str, dict[str, Any]]:
    """Read a side table into ``{kind}_table``: one row per id (its first row in file order).

    Returns the table name and its stats (rows read, distinct ids, malformed rows).
    """
    id_column = Columns.ITEM if kind == "items" else Columns.USER
    raw_table = f"{kind}_raw"
    rows, malformed = 0, 0
    for j, file in enumerate(files):
        tag = f"{kind}{j}"
        stage = f"stage_{tag}"

        def build(
            types: dict[str, str], long_lines: bool, file: InputFile = file, tag: str = tag
        ) -> tuple[RawInput, str, None]:
            raw = open_table(con, spec, file, tag, types, long_lines)
            scope = Scope(con, raw, raw.columns, kind)
            try:
                select = [f"{scope.field(getattr(spec, id_column), f'{kind}.{id_column}')[0]} AS {id_column}"]
                if isinstance(spec, ItemTable) and spec.category is not None:
                    select.append(
                        f"{scope.field(spec.category, f'{kind}.category')[0]} AS {Columns.CATEGORY}"
                    )
                for name, ref in spec.attrs.items():
                    select.append(f"{scope.field(ref, f'{kind}.attrs.{name}')[0]} AS {ident(name)}")
            finally:
                scope.close()
            return raw, f"SELECT {', '.join(select)} FROM {raw.relation}", None

        raw, _ = stage_with_retry(con, stage, build, file)
        bad = raw.bad_rows.get(DropReasons.MALFORMED, 0)
        if bad and on_error == "fail" and raw.first_bad is not None:
            raise DataError(
                raw.first_bad.message,
                file=str(file.path),
                line=raw.first_bad.line,
                value=raw.first_bad.value,
                fix="repair the line, or pass --on-error skip",
            )
        malformed += bad
        rows += con.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0]
        raw.drop(con)
        if j == 0:
            con.execute(f"ALTER TABLE {stage} RENAME TO {raw_table}")
        else:
            con.execute(f"INSERT INTO {raw_table} BY NAME SELECT * FROM {stage}")
            con.execute(f"DROP TABLE {stage}")
    names = [r[0] for r in con.execute(f"DESCRIBE {raw_table}").fetchall() if r[0] != id_column]
    firsts = ", ".join(
        f"arg_min({ident(n)}, {_ORDER}) FILTER (WHERE {ident(n)} IS NOT NULL) AS {ident(n)}" for n in names
    )
    table = f"{kind}_table"
    con.execute(
        f"CREATE TABLE {table} AS SELECT {id_column}{', ' + firsts if firsts else ''} FROM "
        f"(SELECT *, rowid AS {_ORDER} FROM {raw_table}) WHERE {id_column} IS NOT NULL GROUP BY {id_column}"
    )
    con.execute(f"DROP TABLE {raw_table}")
    distinct = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return table, {"rows": int(rows), "ids": int(distinct), "malformed": int(malformed)}


def fill_categories(con: duckdb.DuckDBPyConnection, items: str, loaded: Loaded) -> None:
    """Give events without a category the category of their item from the item table.

    An UPDATE keeps every row where it is, so the event table's order (the input order) holds.
    """
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {items}").fetchall()}
    if Columns.CATEGORY not in types or Columns.ITEM not in loaded.types:
        return
    cat_type = types[Columns.CATEGORY]
    if Columns.CATEGORY not in loaded.types:
        con.execute(f"ALTER TABLE {EVENTS} ADD COLUMN {Columns.CATEGORY} {cat_type}")
        loaded.types[Columns.CATEGORY] = cat_type
    elif unify_types([loaded.types[Columns.CATEGORY], cat_type]) != loaded.types[Columns.CATEGORY]:
        wide = unify_types([loaded.types[Columns.CATEGORY], cat_type])
        con.execute(f"ALTER TABLE {EVENTS} ALTER {Columns.CATEGORY} TYPE {wide}")
        loaded.types[Columns.CATEGORY] = wide
    same = loaded.types[Columns.ITEM] == types[Columns.ITEM]
    left = f"{EVENTS}.{Columns.ITEM}" if same else f"CAST({EVENTS}.{Columns.ITEM} AS VARCHAR)"
    right = f"i.{Columns.ITEM}" if same else f"CAST(i.{Columns.ITEM} AS VARCHAR)"
    con.execute(
        f"UPDATE {EVENTS} SET {Columns.CATEGORY} = "
        f"CAST(i.{Columns.CATEGORY} AS {loaded.types[Columns.CATEGORY]}) "
        f"FROM {items} i WHERE {EVENTS}.{Columns.CATEGORY} IS NULL AND {left} = {right}"
    )
