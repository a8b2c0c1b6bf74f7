"""A Runtime with every answer: the research model (intent heads) exported with an anomaly model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq


def online_events(dataset: Any, user: str) -> list[dict[str, Any]]:
    """A user's cleaned events of a Dataset as online events (canonical dicts), oldest first."""
    table = pq.read_table(dataset.path / "events.parquet").to_pylist()
    rows = sorted((r for r in table if str(r["user_id"]) == user), key=lambda r: (r["ts"], r["input_order"]))
    out = []
    for r in rows:
        event = {"user_id": str(r["user_id"]), "ts": round(r["ts"].timestamp() * 1000), "action": r["action"]}
        for key in ("item_id", "category", "dwell_s"):
            if r.get(key) is not None:
                event[key] = str(r[key]) if key != "dwell_s" else float(r[key])
        out.append(event)
    # the events table leaves dwell to the sequence arrays: read it there, in the same order
    if "dwell_s" in dataset.sequences:
        u = dataset.vocab("users").index_of(user)
        lo, hi = dataset.sequences.offsets[u], dataset.sequences.offsets[u + 1]
        assert hi - lo == len(out)
        for event, dwell in zip(out, np.asarray(dataset.sequences["dwell_s"])[lo:hi].tolist(), strict=True):
            if dwell == dwell:  # not NaN
                event["dwell_s"] = float(dwell)
    return out


def export_with_anomaly(research: tuple, root: Path) -> Path:
    """Fit an anomaly model on the research Dataset and export the research model with it."""
    from seqintent.anomaly import AnomalyDetector
    from seqintent.runtime import export_runtime

    dataset, _, _, folder = research
    AnomalyDetector().fit(dataset).save(root / "anomaly")
    return export_runtime(folder, root / "model.runtime", anomaly=root / "anomaly")
