"""``seqintent stats``: a Dataset's counts, as a dict and as readable text."""

from __future__ import annotations

from typing import Any

from seqintent.data.dataset import Dataset
from seqintent.schema.actions import ACTION_FAMILY
from seqintent.schema.columns import Splits


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """The Dataset's ``stats.json`` with its name, path and split kind.

    Keys include ``events_read``, ``events_kept``, ``dropped`` (reason → count), ``users``,
    ``items``, ``categories``, ``sessions``, ``actions`` (action → count), ``splits``,
    ``sequence_length`` (percentiles), ``time_range`` and ``sources`` (the same per source).
    """
    return {
        "name": dataset.name,
        "path": str(dataset.path),
        "split_kind": dataset.split_kind,
        **dataset.stats,
    }


def _n(value: int) -> str:
    return f"{value:,}"


def format_stats(stats: dict[str, Any]) -> str:
    """The stats as a short human-readable report."""
    # Datasets built by other tools may carry fewer keys: show what is there
    read, kept = stats.get("events_read", 0), stats.get("events_kept", 0)
    actions = stats.get("actions", {})
    lines = [
        f"dataset   {stats.get('name', '?')}  ({stats.get('path', '')})",
        f"events    {_n(kept)} kept of {_n(read)} read ({100.0 * kept / read if read else 0.0:.1f}%)",
        f"users     {_n(stats.get('users', 0))}",
        f"items     {_n(stats.get('items', 0))}   categories {_n(stats.get('categories', 0))}   "
        f"sessions {_n(stats.get('sessions', 0))}",
    ]
    total = sum(actions.values()) or 1
    mix = ", ".join(
        f"{a} {100.0 * n / total:.1f}%" for a, n in sorted(actions.items(), key=lambda kv: -kv[1])
    )
    lines.append(f"actions   {mix}")
    families: dict[str, int] = {}
    for action, n in actions.items():
        families[ACTION_FAMILY.get(action, "other")] = families.get(ACTION_FAMILY.get(action, "other"), 0) + n
    lines.append("families  " + ", ".join(f"{f} {100.0 * n / total:.1f}%" for f, n in families.items()))
    length = stats.get("sequence_length") or {}
    if length:
        lines.append(
            "length    "
            + "  ".join(f"{k} {length[k]:g}" for k in ("min", "p5", "p25", "p50", "p75", "p95", "p99", "max"))
            + f"  (mean {length['mean']:g})"
        )
    time_range = stats.get("time_range")
    lines.append(
        f"time      {time_range['start']} .. {time_range['end']}"
        if time_range
        else "time      none (input order)"
    )
    splits = stats.get("splits", {})
    lines.append(
        f"split     {stats.get('split_kind', '')}: "
        + ", ".join(f"{k} {_n(splits.get(k, 0))}" for k in Splits.NAMES)
    )
    dropped = {r: n for r, n in stats.get("dropped", {}).items() if n}
    if dropped:
        lines.append("dropped   " + ", ".join(f"{r} {_n(n)}" for r, n in dropped.items()))
    else:
        lines.append("dropped   none")
    return "\n".join(lines)
