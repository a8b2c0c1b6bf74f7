"""The result cache: each user's recent answers, valid while nothing new could change them.

An entry remembers the user's ``engaged`` counter (from the event store) when it was computed; a
lookup with a different counter is stale, as is one older than the time to live. Because the
counter lives in the store, a replica's cache notices events that reached another replica. The
cache holds the most recently used users only (``max_users``).

>>> cache = ResultCache(ttl_s=60, max_users=2)
>>> cache.put("u1", ("intent", 10), engaged=3, value="answer")
>>> cache.get("u1", ("intent", 10), engaged=3), cache.get("u1", ("intent", 10), engaged=4)
('answer', None)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Entry:
    engaged: int
    created: float
    value: Any


class ResultCache:
    """Answers by (user, request parameters), with a time to live and per-user invalidation.

    Parameters
    ----------
    ttl_s:
        Seconds an answer stays usable (0 turns the cache off).
    max_users:
        Users held; the least recently used go first.
    clock:
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, ttl_s: float, max_users: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_users = max_users
        self.clock = clock
        self._users: OrderedDict[str, dict[Hashable, _Entry]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, user: str, params: Hashable, *, engaged: int) -> Any | None:
        """The cached answer; None when absent, expired, or older than the user's last engaging event."""
        if not self.enabled:
            return None
        now = self.clock()
        with self._lock:
            entry = self._users.get(user, {}).get(params)
            if entry is None or entry.engaged != engaged or now - entry.created > self.ttl_s:
                self.misses += 1
                return None
            self._users.move_to_end(user)
            self.hits += 1
            return entry.value

    def put(self, user: str, params: Hashable, *, engaged: int, value: Any) -> None:
        if not self.enabled:
            return
        with self._lock:
            entries = self._users.setdefault(user, {})
            entries[params] = _Entry(engaged, self.clock(), value)
            self._users.move_to_end(user)
            while len(self._users) > self.max_users:
                self._users.popitem(last=False)

    def invalidate(self, users: set[str] | list[str]) -> None:
        """Forget every answer of these users."""
        with self._lock:
            for user in users:
                self._users.pop(user, None)

    def __len__(self) -> int:
        """Users with cached answers."""
        return len(self._users)

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
