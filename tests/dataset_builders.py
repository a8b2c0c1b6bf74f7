"""Build small Dataset folders from arrays, in the exact format ingest writes (for tests).

``build_dataset`` takes events already in time order per user (users may interleave) and writes
``events.parquet``, the sequence arrays, vocabularies, stats and manifest with DatasetWriter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.data import Dataset, DatasetWriter, SequenceArrays, Vocabulary
from seqintent.schema.actions import ACTION_FAMILY
from seqintent.schema.columns import Columns, DatasetFiles, SequenceFields, Splits, Vocabularies
from seqintent.schema.config import DatasetConfig

SESSION_GAP_S = 1800.0


def _vocab(values: np.ndarray, padded: bool) -> tuple[list[str | None], np.ndarray]:
    """Vocabulary in order of first appearance, and each value's index."""
    uniq, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[order] = np.arange(len(uniq))
    names = [str(v) for v in uniq[order]]
    index = rank[inverse] + (1 if padded else 0)
    return ([None] if padded else []) + names, index


def build_dataset(
    out: str | Path,
    *,
    user: Any,
    item: Any,
    action: Any = None,
    ts_ms: Any = None,
    category: Any = None,
    dwell_s: Any = None,
    split: Any = None,
    name: str = "fixture",
    timezone: str = "UTC",
    item_attributes: dict[str, list[str]] | None = None,
) -> Dataset:
    """Write a Dataset folder from per-event arrays and open it.

    ``item`` uses ``""`` for events without an item; ``action`` defaults to ``view``; ``split``
    (per event: "train" / "valid" / "test") makes a ``given`` split, else leave-one-out (last
    event → test, second to last → valid, for users with at least 3 events). ``item_attributes``
    (item → list of values) writes the item table ``items.parquet`` with an ``attributes`` column.
    """
    user = np.asarray(user).astype(str)
    item = np.asarray(item).astype(str)
    n = len(user)
    action = np.full(n, "view") if action is None else np.asarray(action).astype(str)
    user_values, user_index = _vocab(user, padded=False)
    order = np.lexsort((np.arange(n), user_index))  # by user, stable in time order
    user, item, action, user_index = user[order], item[order], action[order], user_index[order]
    ts = None if ts_ms is None else np.asarray(ts_ms, dtype=np.int64)[order]
    cat = None if category is None else np.asarray(category).astype(str)[order]
    dwell = None if dwell_s is None else np.asarray(dwell_s, dtype=np.float32)[order]

    has_item = item != ""
    item_values, item_idx = _vocab(item[has_item], padded=True)
    item_index = np.zeros(n, dtype=np.int32)
    item_index[has_item] = item_idx
    action_values, action_index = _vocab(action, padded=True)
    cat_values: list[str | None] = [None]
    cat_index = np.zeros(n, dtype=np.int32)
    if cat is not None:
        has_cat = cat != ""
        cat_values, ci = _vocab(cat[has_cat], padded=True)
        cat_index[has_cat] = ci

    counts = np.bincount(user_index, minlength=len(user_values))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    first = np.zeros(n, dtype=bool)
    first[offsets[:-1][counts > 0]] = True
    gap = np.full(n, np.nan, dtype=np.float32)
    session = np.zeros(n, dtype=np.int32)
    if ts is not None:
        diff = np.diff(ts, prepend=ts[:1]) / 1000.0
        gap = np.where(first, np.nan, diff).astype(np.float32)
        new = first | (gap > SESSION_GAP_S)
        run = np.cumsum(new)
        session = (run - run[offsets[:-1]][np.repeat(np.arange(len(counts)), counts)]).astype(np.int32)
    if split is None:
        split_kind = "leave_one_out"
        codes = np.zeros(n, dtype=np.int8)
        big = np.flatnonzero(counts >= 3)
        codes[offsets[big + 1] - 1] = Splits.TEST
        codes[offsets[big + 1] - 2] = Splits.VALID
    else:
        split_kind = "given"
        codes = np.array([Splits.code(s) for s in np.asarray(split).astype(str)[order]], dtype=np.int8)

    fields = {
        SequenceFields.ITEM: item_index,
        SequenceFields.ACTION: action_index.astype(np.int16),
        SequenceFields.CATEGORY: cat_index,
        SequenceFields.GAP: gap,
        SequenceFields.SESSION: session,
        SequenceFields.SPLIT: codes,
    }
    if ts is not None:
        fields[SequenceFields.TIME] = ts
    if dwell is not None:
        fields[SequenceFields.DWELL] = dwell

    sources: list[dict[str, Any]] = [
        {"path": "fixture.csv", "user_id": "user", "item_id": "item", "action": {"column": "action"}}
    ]
    if ts is not None:
        sources[0]["time"] = {"column": "ts", "unit": "ms", "timezone": timezone}
    if split_kind == "given":
        sources = [dict(sources[0], split=s) for s in ("train", "test")]
    config = DatasetConfig.model_validate({"name": name, "sources": sources, "split": {"kind": split_kind}})

    writer = DatasetWriter(out, overwrite=True)
    table = {
        Columns.USER: pa.array(user),
        Columns.TIME: pa.array(ts if ts is not None else np.zeros(n, np.int64)).cast(
            pa.timestamp("ms", tz="UTC")
        )
        if ts is not None
        else pa.nulls(n, pa.timestamp("ms", tz="UTC")),
        Columns.ACTION: pa.array(action),
        Columns.ACTION_RAW: pa.array(action),
        Columns.ITEM: pa.array(np.where(has_item, item, None).tolist(), pa.string()),
        Columns.CATEGORY: pa.array(
            None if cat is None else np.where(cat != "", cat, None).tolist(), pa.string()
        )
        if cat is not None
        else pa.nulls(n, pa.string()),
        Columns.INPUT_ORDER: pa.array(order.astype(np.int64)),
        Columns.GAP: pa.array(gap),
        Columns.SESSION_INDEX: pa.array(session),
        Columns.SPLIT: pa.array([Splits.NAMES[c] for c in codes]),
        Columns.EVENT_INDEX: pa.array(np.arange(n, dtype=np.int64)),
    }
    pq.write_table(pa.table(table), writer.events_path)
    writer.add_sequences(SequenceArrays(offsets, fields))
    writer.add_vocab(Vocabularies.USERS, Vocabulary(user_values, counts, padded=False))
    writer.add_vocab(
        Vocabularies.ITEMS,
        Vocabulary(item_values, np.bincount(item_index, minlength=len(item_values)), padded=True),
    )
    writer.add_vocab(
        Vocabularies.ACTIONS,
        Vocabulary(
            action_values,
            np.bincount(action_index, minlength=len(action_values)),
            padded=True,
            extra={"family": [None] + [ACTION_FAMILY[a] for a in action_values[1:]]},
        ),
    )
    writer.add_vocab(
        Vocabularies.CATEGORIES,
        Vocabulary(cat_values, np.bincount(cat_index, minlength=len(cat_values)), padded=True),
    )
    writer.add_vocab(Vocabularies.DEVICES, Vocabulary([None], [0], padded=True))
    stats = {
        "events": {"read": n, "kept": n, "dropped": {}},
        "users": len(user_values),
        "items": len(item_values) - 1,
    }
    if item_attributes is not None:
        index = {v: i for i, v in enumerate(item_values) if v is not None}
        names = list(item_attributes)
        table = pa.table(
            {
                Columns.ITEM: names,
                Columns.ITEM_INDEX: pa.array([index.get(v) for v in names], pa.int32()),
                "attributes": [item_attributes[v] for v in names],
            }
        )
        pq.write_table(table, writer.table_path(DatasetFiles.ITEMS_TABLE))
    return writer.finish(
        config=config, source={"files": ["fixture.csv"]}, has_time=ts is not None, stats=stats
    )


def sequences_dataset(out: str | Path, sequences: list[list[str]], name: str = "fixture") -> Dataset:
    """A Dataset of one user per sequence of item names (user ``u<index>``), events in list order,
    split leave-one-out."""
    user = [f"u{u}" for u, items in enumerate(sequences) for _ in items]
    item = [value for items in sequences for value in items]
    return build_dataset(out, user=user, item=item, name=name)


def walk_dataset(
    out: str | Path,
    *,
    users: int = 300,
    groups: int = 8,
    length: int = 10,
    seed: int = 0,
    with_time: bool = True,
) -> Dataset:
    """An order-dependent pattern: each user walks A B C B A B C … within one group of 3 items.

    After ``B`` the next item depends on the one before it (A → B → C, C → B → A), so popularity
    (all items equally frequent) and item-kNN (the group's items always co-occur) cannot tell what
    comes next, a first-order Markov chain is right half the time after B, and a sequence model
    can be right every time.
    """
    rng = np.random.default_rng(seed)
    walk = np.array([0, 1, 2, 1])  # A B C B, repeated
    user, item, ts = [], [], []
    for u in range(users):
        g = rng.integers(groups)
        phase = rng.integers(4)
        steps = walk[(phase + np.arange(length)) % 4]
        user += [f"u{u}"] * length
        item += [f"g{g}i{s}" for s in steps]
        ts += list(1_700_000_000_000 + u * 1000 + np.cumsum(rng.integers(5_000, 600_000, length)))
    return build_dataset(out, user=user, item=item, ts_ms=ts if with_time else None, name="walk")
