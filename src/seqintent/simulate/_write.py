"""Writing a simulated log (CSV / JSONL / Parquet) and its ground-truth folder, byte for byte reproducibly."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from seqintent.errors import ArtifactError, ConfigError
from seqintent.schema.columns import MANIFEST_KIND_SIMULATION, SimulationFiles

FORMATS = ("csv", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_ROW_GROUP = 1 << 20


def format_of(path: Path, file_format: str | None) -> str:
    """The log format: ``file_format`` if given, else from the extension of ``path``.

    Raises
    ------
    ConfigError
        If the format is unknown or cannot be told from the extension.
    """
    if file_format is not None:
        if file_format not in FORMATS:
            raise ConfigError("unknown log format", key="format", value=file_format, candidates=FORMATS)
        return file_format
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ConfigError(
            "cannot tell the log format from the file name",
            file=str(path),
            value=path.suffix or "(no extension)",
            candidates=sorted(_EXTENSIONS),
            fix="end the output name with .csv, .jsonl or .parquet, or pass --format csv|jsonl|parquet",
        )
    return found


def truth_path(log_path: str | Path) -> Path:
    """The ground-truth folder of a log file: ``<log file>.truth/``."""
    log_path = Path(log_path)
    return log_path.with_name(log_path.name + SimulationFiles.TRUTH_SUFFIX)


def write_log(table: pa.Table, path: Path, file_format: str) -> None:
    """Write the log atomically (a temporary file renamed into place)."""
    if path.is_dir():
        raise ConfigError(
            "the output is a folder; expected a file name", file=str(path), fix="pass -o FILE.csv"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the log is an ordinary file
    try:
        if file_format == "csv":
            pacsv.write_csv(table, tmp)
        elif file_format == "parquet":
            pq.write_table(table, tmp, compression="zstd", row_group_size=_ROW_GROUP)
        else:
            _write_jsonl(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_jsonl(table: pa.Table, path: Path) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.register("simulated_log", table)
        target = str(path).replace("'", "''")
        con.execute(f"COPY (SELECT * FROM simulated_log) TO '{target}' (FORMAT json)")
    finally:
        con.close()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_truth(folder: Path, tables: dict[str, pa.Table], manifest: dict[str, Any]) -> None:
    """Write the truth tables (Parquet) and ``truth.json`` into ``folder``, replacing an older truth folder.

    Raises
    ------
    ArtifactError
        If ``folder`` exists and is not a simulator truth folder (it is never deleted then).
    """
    if folder.exists():
        marker = folder / SimulationFiles.MANIFEST
        kind = None
        if marker.is_file():
            try:
                kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
            except (json.JSONDecodeError, AttributeError):
                kind = None
        if not folder.is_dir() or kind != MANIFEST_KIND_SIMULATION:
            raise ArtifactError(
                "refusing to replace something that is not a simulator truth folder",
                file=str(folder),
                fix="remove it or choose another output file name",
            )
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        for name, table in tables.items():
            pq.write_table(table, tmp / SimulationFiles.table_file(name), compression="zstd")
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (tmp / SimulationFiles.MANIFEST).write_text(text, encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
