"""Deviation features: how far each event is from its user's habits.

Every event is compared with its user's profile as it stands (the profile is not updated by the
events being scored). "New" and "unusual" features need a history: they are False for a user with
fewer than ``min_history`` profiled events, and amount features need ``min_amounts`` amounts,
so a first-time user is not flagged merely for being new.

==================  =======  ===========================================================
column              type     meaning
==================  =======  ===========================================================
history             int      events in the user's profile (0: unknown user)
new_device          bool     device never used by the user
device_share        float    share of the user's events on this device (0 when new)
new_payee           bool     payment action to a payee (item_id) never paid before
new_location        bool     location never seen for the user
first_touch         bool     the user's first event with this item (not in the profile, not earlier here)
hour_prob           float    smoothed probability of this local hour for the user (0–1)
unusual_hour        bool     ``hour_prob`` below ``risk.unusual_hour_prob``
hour_distance_h     float    circular distance (hours, 0–12) from the user's mean hour
amount_ratio        float    amount / the user's median amount
amount_z            float    (amount − median) / (1.4826 · MAD): a robust z-score
over_p99            bool     amount above the user's 99th percentile
user_median …       float    the user's amount median, mad, p90, p99, max (for rules)
==================  =======  ===========================================================
NaN means "does not apply" (no amount, no time, or too little history).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from seqintent.anomaly._events import EventFrame, EventsLike
from seqintent.anomaly.config import RiskConfig
from seqintent.anomaly.profile import HOURS, ProfileStore
from seqintent.schema.columns import Columns

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class Deviations:
    """Per-event deviation features aligned with an :class:`EventFrame` (see the module table)."""

    history: np.ndarray
    new_device: np.ndarray
    device_share: np.ndarray
    new_payee: np.ndarray
    new_location: np.ndarray
    first_touch: np.ndarray
    hour_prob: np.ndarray
    unusual_hour: np.ndarray
    hour_distance_h: np.ndarray
    amount_ratio: np.ndarray
    amount_z: np.ndarray
    over_p99: np.ndarray
    user_median: np.ndarray
    user_mad: np.ndarray
    user_p90: np.ndarray
    user_p99: np.ndarray
    user_max: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return getattr(self, name)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _circular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % HOURS
    return np.minimum(d, HOURS - d)


def compute_deviations(frame: EventFrame, store: ProfileStore, risk: RiskConfig) -> Deviations:
    """Deviation features of every event of ``frame`` against ``store`` (which is not changed)."""
    n = len(frame)
    cfg = store.config
    out = {name: np.full(n, np.nan) for name in Deviations.names()}
    for name in ("new_device", "new_payee", "new_location", "first_touch", "unusual_hour", "over_p99"):
        out[name] = np.zeros(n, dtype=bool)
    out["history"] = np.zeros(n, dtype=np.int64)
    out["device_share"] = np.zeros(n)
    is_payee = np.isin(frame.action, cfg.payee_actions)
    is_amount = np.isin(frame.action, cfg.amount_actions) & ~np.isnan(frame.amount)
    hour_bin = np.floor(np.nan_to_num(frame.hour, nan=0.0)).astype(np.int64)
    for user, lo, hi in frame.user_slices():
        profile = store.get(user)
        if profile is None:
            continue
        sl = slice(lo, hi)
        out["history"][sl] = profile.n_events
        devices = frame.device[sl]
        known = [d is None or d in profile.devices for d in devices]
        out["device_share"][sl] = [
            0.0 if d is None or d not in profile.devices else profile.devices[d].count / profile.n_events
            for d in devices
        ]
        stats = profile.amount_stats()
        if stats.n >= cfg.min_amounts:
            for name in ("median", "mad", "p90", "p99", "max"):
                out[f"user_{name}"][sl] = getattr(stats, name)
        if profile.n_events < cfg.min_history:
            continue
        out["new_device"][sl] = ~np.asarray(known, dtype=bool)
        out["new_location"][sl] = [
            loc is not None and loc not in profile.locations for loc in frame.location[sl]
        ]
        out["new_payee"][sl] = [
            bool(p) and item is not None and item not in profile.payees
            for p, item in zip(is_payee[sl], frame.item[sl], strict=True)
        ]
        touched: set[str] = set()
        first = np.zeros(hi - lo, dtype=bool)
        for k, item in enumerate(frame.item[sl]):
            if item is not None and item not in touched:
                touched.add(item)
                first[k] = item not in profile.items
        out["first_touch"][sl] = first
        if frame.has_time and profile.hour_counts.sum() > 0:
            probs = profile.hour_probabilities(cfg.hour_bandwidth_h)
            out["hour_prob"][sl] = probs[hour_bin[sl]]
            out["hour_distance_h"][sl] = _circular_distance(frame.hour[sl], profile.mean_hour())
    has_amount = is_amount & ~np.isnan(out["user_median"])
    with np.errstate(divide="ignore", invalid="ignore"):
        median = out["user_median"]
        ratio = frame.amount / median
        out["amount_ratio"] = np.where(has_amount & (median > 0), ratio, np.nan)
        # a user who always pays the same amount has MAD 0: floor the scale at 0.1% of the median
        scale = MAD_TO_SIGMA * np.maximum(out["user_mad"], np.maximum(1e-3 * np.abs(median), 1e-9))
        out["amount_z"] = np.where(has_amount, (frame.amount - median) / scale, np.nan)
    out["over_p99"] = has_amount & (frame.amount > np.nan_to_num(out["user_p99"], nan=np.inf))
    out["unusual_hour"] = ~np.isnan(out["hour_prob"]) & (
        np.nan_to_num(out["hour_prob"], nan=1.0) < risk.unusual_hour_prob
    )
    return Deviations(**out)


def deviation_features(
    store: ProfileStore, events: EventsLike, *, risk: RiskConfig | None = None
) -> pa.Table:
    """Deviation features of each event against the profiles, one row per event in input order.

    Parameters
    ----------
    store:
        Fitted profiles (not changed).
    events:
        Canonical events.
    risk:
        For the unusual-hour threshold; defaults to :class:`RiskConfig` defaults.

    Returns
    -------
    pyarrow.Table
        ``row`` (input position), ``user_id``, ``ts``, ``action`` and the columns of the module table.
    """
    frame = store.frame(events)
    dev = compute_deviations(frame, store, risk or RiskConfig())
    order = np.argsort(frame.row, kind="stable")
    columns = {
        "row": frame.row[order],
        Columns.USER: pa.array(frame.user[order].tolist(), pa.string()),
        Columns.TIME: frame.ts[order],
        Columns.ACTION: pa.array(frame.action[order].tolist(), pa.string()),
    }
    for name in Deviations.names():
        columns[name] = dev.column(name)[order]
    return pa.table(columns)


SESSION_FEATURES = (
    "n_events",
    "duration_s",
    "events_per_min",
    "min_gap_s",
    "median_gap_s",
    "distinct_items",
    "distinct_item_share",
    "distinct_categories",
    "start_hour",
    "max_amount",
    "converts_without_view",
    *(
        f"share_{family}"
        for family in ("browse", "engage", "convert", "negative", "search", "payment", "account")
    ),
)


def session_features(frame: EventFrame) -> tuple[list[str], np.ndarray]:
    """Per-unit behaviour statistics, without any profile: the classic input of an isolation forest.

    Returns the unit keys (in order of user, then first event) and a float matrix with the columns
    of :data:`SESSION_FEATURES`: size, duration and pace, gaps, item / category variety, start hour,
    largest amount, ``converts_without_view`` (cart / buy events of an item not viewed before in the
    unit) and the share of each action family. Missing values (no time, no amount) are 0.
    """
    from seqintent.anomaly.risk import unit_positions

    units = unit_positions(frame)
    out = np.zeros((len(units), len(SESSION_FEATURES)))
    families = ("browse", "engage", "convert", "negative", "search", "payment", "account")
    for k, positions in enumerate(units.values()):
        ts = frame.ts[positions].astype(np.float64) / 1000.0
        gaps = np.diff(ts) if frame.has_time and len(ts) > 1 else np.zeros(1)
        duration = float(ts[-1] - ts[0]) if frame.has_time else 0.0
        items = [i for i in frame.item[positions] if i is not None]
        categories = {c for c in frame.category[positions] if c is not None}
        viewed: set[str] = set()
        blind = 0
        for action, family, item in zip(
            frame.action[positions], frame.family[positions], frame.item[positions], strict=True
        ):
            if item is None:
                continue
            if family == "convert" and item not in viewed:
                blind += 1
            if action in ("view", "click", "long_view"):
                viewed.add(item)
        amounts = frame.amount[positions]
        fam = frame.family[positions]
        out[k] = [
            len(positions),
            duration,
            len(positions) / max(duration / 60.0, 1.0),
            float(gaps.min()),
            float(np.median(gaps)),
            len(set(items)),
            len(set(items)) / max(len(items), 1),
            len(categories),
            float(np.nan_to_num(frame.hour[positions[0]], nan=0.0)),
            float(np.nanmax(amounts)) if not np.isnan(amounts).all() else 0.0,
            blind,
            *(float(np.mean(fam == f)) for f in families),
        ]
    return list(units), out
