"""Per-user habit profiles: usual devices, hours, locations, payees and amounts.

A profile is built from a user's history and updated incrementally, one batch of events after
another: ``ProfileStore(cfg).update(a).update(b)`` equals ``ProfileStore(cfg).update(a + b)``.
It records

* how often each device, payee (the ``item_id`` of payment actions), location and item was used,
  and when last (at most ``max_values`` of each; the least recently used is forgotten first);
* a 24-bin histogram of local hours, read circularly (23:00 is next to 00:00): a Gaussian kernel
  of ``hour_bandwidth_h`` smooths it into the probability of each hour, and the shortest arc of
  hours holding 80 % of the events is the user's "usual hours";
* the last ``amount_window`` amounts of the ``amount_actions``, from which robust statistics are
  computed: median, MAD (median absolute deviation), 90th and 99th percentiles, maximum.

Stored as a folder (``manifest.json``, ``config.json``, ``profiles.parquet``), never a pickle.

Examples
--------
>>> from seqintent.anomaly.config import ProfileConfig
>>> events = [{"user_id": "ann", "ts": 9 * 3600_000 + d * 86400_000, "action": "transfer",
...            "item_id": "mum", "amount": 100.0 + d, "device": "phone"} for d in range(5)]
>>> store = ProfileStore(ProfileConfig()).update(events)
>>> p = store["ann"]
>>> p.n_events, p.devices["phone"].count, p.amount_stats().median, p.usual_hours()
(5, 5, 102.0, (9, 1))
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seqintent.anomaly._events import EventFrame, EventsLike, build_frame
from seqintent.anomaly.config import ProfileConfig
from seqintent.data.artifact import ArtifactWriter, read_json, read_manifest, write_json
from seqintent.errors import ArtifactError
from seqintent.schema.columns import AnomalyFiles, Columns

HOURS = 24
USUAL_HOURS_COVERAGE = 0.8


@dataclass
class Seen:
    """How often a value (device, payee, location) was used, and when last (epoch ms)."""

    count: int
    last_ts: int


@dataclass(frozen=True)
class AmountStats:
    """Robust statistics of a user's recent amounts (NaN when there are none)."""

    n: int
    median: float
    mad: float
    p90: float
    p99: float
    max: float


def _quantile(ordered: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) of already sorted values, without its overhead."""
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return float(ordered[below] + (position - below) * (ordered[above] - ordered[below]))


@lru_cache(maxsize=8)
def _hour_kernel(bandwidth_h: float) -> np.ndarray:
    # column k spreads one event at hour k over the circle; columns sum to 1
    hours = np.arange(HOURS)
    diff = np.abs(hours[:, None] - hours[None, :])
    dist = np.minimum(diff, HOURS - diff)
    kernel = np.exp(-0.5 * (dist / bandwidth_h) ** 2)
    return kernel / kernel.sum(axis=0, keepdims=True)


@dataclass
class UserProfile:
    """One user's habits. Read it; change it only through :meth:`ProfileStore.update`."""

    n_events: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    hour_counts: np.ndarray = field(default_factory=lambda: np.zeros(HOURS, dtype=np.int64))
    devices: dict[str, Seen] = field(default_factory=dict)
    payees: dict[str, Seen] = field(default_factory=dict)
    items: dict[str, Seen] = field(default_factory=dict)
    locations: dict[str, Seen] = field(default_factory=dict)
    amounts: deque[float] = field(default_factory=deque)
    n_amounts: int = 0
    _stats: AmountStats | None = field(default=None, repr=False, compare=False)

    def amount_stats(self) -> AmountStats:
        """Median, MAD, p90, p99 and max of the recent amounts (NaN when none)."""
        if self._stats is None:
            values = np.sort(np.fromiter(self.amounts, dtype=np.float64, count=len(self.amounts)))
            if len(values) == 0:
                self._stats = AmountStats(0, *(math.nan,) * 5)
            else:
                median = _quantile(values, 0.5)
                mad = _quantile(np.sort(np.abs(values - median)), 0.5)
                p90, p99 = _quantile(values, 0.9), _quantile(values, 0.99)
                self._stats = AmountStats(len(values), median, mad, p90, p99, float(values[-1]))
        return self._stats

    def hour_probabilities(self, bandwidth_h: float = 1.0) -> np.ndarray:
        """Smoothed probability of each local hour 0–23 (uniform when the user has no timed events)."""
        total = self.hour_counts.sum()
        if total == 0:
            return np.full(HOURS, 1.0 / HOURS)
        return _hour_kernel(float(bandwidth_h)) @ (self.hour_counts / total)

    def mean_hour(self) -> float:
        """Circular mean of the hours (NaN when none)."""
        total = self.hour_counts.sum()
        if total == 0:
            return math.nan
        angles = 2 * np.pi * (np.arange(HOURS) + 0.5) / HOURS
        angle = math.atan2(float(self.hour_counts @ np.sin(angles)), float(self.hour_counts @ np.cos(angles)))
        return (angle * HOURS / (2 * np.pi)) % HOURS

    def usual_hours(self, coverage: float = USUAL_HOURS_COVERAGE) -> tuple[int, int] | None:
        """``(first_hour, n_hours)``: the shortest arc of whole hours holding ``coverage`` of the events.

        Ties go to the arc with most events, then the earliest start. None without timed events.
        """
        counts = self.hour_counts
        total = int(counts.sum())
        if total == 0:
            return None
        doubled = np.concatenate([counts, counts])
        cumulative = np.concatenate([[0], np.cumsum(doubled)])
        for length in range(1, HOURS + 1):
            sums = cumulative[length : length + HOURS] - cumulative[:HOURS]
            if sums.max() >= coverage * total:
                return int(np.argmax(sums)), length
        return 0, HOURS


def _remember(seen: dict[str, Seen], values: np.ndarray, ts: np.ndarray, limit: int) -> None:
    for value, t in zip(values, ts, strict=True):
        if value is None:
            continue
        entry = seen.get(value)
        if entry is not None:
            entry.count += 1
            entry.last_ts = max(entry.last_ts, int(t))
            continue
        if len(seen) >= limit:
            # forget the least recently used; among equals the rarest, then by name (deterministic)
            stale = min(seen.items(), key=lambda kv: (kv[1].last_ts, kv[1].count, kv[0]))[0]
            del seen[stale]
        seen[value] = Seen(1, int(t))


class ProfileStore:
    """The habit profiles of all users, keyed by user id.

    Parameters
    ----------
    config:
        What to record; see :class:`~seqintent.anomaly.config.ProfileConfig`.
    """

    def __init__(self, config: ProfileConfig | None = None) -> None:
        self.config = config or ProfileConfig()
        self.profiles: dict[str, UserProfile] = {}

    def __getitem__(self, user: str) -> UserProfile:
        return self.profiles[user]

    def get(self, user: str) -> UserProfile | None:
        return self.profiles.get(user)

    def __contains__(self, user: object) -> bool:
        return user in self.profiles

    def __len__(self) -> int:
        return len(self.profiles)

    def __iter__(self) -> Iterator[str]:
        return iter(self.profiles)

    def frame(self, events: EventsLike, *, unit: str = "session") -> EventFrame:
        """Events as an :class:`EventFrame` read with this store's time zone and location field."""
        if isinstance(events, EventFrame):
            return events
        cfg = self.config
        return build_frame(
            events,
            timezone=cfg.timezone,
            location_field=cfg.location_field,
            session_gap_s=cfg.session_gap_s,
            unit=unit,
        )

    def update(self, events: EventsLike | EventFrame) -> ProfileStore:
        """Fold events into the profiles (in time order per user) and return ``self``."""
        frame = self.frame(events)
        cfg = self.config
        is_payee = np.isin(frame.action, cfg.payee_actions)
        is_amount = np.isin(frame.action, cfg.amount_actions) & ~np.isnan(frame.amount)
        hour_bins = np.where(np.isnan(frame.hour), -1, np.floor(np.nan_to_num(frame.hour))).astype(np.int64)
        for user, lo, hi in frame.user_slices():
            profile = self.profiles.setdefault(user, UserProfile(amounts=deque(maxlen=cfg.amount_window)))
            ts = frame.ts[lo:hi]
            profile.n_events += hi - lo
            if frame.has_time:
                first, last = int(ts[0]), int(ts[-1])
                profile.first_ts = first if profile.first_ts is None else min(profile.first_ts, first)
                profile.last_ts = last if profile.last_ts is None else max(profile.last_ts, last)
                bins = hour_bins[lo:hi]
                profile.hour_counts += np.bincount(bins[bins >= 0], minlength=HOURS)
            _remember(profile.devices, frame.device[lo:hi], ts, cfg.max_values)
            _remember(profile.locations, frame.location[lo:hi], ts, cfg.max_values)
            payees = is_payee[lo:hi]
            _remember(profile.payees, frame.item[lo:hi][payees], ts[payees], cfg.max_values)
            _remember(profile.items, frame.item[lo:hi], ts, cfg.max_values)
            amounts = frame.amount[lo:hi][is_amount[lo:hi]]
            if len(amounts):
                profile.amounts.extend(float(a) for a in amounts)
                profile.n_amounts += len(amounts)
                profile._stats = None
        return self

    # --- save / load ---------------------------------------------------------------------------

    def to_table(self) -> pa.Table:
        """All profiles as one Arrow table, one row per user sorted by user id."""
        users = sorted(self.profiles)
        seen_type = pa.list_(
            pa.struct([("value", pa.string()), ("count", pa.int64()), ("last_ts", pa.int64())])
        )

        def seen_rows(name: str) -> list[list[dict]]:
            return [
                [
                    {"value": v, "count": s.count, "last_ts": s.last_ts}
                    for v, s in sorted(getattr(p, name).items())
                ]
                for p in (self.profiles[u] for u in users)
            ]

        profiles = [self.profiles[u] for u in users]
        return pa.table(
            {
                Columns.USER: pa.array(users, pa.string()),
                "n_events": pa.array([p.n_events for p in profiles], pa.int64()),
                "first_ts": pa.array([p.first_ts for p in profiles], pa.int64()),
                "last_ts": pa.array([p.last_ts for p in profiles], pa.int64()),
                "hour_counts": pa.array([p.hour_counts.tolist() for p in profiles], pa.list_(pa.int64())),
                "devices": pa.array(seen_rows("devices"), seen_type),
                "payees": pa.array(seen_rows("payees"), seen_type),
                "items": pa.array(seen_rows("items"), seen_type),
                "locations": pa.array(seen_rows("locations"), seen_type),
                "amounts": pa.array([list(p.amounts) for p in profiles], pa.list_(pa.float64())),
                "n_amounts": pa.array([p.n_amounts for p in profiles], pa.int64()),
            }
        )

    @classmethod
    def from_table(cls, table: pa.Table, config: ProfileConfig) -> ProfileStore:
        store = cls(config)
        rows = table.to_pylist()
        for row in rows:
            store.profiles[row[Columns.USER]] = UserProfile(
                n_events=row["n_events"],
                first_ts=row["first_ts"],
                last_ts=row["last_ts"],
                hour_counts=np.asarray(row["hour_counts"], dtype=np.int64),
                devices={d["value"]: Seen(d["count"], d["last_ts"]) for d in row["devices"]},
                payees={d["value"]: Seen(d["count"], d["last_ts"]) for d in row["payees"]},
                items={d["value"]: Seen(d["count"], d["last_ts"]) for d in row["items"]},
                locations={d["value"]: Seen(d["count"], d["last_ts"]) for d in row["locations"]},
                amounts=deque(row["amounts"], maxlen=config.amount_window),
                n_amounts=row["n_amounts"],
            )
        return store

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the profiles as a folder: ``manifest.json``, ``config.json``, ``profiles.parquet``."""
        with ArtifactWriter(
            folder,
            kind=AnomalyFiles.KIND_PROFILES,
            format_version=AnomalyFiles.FORMAT_VERSION,
            overwrite=overwrite,
        ) as writer:
            write_json(writer.path / AnomalyFiles.CONFIG, self.config.model_dump(mode="json"))
            pq.write_table(self.to_table(), writer.path / AnomalyFiles.PROFILES)
            return writer.commit({"users": len(self.profiles)})

    @classmethod
    def load(cls, folder: str | Path) -> ProfileStore:
        """Read a folder written by :meth:`save`.

        Raises
        ------
        ArtifactError
            If the folder is not a profiles folder of a supported version, or a file is missing.
        """
        folder = Path(folder)
        read_manifest(
            folder, kind=AnomalyFiles.KIND_PROFILES, supported_versions=(AnomalyFiles.FORMAT_VERSION,)
        )
        config = ProfileConfig.model_validate(read_json(folder / AnomalyFiles.CONFIG))
        path = folder / AnomalyFiles.PROFILES
        if not path.is_file():
            raise ArtifactError(
                "file is missing", file=str(path), fix="re-create the folder with `anomaly fit`"
            )
        return cls.from_table(pq.read_table(path), config)
