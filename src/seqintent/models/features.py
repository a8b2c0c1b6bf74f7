"""Event tokens: what the model reads about each event, as small integer codes.

Every event of a Dataset becomes one token with these fields (0 always means "unknown / none"):

======== ==================================================================== ==========
field    meaning                                                              codes
======== ==================================================================== ==========
item     items vocabulary index                                               0..n_items
action   actions vocabulary index                                             1..n_actions
family   the action's family (:data:`seqintent.schema.FAMILIES` order + 1)      1..9
category categories vocabulary index                                          0..n_cat
gap      seconds since the user's previous event, log2 buckets                0..31
hour     local hour of day + 1 (in the log's time zone)                       0..24
weekday  local weekday + 1 (Monday = 1)                                       0..7
dwell    dwell seconds, log2 buckets                                          0..15
======== ==================================================================== ==========

The time to the *next* event (for the last event of a history: to the moment of the request) is
bucketed the same way as ``gap`` when a batch is built, because it depends on which events the
history keeps. Buckets are fixed, so the embedding tables never change size after training.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from seqintent.data import Dataset
from seqintent.models.item_attributes import ItemAttributeCodes
from seqintent.schema.actions import FAMILIES
from seqintent.schema.columns import SequenceFields, Vocabularies

GAP_BUCKETS = 32
DWELL_BUCKETS = 16
HOURS = 25
WEEKDAYS = 8
FAMILY_NAMES = tuple(FAMILIES)


def log_bucket(seconds: np.ndarray, n_buckets: int) -> np.ndarray:
    """Bucket non-negative durations on a log2 scale.

    0 is "unknown" (NaN or negative), 1 is under one second, then ``2 + floor(log2(s))`` up to
    ``n_buckets - 1``.

    >>> log_bucket(np.array([np.nan, 0.2, 1.0, 3.0, 3600.0]), 32).tolist()
    [0, 1, 2, 3, 13]
    """
    s = np.asarray(seconds, dtype=np.float64)
    out = np.zeros(s.shape, dtype=np.int64)
    known = np.isfinite(s) & (s >= 0)
    small = known & (s < 1.0)
    big = known & (s >= 1.0)
    out[small] = 1
    out[big] = np.minimum(2 + np.floor(np.log2(s[big])).astype(np.int64), n_buckets - 1)
    return out


class InputSpec(BaseModel):
    """Sizes of the embedding tables and what the Dataset offers (fixed when a model is trained)."""

    model_config = ConfigDict(extra="forbid")

    n_items: int = Field(description="items vocabulary size, padding included")
    n_actions: int = Field(description="actions vocabulary size, padding included")
    n_categories: int = Field(description="categories vocabulary size, padding included")
    action_family: list[int] = Field(description="family code of every action index (0 for padding)")
    has_time: bool = Field(description="the Dataset has timestamps")
    has_dwell: bool = Field(description="the Dataset has dwell times")
    timezone: str = Field("UTC", description="zone for hour-of-day and weekday")
    item_attribute_values: int = Field(0, description="item attribute codes, padding included (0: none)")
    item_attribute_slots: int = Field(0, description="attribute codes per item (0: no item attributes)")

    @property
    def n_families(self) -> int:
        return len(FAMILY_NAMES) + 1

    @classmethod
    def from_dataset(cls, ds: Dataset, attributes: ItemAttributeCodes | None = None) -> InputSpec:
        """What ``ds`` offers; ``attributes`` (:func:`item_attribute_codes`) sizes the attribute table."""
        actions = ds.vocab(Vocabularies.ACTIONS)
        families = actions.extra.get("family", [None] * len(actions))
        codes = [0] + [FAMILY_NAMES.index(f) + 1 if f in FAMILY_NAMES else 0 for f in families[1:]]
        dwell = ds.sequences.fields.get(SequenceFields.DWELL)
        return cls(
            n_items=len(ds.vocab(Vocabularies.ITEMS)),
            n_actions=len(actions),
            n_categories=len(ds.vocab(Vocabularies.CATEGORIES)),
            action_family=codes,
            has_time=ds.has_time,
            has_dwell=dwell is not None and bool(np.isfinite(np.asarray(dwell)).any()),
            timezone=ds.timezone,
            item_attribute_values=0 if attributes is None else attributes.n_values,
            item_attribute_slots=0 if attributes is None else attributes.slots,
        )


@dataclass
class EventTokens:
    """Token codes of every event of a Dataset, aligned with its sequence arrays.

    Build one with :meth:`from_dataset`; a history is then a row of event indices into these arrays.
    """

    offsets: np.ndarray  # int64 [n_users + 1]
    item: np.ndarray  # int64 [n_events]
    action: np.ndarray
    family: np.ndarray
    category: np.ndarray
    gap: np.ndarray
    hour: np.ndarray
    weekday: np.ndarray
    dwell: np.ndarray
    time_s: np.ndarray  # float64 seconds since the epoch (0 without time)
    split: np.ndarray  # int8

    @classmethod
    def from_dataset(cls, ds: Dataset, spec: InputSpec | None = None) -> EventTokens:
        """Token codes of every event of ``ds`` (cached on the Dataset object per spec)."""
        spec = spec or InputSpec.from_dataset(ds)
        cache = ds.__dict__.setdefault("_event_tokens", {})
        key = spec.model_dump_json()
        if key not in cache:
            cache[key] = cls._build(ds, spec)
        return cache[key]

    @classmethod
    def _build(cls, ds: Dataset, spec: InputSpec) -> EventTokens:
        seq = ds.sequences
        n = seq.n_events
        action = np.asarray(seq[SequenceFields.ACTION], dtype=np.int64)
        family = np.asarray(spec.action_family, dtype=np.int64)[
            np.clip(action, 0, len(spec.action_family) - 1)
        ]
        zeros = np.zeros(n, dtype=np.int64)
        hour = weekday = zeros
        time_s = np.zeros(n, dtype=np.float64)
        if ds.has_time and SequenceFields.TIME in seq:
            ts_ms = np.asarray(seq[SequenceFields.TIME], dtype=np.int64)
            time_s = ts_ms / 1000.0
            local = (
                pa.array(ts_ms).cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("ms", tz=spec.timezone))
            )
            hour = pc.hour(local).to_numpy().astype(np.int64) + 1
            weekday = pc.day_of_week(local).to_numpy().astype(np.int64) + 1
        dwell = zeros
        if SequenceFields.DWELL in seq:
            dwell = log_bucket(np.asarray(seq[SequenceFields.DWELL]), DWELL_BUCKETS)
        category = np.asarray(seq[SequenceFields.CATEGORY], dtype=np.int64)
        return cls(
            offsets=np.asarray(seq.offsets, dtype=np.int64),
            item=np.asarray(seq[SequenceFields.ITEM], dtype=np.int64),
            action=action,
            family=family,
            category=np.where(category < spec.n_categories, category, 0),
            gap=log_bucket(np.asarray(seq[SequenceFields.GAP]), GAP_BUCKETS) if ds.has_time else zeros,
            hour=hour,
            weekday=weekday,
            dwell=dwell,
            time_s=time_s,
            split=np.asarray(seq[SequenceFields.SPLIT], dtype=np.int8),
        )

    @property
    def n_events(self) -> int:
        return len(self.item)

    @cached_property
    def user(self) -> np.ndarray:
        """User index of every event."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), np.diff(self.offsets))

    @cached_property
    def user_start(self) -> np.ndarray:
        """Index of the first event of each event's user."""
        return self.offsets[self.user]
