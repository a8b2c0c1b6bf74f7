"""Helpers for ingest tests: write a tiny log, ingest it, read the arrays back.

Helpers live in this module rather than a conftest.py: test folders are not packages, and two
``conftest`` modules would clash on import.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.ingest import ingest


def source(**overrides: Any) -> dict[str, Any]:
    """A CSV source with columns user,ts,action,item (epoch seconds), overridable."""
    base: dict[str, Any] = {
        "path": "log.csv",
        "user_id": "user",
        "item_id": "item",
        "time": {"column": "ts", "unit": "s"},
        "action": {"column": "action"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def config(*sources: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A dataset config; cleaning defaults to 'off' so each test turns on only the rule it checks."""
    cleaning = {"dedup_within_s": None, "min_dwell_s": None}
    cleaning.update(top.pop("cleaning", {}))
    return {"name": "t", "sources": list(sources) or [source()], "cleaning": cleaning, **top}


class Run:
    """Writes input files under a temporary folder and ingests them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0

    def write(self, name: str, text: str | bytes, *, gz: bool = False) -> Path:
        path = self.root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode() if isinstance(text, str) else text
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        return path

    def __call__(self, cfg: dict[str, Any], path: Path | str | None = None, **kwargs: Any) -> Dataset:
        self.n += 1
        while (self.root / f"ds{self.n}").exists():  # hypothesis reuses the temporary folder
            self.n += 1
        return ingest(path or self.root / "in", cfg, self.root / f"ds{self.n}", **kwargs)


def arrays(ds: Dataset) -> dict[str, list[Any]]:
    """Every sequence array (and offsets) as plain lists; floats rounded, NaN as None."""
    out: dict[str, list[Any]] = {"offsets": np.asarray(ds.sequences.offsets).tolist()}
    for name in ds.fields:
        arr = np.asarray(ds.sequences[name])
        if arr.dtype.kind == "f":
            out[name] = [None if np.isnan(v) else round(float(v), 3) for v in arr]
        else:
            out[name] = arr.tolist()
    return out


def values(ds: Dataset, vocab: str, field: str) -> list[Any]:
    """The raw values of a per-event vocabulary field (None for index 0)."""
    v = ds.vocab(vocab)
    return [v.value_of(int(i)) for i in np.asarray(ds.sequences[field])]


def users(ds: Dataset) -> list[str]:
    """The raw user id of every event."""
    v = ds.vocab("users")
    return [v.value_of(int(u)) for u in ds.sequences.user_ids()]


def dropped(ds: Dataset) -> dict[str, int]:
    """Non-zero drop counts."""
    return {k: v for k, v in ds.stats["dropped"].items() if v}
