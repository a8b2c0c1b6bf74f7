"""Vocabularies that do not depend on the order of the input rows.

Items, categories and devices: by descending count of kept events, ties by raw id (numeric order
when every id is an integer, else text order); index 0 is padding. Actions: the canonical taxonomy
order, present actions only, with their family. Users: by raw id (numeric order when every id is an
integer), 0-based.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.data.vocab import Vocabulary
from seqintent.schema.actions import ACTION_FAMILY, CANONICAL_ACTIONS


def id_text(values: pa.Array) -> list[str]:
    """Raw ids as the text stored in vocabularies (integers without a decimal point)."""
    if pa.types.is_floating(values.type):
        floats = values.to_numpy(zero_copy_only=False)
        if np.all(np.isfinite(floats)) and np.all(floats == np.round(floats)):
            values = pa.array(floats.astype(np.int64))
    return [str(v) for v in values.cast(pa.string()).to_pylist()]


def integer_key(values: pa.Array) -> pa.Array | None:
    """The ids as int64 when every one is an integer (or integer text), else None."""
    if pa.types.is_integer(values.type):
        return values.cast(pa.int64())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            return pc.cast(values, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return None


def frequency_vocab(dictionary: pa.Array, counts: np.ndarray) -> tuple[Vocabulary, np.ndarray]:
    """A padded vocabulary of the values with a positive count, most frequent first.

    Parameters
    ----------
    dictionary:
        Distinct raw values.
    counts:
        Kept events per value (aligned with ``dictionary``).

    Returns
    -------
    The vocabulary, and for each dictionary entry its vocabulary index (0 when its count is 0).
    """
    present = np.flatnonzero(counts > 0)
    values = dictionary.take(pa.array(present, type=pa.int64()))
    columns = {"neg_count": pa.array(-counts[present].astype(np.int64))}
    numeric = integer_key(values)
    keys = [("neg_count", "ascending")]
    if numeric is not None:
        columns["number"] = numeric
        keys.append(("number", "ascending"))
    columns["text"] = values.cast(pa.string())
    keys.append(("text", "ascending"))
    order = pc.sort_indices(pa.table(columns), sort_keys=keys).to_numpy()
    remap = np.zeros(len(dictionary), dtype=np.int32)
    remap[present[order]] = np.arange(1, len(order) + 1, dtype=np.int32)
    ordered = values.take(pa.array(order, type=pa.int64()))
    vocab = Vocabulary([None, *id_text(ordered)], [0, *counts[present][order].tolist()], padded=True)
    return vocab, remap


def action_vocab(counts: np.ndarray) -> tuple[Vocabulary, np.ndarray]:
    """Actions in taxonomy order (present ones only), with a ``family`` column.

    ``counts`` are kept events per index of ``CANONICAL_ACTIONS``. Returns the vocabulary and
    the map canonical index → vocabulary index.
    """
    present = [int(c) for c in np.flatnonzero(counts > 0)]
    names = [CANONICAL_ACTIONS[c] for c in present]
    remap = np.zeros(len(CANONICAL_ACTIONS), dtype=np.int16)
    remap[present] = np.arange(1, len(present) + 1)
    vocab = Vocabulary(
        [None, *names],
        [0, *(int(counts[c]) for c in present)],
        padded=True,
        extra={"family": [None, *(ACTION_FAMILY[n] for n in names)]},
    )
    return vocab, remap


def user_vocab(ids: list[str], counts: np.ndarray) -> Vocabulary:
    """Users in the order given (the sort order of the events), 0-based."""
    return Vocabulary(ids, counts, padded=False)
