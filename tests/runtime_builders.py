"""Build a small trained model and its Runtime folder, for the runtime and service tests.

``rich_events`` writes a log that exercises every token feature: several actions of several
families (a search without item), categories, dwell times with gaps, sub-second to multi-day time
gaps, and a time zone with a daylight-saving change inside the log (Europe/Paris, 31 March 2024).
Items follow the order-dependent walk of ``walk_dataset`` (A B C B A B C ...) within a group, so
a trained model has something real to learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.models import NextItemConfig
from seqintent.train import train_next_item
from tests.dataset_builders import build_dataset

TIMEZONE = "Europe/Paris"
START_MS = 1_711_828_800_000  # 2024-03-30 20:00 UTC: the clocks in Paris go forward 5 hours later
ACTIONS = ["view"] * 6 + ["click", "cart", "fav", "buy", "search"]
DWELLS = [np.nan, 0.2, 2.5, 40.0, 700.0]
GAPS_MS = [400, 3_000, 90_000, 2_000_000, 30_000_000, 200_000_000]

SMALL = {"hidden": 16, "heads": 2, "layers": 2, "max_len": 12, "dropout": 0.1}
TRAIN = {"epochs": 4, "threads": 1, "batch_size": 32, "patience": 5, "seed": 0}
VARIANTS = {
    "plain": {"model": SMALL, "train": TRAIN},
    "full": {
        "model": SMALL
        | {
            "time_bias": True,
            "repeat_head": True,
            "truncation": "importance",
            "important_slots": 4,
            "item_scores": "cosine",
            "readout": "items",
            "neighbour_prior": 8,
            "item_attributes": ["attributes"],
        },
        "train": TRAIN | {"epochs": 2},  # its tests check parity, not what it learned
    },
}


def rich_events(users: int = 60, length: int = 30, groups: int = 6, seed: int = 0) -> list[dict[str, Any]]:
    """Online events (canonical dicts with ``event_id``), per user in time order, users one after another."""
    rng = np.random.default_rng(seed)
    walk = [0, 1, 2, 1]
    events = []
    for u in range(users):
        g, phase, t = int(rng.integers(groups)), int(rng.integers(4)), START_MS + u * 60_000
        for step in range(length):
            t += int(rng.choice(GAPS_MS))
            action = str(rng.choice(ACTIONS))
            event: dict[str, Any] = {
                "event_id": f"u{u}-{step}",
                "user_id": f"u{u}",
                "ts": t,
                "action": action,
            }
            if action != "search":
                event["item_id"] = f"g{g}i{walk[phase % 4]}"
                event["category"] = f"c{g}"
                phase += 1
            dwell = float(rng.choice(DWELLS))
            if np.isfinite(dwell):
                event["dwell_s"] = dwell
            events.append(event)
    return events


def dataset_of(events: list[dict[str, Any]], out: Path) -> Dataset:
    """The Dataset folder of online events (in their order), as ingest would write it."""
    return build_dataset(
        out,
        user=[e["user_id"] for e in events],
        item=[e.get("item_id", "") for e in events],
        action=[e["action"] for e in events],
        ts_ms=[e["ts"] for e in events],
        category=[e.get("category", "") for e in events],
        dwell_s=[e.get("dwell_s", np.nan) for e in events],
        name="rich",
        timezone=TIMEZONE,
        # the group and the step of the walk, for the variants that embed item attributes
        item_attributes={
            e["item_id"]: [e["category"], "step" + e["item_id"][-1]] for e in events if "item_id" in e
        },
    )


def trained_model(root: Path, variant: str) -> tuple[Dataset, list[dict[str, Any]], Path]:
    """Train a small model of a variant on the rich log: (Dataset, its online events, Model folder)."""
    events = rich_events()
    ds = dataset_of(events, root / "dataset")
    out = root / f"model-{variant}"
    train_next_item(ds, NextItemConfig.load(VARIANTS[variant]), out=out)
    return ds, events, out


@dataclass
class Exported:
    """A trained model of the rich log and its Runtime folder."""

    dataset: Dataset
    events: list[dict[str, Any]]
    model: Path
    runtime: Path


_BUILT: dict[str, Exported] = {}


def exported_model(variant: str, root: Callable[[str], Path]) -> Exported:
    """Train and export a variant once per process (``root(name)`` gives a fresh folder)."""
    if variant not in _BUILT:
        from seqintent.runtime import export_runtime

        ds, events, model = trained_model(root(f"runtime-{variant}"), variant)
        _BUILT[variant] = Exported(ds, events, model, export_runtime(model, int8=True))
    return _BUILT[variant]
