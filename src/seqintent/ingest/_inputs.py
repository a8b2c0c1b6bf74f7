"""Which files to read: the config argument, the input path (file, glob or folder), formats."""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqintent.errors import ConfigError, DataError, close_names
from seqintent.schema.config import DatasetConfig, load_config
from seqintent.schema.presets import load_preset

_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_HASH_CHUNK = 1 << 22


def resolve_config(config: DatasetConfig | str | Path | dict[str, Any]) -> DatasetConfig:
    """A :class:`DatasetConfig` from a config object, a dict, a YAML path or a preset name."""
    if isinstance(config, DatasetConfig):
        return config
    if isinstance(config, dict):
        return load_config(config)
    text = str(config)
    if Path(text).is_file() or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_config(Path(text))
    return load_preset(text)


@dataclass(frozen=True)
class InputFile:
    """One file to read, with the format it is read as."""

    path: Path
    format: str

    def describe(self) -> dict[str, Any]:
        """Path, size and SHA-256 of the content (recorded in the manifest)."""
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
        return {"path": str(self.path), "size": self.path.stat().st_size, "sha256": digest.hexdigest()}


def detect_format(path: Path, declared: str) -> str:
    """The format a file is read as: the declared one, else by extension (``.gz`` ignored)."""
    if declared != "auto":
        return declared
    name = path.name.lower().removesuffix(".gz")
    return _EXTENSIONS.get(Path(name).suffix, "csv")


def _expand(pattern: str, key: str) -> list[Path]:
    if glob.has_magic(pattern):
        files = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(
                "no file matches the pattern", file=pattern, key=key, fix="check the path and the glob"
            )
        return files
    path = Path(pattern)
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("*"))[:50] if path.parent.is_dir() else []
        raise DataError(
            "input file not found",
            file=str(path),
            key=key,
            candidates=close_names(path.name, near) if near else None,
            fix="give the folder that holds the files named in the config, or the file itself",
        )
    return [path]


def resolve_inputs(path: str | Path, config: DatasetConfig) -> tuple[Path, list[list[InputFile]]]:
    """The base folder and, per source, its files in reading order (sorted glob matches).

    ``path`` is a folder (each source's ``path`` is resolved against it), a file or a glob (the one
    source of a one-source config; side tables are then resolved against its folder).

    Raises
    ------
    ConfigError
        A file or glob was given for a config with several sources.
    DataError
        No file matches.
    """
    text = str(path)
    given = Path(text)
    if given.is_dir():
        base = given
        patterns = [_under(base, s.path) for s in config.sources]
    elif given.is_file() or glob.has_magic(text):
        if len(config.sources) != 1:
            raise ConfigError(
                f"a single file or glob was given, but the config has {len(config.sources)} sources",
                key="sources",
                value=text,
                fix="give the folder that holds the files named in the config's sources[*].path",
            )
        base = given.parent if given.is_file() else _glob_root(text)
        patterns = [text]
    else:
        raise DataError("input path not found", file=text, fix="give an existing file, glob or folder")
    files = []
    for i, (source, pattern) in enumerate(zip(config.sources, patterns, strict=True)):
        expanded = _expand(pattern, f"sources[{i}].path")
        files.append([InputFile(p, detect_format(p, source.format)) for p in expanded])
    return base, files


def side_table_files(base: Path, pattern: str, declared: str, key: str, stem: str) -> list[InputFile]:
    """Files of an item or user side table, resolved against the base folder.

    ``{stem}`` in the pattern is ``stem``, the name of the first events file without its extension,
    so one preset serves a folder of datasets that each have their own side file
    (``Beauty.txt`` with ``Beauty_item2attributes.json``).
    """
    pattern = pattern.replace("{stem}", stem)
    return [InputFile(p, detect_format(p, declared)) for p in _expand(_under(base, pattern), key)]


def _under(base: Path, pattern: str) -> str:
    return pattern if Path(pattern).is_absolute() else str(base / pattern)


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    first_magic = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    return Path(*parts[:first_magic]) if first_magic else Path(".")
