"""Helpers shared by the anomaly benchmarks."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from seqintent.data import Dataset
from seqintent.models import NextItemConfig, NextItemModel
from seqintent.train import train_next_item

SHARED = Path(
    os.environ.get("SEQINTENT_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)


def trained_model(
    dataset: Dataset, config: dict[str, Any], work: Path, cache_key: str = ""
) -> tuple[NextItemModel, bool]:
    """Train a next-item model, or reuse the one a previous run left in ``work`` for the same
    config, Dataset and ``cache_key`` (what else decides the training data, e.g. a seeded subset), so a
    rerun with ``--work`` skips training. Returns (model, reused)."""
    key = hashlib.sha256(
        json.dumps(
            {"config": config, "dataset": dataset.manifest.get("source"), "extra": cache_key},
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:12]
    path = work / f"model-{key}"
    if (path / "manifest.json").is_file():
        return NextItemModel.from_pretrained(path), True
    model = train_next_item(dataset, NextItemConfig.load(config))
    model.save_pretrained(path, overwrite=True)
    return model, False
