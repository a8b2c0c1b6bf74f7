"""Pieces every scenario shares: popularity samplers, per-segment array helpers, the raw event block.

Everything is vectorised numpy: a scenario lays out its sessions as blocks of events (counts per
block, a role per block), expands them with :func:`numpy.repeat`, and fills columns by role.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from seqintent.schema.columns import TruthColumns

NONE = -1
"""Code of "no value" in coded (categorical) columns and of "no item" in item columns."""


@dataclass(frozen=True)
class Coded:
    """A categorical column: integer codes into ``names``; :data:`NONE` is null."""

    codes: np.ndarray
    names: Sequence[str]

    def to_arrow(self) -> pa.Array:
        mask = self.codes < 0
        indices = pa.array(np.where(mask, 0, self.codes).astype(np.int32), mask=mask)
        dictionary = pa.array(list(self.names) or [""], type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())

    def take(self, index: np.ndarray) -> Coded:
        return Coded(self.codes[index], self.names)


@dataclass
class RawEvents:
    """A scenario's events before noise, ordered by user, then time (UTC epoch ms, strictly rising).

    Item, amount and dwell use :data:`NONE` / NaN for "no value". ``session`` is a global session
    id. Truth tables refer to events by their index here, in columns whose name ends in
    ``event_id``; :func:`seqintent.simulate._noise.add_noise` renumbers them to log rows.
    """

    user: np.ndarray  # int64
    ts: np.ndarray  # int64, UTC epoch ms
    session: np.ndarray  # int64
    action: Coded
    item: np.ndarray  # int64, NONE for none
    category: Coded
    dwell: np.ndarray  # float64, NaN for none
    amount: np.ndarray  # float64, NaN for none
    device: Coded
    payee: Coded
    location: Coded
    text: Coded
    truth: dict[str, pa.Table] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.user)

    def take(self, index: np.ndarray) -> RawEvents:
        """The events at ``index`` (truth tables are not carried)."""
        return RawEvents(
            user=self.user[index],
            ts=self.ts[index],
            session=self.session[index],
            action=self.action.take(index),
            item=self.item[index],
            category=self.category.take(index),
            dwell=self.dwell[index],
            amount=self.amount[index],
            device=self.device.take(index),
            payee=self.payee.take(index),
            location=self.location.take(index),
            text=self.text.take(index),
        )


def strings(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    """A string column from codes into ``names`` (negative codes are null), without Python objects."""
    return Coded(np.asarray(codes, dtype=np.int32), names).to_arrow()


def signal_table(
    signal: np.ndarray, signal_names: Sequence[str], instance: np.ndarray, event: np.ndarray,
    role: np.ndarray, role_names: Sequence[str], user: np.ndarray,
) -> pa.Table:  # fmt: skip
    """Rows of the truth's ``signals`` table, ordered by instance, then event."""
    return pa.table(
        {
            TruthColumns.SIGNAL: strings(signal, signal_names),
            TruthColumns.INSTANCE: np.asarray(instance, dtype=np.int64),
            TruthColumns.EVENT_ID: np.asarray(event, dtype=np.int64),
            TruthColumns.ROLE: strings(role, role_names),
            TruthColumns.USER: np.asarray(user, dtype=np.int64),
        }
    ).sort_by([(TruthColumns.INSTANCE, "ascending"), (TruthColumns.EVENT_ID, "ascending")])


def no_values(n: int, names: Sequence[str] = ()) -> Coded:
    """A coded column that is null everywhere (a field the scenario does not use)."""
    return Coded(np.full(n, NONE, dtype=np.int32), names)


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Power-law popularity of ``n`` ranked things, ``1 / (rank + 1) ** exponent``, summing to 1."""
    weights = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return weights / weights.sum()


class GroupedSampler:
    """Draw members of groups (items of a category) by popularity, many groups at once.

    Parameters
    ----------
    group_of:
        Group of each member; members of one group must be contiguous.
    weight:
        Popularity of each member (any positive scale).

    >>> s = GroupedSampler(np.array([0, 0, 1, 1, 1]), np.array([1.0, 0.0, 0.0, 0.0, 1.0]))
    >>> s.draw(np.random.default_rng(0), np.array([0, 1, 0])).tolist()
    [0, 4, 0]
    """

    def __init__(self, group_of: np.ndarray, weight: np.ndarray) -> None:
        self.cumulative = np.cumsum(weight, dtype=np.float64)
        n_groups = int(group_of.max()) + 1
        self.lo = np.searchsorted(group_of, np.arange(n_groups), side="left")
        self.hi = np.searchsorted(group_of, np.arange(n_groups), side="right")
        below = np.r_[0.0, self.cumulative][self.lo]
        self.base = below
        self.total = self.cumulative[self.hi - 1] - below

    def draw(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """One member index per entry of ``group``."""
        target = self.base[group] + rng.random(len(group)) * self.total[group]
        member = np.searchsorted(self.cumulative, target, side="right")
        return np.clip(member, self.lo[group], self.hi[group] - 1)


def starts_of(counts: np.ndarray) -> np.ndarray:
    """Start offset of each segment given segment lengths (exclusive cumulative sum)."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def position_in_segment(counts: np.ndarray) -> np.ndarray:
    """For every element of the concatenated segments, its 0-based position within its segment."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(starts_of(counts), counts)


def last_of_each(segment: np.ndarray, n_segments: int) -> np.ndarray:
    """Index of the last element of each segment ``0 .. n_segments - 1`` (``segment`` sorted, none empty)."""
    return np.searchsorted(segment, np.arange(n_segments), side="right") - 1


def segment_cumsum(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of ``values`` within runs of equal ``segment`` (runs contiguous)."""
    running = np.cumsum(values) - values
    first = np.r_[True, segment[1:] != segment[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    return running - running[base]


def lognormal(
    rng: np.random.Generator, median: float, sigma: float, n: int, low: float, high: float
) -> np.ndarray:
    """Log-normal draws with the given median, clipped to ``[low, high]``."""
    return np.clip(median * np.exp(sigma * rng.standard_normal(n)), low, high)


def expand_blocks(
    block_role: np.ndarray, block_count: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand per-session blocks into events.

    Parameters
    ----------
    block_role, block_count:
        ``[S, B]`` arrays: the role and the number of events of each block, blocks in event order.

    Returns
    -------
    session, role, position:
        Per event: its session row, its role, and its position within the session.
    """
    n_sessions, n_blocks = block_role.shape
    counts = block_count.ravel()
    session = np.repeat(np.repeat(np.arange(n_sessions, dtype=np.int64), n_blocks), counts)
    role = np.repeat(block_role.ravel(), counts)
    return session, role, position_in_segment(block_count.sum(axis=1))


@dataclass(frozen=True)
class NoiseSpec:
    """How much noise to add.

    Parameters
    ----------
    misclick_rate:
        Chance that a misclick follows an event allowed to have one.
    duplicate_rate:
        Chance that an event is written twice.
    misclick_action:
        Code of the view-like raw action a misclick has (ignored when ``misclick_rate`` is 0).
    """

    misclick_rate: float
    duplicate_rate: float
    misclick_action: int = NONE


ItemDraw = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]
"""``draw(rng, n) -> (item, category code)``: random items for misclicks."""


@dataclass
class ScenarioDraw:
    """What a scenario hands to the shared noise and writing steps."""

    events: RawEvents
    noise: NoiseSpec
    misclick_after: np.ndarray | None = None  # events a misclick may follow
    draw_item: ItemDraw | None = None  # items misclicked on
