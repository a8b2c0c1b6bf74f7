"""What every online event store does, whatever holds the data (SQLite file, Redis server).

An online event is a dict with canonical field names (:class:`~seqintent.schema.columns.Columns`)
plus ``event_id``. Per user the store keeps the newest ``max_events`` events ordered by time, then
by arrival (a late event is placed by its time, not appended), and two counters: ``version``
(accepted events) and ``engaged`` (accepted events flagged as informative for the model). A
result computed at ``engaged = n`` stays right while ``engaged`` is still ``n``; the counters live
in the store, so several service replicas sharing it agree on them.

Rules of :meth:`EventStore.append`, each outcome counted in the returned :class:`AppendResult`:

- ``duplicates``: an event whose id the user's history already holds (or held, when it was
  trimmed at the oldest kept time) changes nothing;
- ``too_old``: with the history full, an event older than the oldest kept one is not stored (it
  would be trimmed at once);
- ``accepted``: everything else is stored; the oldest events are trimmed past ``max_events``
  (counted in ``trimmed``).

An acknowledged append is durable: it returns only after the store has committed it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqintent.schema.columns import Columns

# Event fields a store keeps as columns; anything else the event carries (text, attrs, action_raw)
# travels in one JSON "extra" value.
STORED_FIELDS = (
    Columns.EVENT_ID,
    Columns.USER,
    Columns.TIME,
    Columns.ACTION,
    Columns.ITEM,
    Columns.CATEGORY,
    Columns.DWELL,
    Columns.AMOUNT,
    Columns.DEVICE,
    Columns.SESSION,
)
EXTRA_FIELDS = (Columns.ACTION_RAW, Columns.TEXT, Columns.ATTRS)

OnlineEvent = dict[str, Any]
"""One online event: canonical field names (``Columns``) plus ``event_id``; ``ts`` in UTC epoch ms."""


@dataclass
class AppendResult:
    """What one :meth:`EventStore.append` did (every event is counted once)."""

    accepted: int = 0
    duplicates: int = 0
    too_old: int = 0
    trimmed: int = 0  # older events removed to keep histories bounded
    users: set[str] = field(default_factory=set)  # users with at least one accepted event

    def add(self, other: AppendResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.too_old += other.too_old
        self.trimmed += other.trimmed
        self.users |= other.users

    def counts(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "too_old": self.too_old,
            "trimmed": self.trimmed,
        }


@dataclass(frozen=True)
class UserState:
    """A user's counters: accepted events so far, and those flagged informative for the model."""

    version: int = 0
    engaged: int = 0


@dataclass(frozen=True)
class UserHistory:
    """A user's kept events, oldest first, with the counters read in the same transaction."""

    events: list[OnlineEvent]
    state: UserState


@dataclass(frozen=True)
class StoreStats:
    """Size of the store: users with a history, and events kept."""

    users: int
    events: int


class EventStore(ABC):
    """A bounded, idempotent, time-ordered per-user event history; see the module docstring.

    Parameters
    ----------
    max_events:
        Events kept per user (the newest by time, then arrival).
    """

    url: str

    def __init__(self, max_events: int) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1 (got {max_events})")
        self.max_events = max_events

    @abstractmethod
    def append(
        self, events: Sequence[Mapping[str, Any]], engaged: Sequence[bool] | None = None
    ) -> AppendResult:
        """Store events (each with ``event_id``, ``user_id``, ``ts``, ``action``) in one durable step.

        ``engaged[i]`` says whether event i counts as informative (bumps the user's ``engaged``
        counter); all do when None.
        """

    @abstractmethod
    def history(self, user_id: str, limit: int | None = None) -> UserHistory:
        """The user's newest ``limit`` kept events (all when None), oldest first, and their counters."""

    @abstractmethod
    def state(self, user_id: str) -> UserState:
        """The user's counters (zeros for an unknown user); cheaper than :meth:`history`."""

    @abstractmethod
    def stats(self) -> StoreStats:
        """Users and events held."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (the data stays)."""

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, max_events={self.max_events})"


def split_extra(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fields of ``event`` kept in the JSON "extra" value (None when it has none)."""
    extra = {k: event[k] for k in EXTRA_FIELDS if event.get(k) is not None}
    return extra or None
