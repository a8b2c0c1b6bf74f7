"""Online event stores: each user's bounded, time-ordered, idempotent recent history.

``open_store(url)`` picks the backend from the URL: ``sqlite:///path/events.db`` (embedded, the
default; ``sqlite:////abs/path.db`` for an absolute path, ``?synchronous=normal`` to trade power-loss
safety for speed) or ``redis://host:port/db?prefix=NAME`` (shared by several service replicas).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from seqintent.errors import ConfigError
from seqintent.serve.store._base import (
    AppendResult,
    EventStore,
    OnlineEvent,
    StoreStats,
    UserHistory,
    UserState,
)
from seqintent.serve.store._redis import RedisEventStore
from seqintent.serve.store._sqlite import SQLiteEventStore

SCHEMES = ("sqlite", "redis", "rediss")


def open_store(url: str, max_events: int = 500) -> EventStore:
    """Open (creating when needed) the event store a URL names.

    Parameters
    ----------
    url:
        ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``redis://host:port[/db][?prefix=NAME]``.
    max_events:
        Events kept per user.

    Raises
    ------
    ConfigError
        If the URL's scheme or options are unknown.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"sqlite:///{d}/events.db", max_events=2)
    ...     event = {"event_id": "a", "user_id": "u", "ts": 1000, "action": "view", "item_id": "i"}
    ...     r = store.append([event])
    ...     r.accepted, [e["item_id"] for e in store.history("u").events]
    ...     store.close()
    (1, ['i'])
    """
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        return RedisEventStore(url, max_events=max_events)
    if parts.scheme != "sqlite":
        raise ConfigError(
            "unknown event store URL scheme",
            key="store",
            value=url,
            candidates=[f"{s}://" for s in SCHEMES],
            fix="use sqlite:///path/events.db or redis://host:6379/0",
        )
    options = parse_qs(parts.query)
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise ConfigError(
            "unknown option in the SQLite store URL",
            key="store",
            value=unknown[0],
            candidates=["synchronous"],
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path or parts.netloc:
        raise ConfigError(
            "a SQLite store URL needs a file path", key="store", value=url, fix="use sqlite:///events.db"
        )
    synchronous = options.get("synchronous", ["full"])[0]
    return SQLiteEventStore(Path(path), max_events=max_events, synchronous=synchronous)


__all__ = [
    "AppendResult",
    "EventStore",
    "OnlineEvent",
    "RedisEventStore",
    "SQLiteEventStore",
    "StoreStats",
    "UserHistory",
    "UserState",
    "open_store",
]
