"""``ingest``: a raw log and a config in, a Dataset folder out."""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

import duckdb

from seqintent.data.dataset import Dataset, DatasetWriter
from seqintent.data.sequences import SequenceArrays
from seqintent.data.vocab import Vocabulary
from seqintent.errors import ConfigError, DataError
from seqintent.ingest._assemble import assemble
from seqintent.ingest._inputs import InputFile, resolve_config, resolve_inputs, side_table_files
from seqintent.ingest._load import Loaded, load_events, map_action
from seqintent.ingest._order import fetch_sorted
from seqintent.ingest._side import fill_categories, load_side_table
from seqintent.ingest._write import build_stats, write_events, write_side_table
from seqintent.schema.actions import CANONICAL_ACTIONS
from seqintent.schema.columns import Columns, DatasetFiles, Vocabularies
from seqintent.schema.config import DatasetConfig


def _connect(threads: int | None, spill: Path) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {
        "temp_directory": str(spill),  # where DuckDB spills a sort bigger than memory, removed after
        # Input order is the tie-break of the per-user sort and rests on DuckDB keeping insertion
        # order in CREATE TABLE AS / INSERT / COPY: never turn this off here.
        "preserve_insertion_order": True,
        "threads": threads or os.cpu_count() or 1,
    }
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # a library prints nothing
    return con


def _check(config: DatasetConfig) -> None:
    timed = [s.time is not None for s in config.sources]
    if any(timed) and not all(timed):
        missing = [i for i, t in enumerate(timed) if not t]
        raise ConfigError(
            "some sources have a time and others do not: events could not be ordered together",
            key=f"sources[{missing[0]}].time",
            fix="give `time` on every source, or on none (input order is then the order)",
        )


def _stem(path: Path) -> str:
    """A file's name without its extension and a ``.gz`` (``Beauty.txt.gz`` → ``Beauty``)."""
    return Path(path.name.removesuffix(".gz")).stem


def _action_map(
    config: DatasetConfig, loaded: Loaded
) -> tuple[dict[tuple[int, str | None], int], Counter[int]]:
    """(source, raw action) → canonical index for known actions; unknown events per source."""
    known: dict[tuple[int, str | None], int] = {}
    unknown: Counter[int] = Counter()
    for (src, raw), n in loaded.action_counts.items():
        spec = config.sources[src].action
        action = map_action(raw, spec)
        if action is None and spec.unknown == "other":
            action = "other"
        if action is None:
            unknown[src] += n
        else:
            known[(src, raw)] = CANONICAL_ACTIONS.index(action)
    return known, unknown


def ingest(
    path: str | Path,
    config: DatasetConfig | str | Path | dict[str, Any],
    out: str | Path,
    *,
    on_error: Literal["fail", "skip"] | None = None,
    overwrite: bool = False,
    threads: int | None = None,
) -> Dataset:
    """Read a raw behaviour log into a Dataset folder.

    Parameters
    ----------
    path:
        The input: a folder (each source's ``path`` in the config is resolved against it), or,
        for a one-source config, a file or a glob.
    config:
        A :class:`DatasetConfig`, a dict, a YAML file, or a preset name (``seqintent presets``).
    out:
        The Dataset folder to write.
    on_error:
        Overrides the config's ``on_error``: ``fail`` raises at the first bad row, ``skip``
        drops bad rows (counted by reason in ``stats.json``).
    overwrite:
        Replace an existing Dataset folder at ``out``.
    threads:
        DuckDB threads (default: all cores).

    Returns
    -------
    Dataset
        The written Dataset, opened.

    Raises
    ------
    ConfigError
        The config is invalid, or an ``expr`` does not work on the input.
    ColumnError
        The config names a column the input lacks (the message lists the closest ones).
    DataError
        A bad row under ``on_error: fail`` (naming file, line, column and value), a missing or
        unreadable file, or no event left after cleaning.
    ArtifactError
        ``out`` exists and ``overwrite`` is not set, or it is not a Dataset folder.

    Examples
    --------
    >>> ds = ingest("UserBehavior.csv", "taobao", "data/taobao")   # doctest: +SKIP
    >>> ds.stats["events_kept"]                                     # doctest: +SKIP
    """
    config = resolve_config(config)
    if on_error is not None:
        config = config.model_copy(update={"on_error": on_error})
    _check(config)
    base, inputs = resolve_inputs(path, config)
    side_files = {
        kind: side_table_files(base, spec.path, spec.format, kind, stem=_stem(inputs[0][0].path))
        for kind, spec in (("items", config.items), ("users", config.users))
        if spec is not None
    }
    every_file = [f for files in inputs for f in files] + [f for files in side_files.values() for f in files]
    with (
        DatasetWriter(out, overwrite=overwrite) as writer,
        tempfile.TemporaryDirectory(prefix=".seqintent-spill-", dir=writer.path.parent) as spill,
        closing(_connect(threads, Path(spill))) as con,
        ThreadPoolExecutor(max_workers=1) as hasher,
    ):
        # hashing reads each file once more; it overlaps the load (hashlib releases the GIL)
        described = {f.path: hasher.submit(f.describe) for f in dict.fromkeys(every_file)}
        loaded = load_events(con, config, inputs)
        side_tables, side_stats = {}, {}
        for kind, files in side_files.items():
            spec = config.items if kind == "items" else config.users
            assert spec is not None
            side_tables[kind], side_stats[kind] = load_side_table(con, spec, files, kind, config.on_error)
        if "items" in side_tables:
            fill_categories(con, side_tables["items"], loaded)
        action_map, unknown = _action_map(config, loaded)
        has_time = config.sources[0].time is not None
        events = fetch_sorted(
            con,
            loaded.types,
            action_map,
            has_time=has_time,
            multi_source=len(config.sources) > 1,
            loaded_rows=loaded.n_rows,
        )
        built = assemble(config, events)  # consumes `events`
        del events
        stats = build_stats(config, loaded, unknown, built, side_stats)
        if not len(built.kept):
            raise DataError(
                f"no event is left: {stats['events_read']} read, dropped "
                + ", ".join(f"{r}: {n}" for r, n in stats["dropped"].items() if n),
                file=str(path),
                fix="check the config's mapping and cleaning settings against the data",
            )
        write_events(con, writer.events_path, loaded, built.rows, built)
        writer.add_sequences(SequenceArrays(built.offsets, built.fields))
        for name, vocab in built.vocabs.items():
            writer.add_vocab(name, vocab)
        for kind, table in side_tables.items():
            _write_side_table(con, writer, kind, table, built.vocabs)
        source = _source_record(path, loaded, side_files, described)
        return writer.finish(
            config=config,
            source=source,
            has_time=has_time,
            stats=stats,
            extra={"engine": {"name": "duckdb", "version": duckdb.__version__}},
        )


def _write_side_table(
    con: duckdb.DuckDBPyConnection,
    writer: DatasetWriter,
    kind: str,
    table: str,
    vocabs: dict[str, Vocabulary],
) -> None:
    if kind == "items":
        key, index, vocab, target = (
            Columns.ITEM,
            Columns.ITEM_INDEX,
            Vocabularies.ITEMS,
            DatasetFiles.ITEMS_TABLE,
        )
    else:
        key, index, vocab, target = (
            Columns.USER,
            Columns.USER_INDEX,
            Vocabularies.USERS,
            DatasetFiles.USERS_TABLE,
        )
    values = vocabs[vocab]
    write_side_table(con, table, key, index, values.values, writer.table_path(target), padded=values.padded)


def _source_record(
    path: str | Path, loaded: Loaded, side_files: dict[str, list[InputFile]], described: dict[Path, Future]
) -> dict[str, Any]:
    """The manifest's ``source``: the path given, then every file read with its size and SHA-256."""
    return {
        "path": str(path),
        "files": [
            dict(described[f.file.path].result(), source=f.source, format=f.file.format) for f in loaded.files
        ],
        **{
            kind: [dict(described[f.path].result(), format=f.format) for f in files]
            for kind, files in side_files.items()
        },
    }
