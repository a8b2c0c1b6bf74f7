"""Item attributes as codes the network embeds: each item's brand, categories, tags, … from the
Dataset's item table (``items.parquet``).

An item seen a handful of times learns little on its own; items that share a brand or a category
share what their attribute embeddings learn. Each named attribute column may hold one value or a
list per item (the S3-Rec files list categories and a brand per item). Values are coded
``"name=value"`` (the same value in two columns is two codes), most frequent first; code 0 is "none".
Items absent from the table, or the padding item, have no attribute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqintent.data import Dataset
from seqintent.errors import ConfigError, close_names
from seqintent.schema.columns import Columns, Vocabularies


@dataclass(frozen=True)
class ItemAttributeCodes:
    """``codes`` [n_items, slots] int32 (0 = none) and the number of codes, padding included."""

    codes: np.ndarray
    n_values: int

    @property
    def slots(self) -> int:
        return int(self.codes.shape[1])


def item_attribute_codes(ds: Dataset, names: Sequence[str], slots: int) -> ItemAttributeCodes | None:
    """Codes of the item-table attributes ``names`` for every item of ``ds`` (None without names).

    An item keeps its first ``slots`` values in table order (columns in the order named).

    Raises
    ------
    ConfigError
        The Dataset has no item table, or it lacks a named column (the message lists its columns).
    """
    if not names:
        return None
    table = ds.items_table()
    if table is None:
        raise ConfigError(
            "model.item_attributes names item attributes, but the Dataset has no item table",
            key="model.item_attributes",
            value=list(names),
            fix="ingest with an `items:` side table (see the s3rec preset), or set model.item_attributes: []",
        )
    columns = [c for c in table.column_names if c not in (Columns.ITEM, Columns.ITEM_INDEX)]
    for name in names:
        if name not in columns:
            raise ConfigError(
                f"the Dataset's item table has no attribute {name!r} (it has {columns})",
                key="model.item_attributes",
                value=name,
                candidates=close_names(name, columns),
                fix="name columns of the item table (items.parquet)",
            )
    index = table.column(Columns.ITEM_INDEX).to_pylist()  # None: an item the events never name
    per_item: list[list[str]] = [[] for _ in range(len(index))]
    for name in names:
        for row, value in enumerate(table.column(name).to_pylist()):
            values = value if isinstance(value, list) else [value]
            per_item[row].extend(f"{name}={v}" for v in values if v is not None)
    known = [row for row, item in enumerate(index) if item is not None]
    counts = Counter(v for row in known for v in dict.fromkeys(per_item[row]))
    vocabulary = {v: code for code, (v, _) in enumerate(sorted(counts.items(), key=lambda kv: -kv[1]), 1)}
    codes = np.zeros((len(ds.vocab(Vocabularies.ITEMS)), slots), dtype=np.int32)
    for row in known:
        kept = [vocabulary[v] for v in dict.fromkeys(per_item[row])][:slots]
        codes[index[row], : len(kept)] = kept
    return ItemAttributeCodes(codes, len(vocabulary) + 1)
