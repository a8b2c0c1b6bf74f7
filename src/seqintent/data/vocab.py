"""Vocabularies: raw values ↔ dense integer indices, stored as Parquet."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.errors import ArtifactError


class Vocabulary:
    """An ordered list of raw values; a value's index is its position.

    Parameters
    ----------
    values:
        Raw values as text, in index order. With ``padded``, index 0 is the padding / "none" entry
        and ``values[0]`` is ignored (stored as null).
    counts:
        Number of kept events per value (same length as ``values``).
    padded:
        Whether index 0 is reserved.
    extra:
        Further per-value columns (e.g. the action ``family``).

    Examples
    --------
    >>> v = Vocabulary(["", "apple", "pear"], counts=[0, 3, 1], padded=True)
    >>> v.index_of("pear"), v.value_of(1), len(v)
    (2, 'apple', 3)
    """

    def __init__(
        self,
        values: Sequence[str | None],
        counts: Sequence[int] | np.ndarray | None = None,
        *,
        padded: bool,
        extra: dict[str, Sequence[Any]] | None = None,
    ) -> None:
        self.values = [
            None if (padded and i == 0) else (None if v is None else str(v)) for i, v in enumerate(values)
        ]
        self.counts = (
            np.zeros(len(self.values), dtype=np.int64) if counts is None else np.asarray(counts, np.int64)
        )
        if len(self.counts) != len(self.values):
            raise ValueError(f"counts has {len(self.counts)} entries for {len(self.values)} values")
        self.padded = padded
        self.extra = {k: list(v) for k, v in (extra or {}).items()}
        self._lookup: dict[str, int] | None = None

    def __len__(self) -> int:
        """Number of indices, padding included (the embedding table size)."""
        return len(self.values)

    @property
    def n_real(self) -> int:
        """Number of real values (padding excluded)."""
        return len(self.values) - (1 if self.padded else 0)

    def _table(self) -> dict[str, int]:
        if self._lookup is None:
            self._lookup = {v: i for i, v in enumerate(self.values) if v is not None}
        return self._lookup

    def index_of(self, value: str, default: int | None = None) -> int:
        """Index of a raw value; ``default`` (or KeyError) when unknown."""
        idx = self._table().get(str(value))
        if idx is None:
            if default is not None:
                return default
            raise KeyError(value)
        return idx

    def indices_of(self, values: Iterable[str], default: int = 0) -> np.ndarray:
        """Indices of many raw values, ``default`` for unknown ones."""
        table = self._table()
        return np.fromiter((table.get(str(v), default) for v in values), dtype=np.int64)

    def value_of(self, index: int) -> str | None:
        return self.values[index]

    def __contains__(self, value: object) -> bool:
        return str(value) in self._table()

    def save(self, path: Path) -> None:
        columns = {
            "index": pa.array(np.arange(len(self.values), dtype=np.int32)),
            "value": pa.array(self.values, type=pa.string()),
            "count": pa.array(self.counts, type=pa.int64()),
        }
        for name, column in self.extra.items():
            columns[name] = pa.array(column)
        pq.write_table(pa.table(columns), path, compression="zstd")

    @classmethod
    def load(cls, path: Path, *, padded: bool) -> Vocabulary:
        if not path.is_file():
            raise ArtifactError("vocabulary file is missing", file=str(path))
        table = pq.read_table(path)
        missing = {"index", "value", "count"} - set(table.column_names)
        if missing:
            raise ArtifactError(f"vocabulary lacks columns {sorted(missing)}", file=str(path))
        index = table.column("index").to_numpy()
        if not np.array_equal(index, np.arange(len(index))):
            raise ArtifactError("vocabulary indices are not 0..n-1 in order", file=str(path))
        extra = {
            n: table.column(n).to_pylist() for n in table.column_names if n not in ("index", "value", "count")
        }
        return cls(
            table.column("value").to_pylist(), table.column("count").to_numpy(), padded=padded, extra=extra
        )
