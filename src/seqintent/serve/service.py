"""What the service does, as plain Python (the HTTP routes only parse and serialise).

Tiered answers for a stored user, cheapest first:

1. **cache** — the user's ``engaged`` counter (kept by the event store) has not moved since a
   cached answer for the same parameters was computed, and it is younger than the TTL; what is read
   off the history without the model (interests, exclusions, risk) is brought up to date when other
   events arrived since, and the model runs again if that moved the exclusions;
2. **popularity** — the history has nothing the model can infer from (no readable event with an
   item the model knows): the most frequent training items, without running the model;
3. **model** — encode the history, run the graph (micro-batched with concurrent requests), cache.

An event is *engaging* — it can change the answer, so it bumps the counter — when the model can
read its action and it either names an item the model knows or is not a plain browse (view, click,
expose): a view of an item the model never saw, or an action it never saw, leaves the answer as it
was. With ``tiered = False`` every accepted event is engaging and the popularity shortcut is off
for histories that have any readable event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seqintent.runtime import EncodedHistory, InferenceEngine, PredictResult
from seqintent.schema.actions import ACTION_FAMILY
from seqintent.schema.columns import Columns
from seqintent.serve.cache import ResultCache
from seqintent.serve.metrics import ServiceMetrics
from seqintent.serve.settings import ServeSettings
from seqintent.serve.store import AppendResult, EventStore

BROWSE_FAMILY = "browse"


@dataclass(frozen=True)
class AnswerParams:
    """What an answer depends on besides the history (the cache key)."""

    k: int
    at_ms: int | None
    exclude_seen: bool


class IntentService:
    """The engine, the event store and the cache, tied together.

    Parameters
    ----------
    engine:
        The inference engine of the Runtime.
    store:
        The online event store.
    settings:
        The service settings.
    metrics:
        Where answers and events are counted (optional).
    clock:
        "Now" in UTC epoch ms: the moment predicted for when a request names none, and the cache's
        clock (default: the wall clock; a replay of an old log passes its own).
    """

    def __init__(
        self,
        engine: InferenceEngine,
        store: EventStore,
        settings: ServeSettings,
        metrics: ServiceMetrics | None = None,
        *,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.clock = clock or _wall_clock_ms
        cache_clock = time.monotonic if clock is None else (lambda: self.clock() / 1000.0)
        self.cache = ResultCache(settings.cache_ttl_s, settings.cache_max_users, clock=cache_clock)

    def engaging(self, event: Mapping[str, Any]) -> bool:
        """Whether the event can change the user's answer (see the module docstring)."""
        if not self.settings.tiered:
            return True
        encoder = self.engine.encoder
        if not encoder.readable(event):
            return False
        return encoder.knows_item(event) or ACTION_FAMILY.get(event[Columns.ACTION]) != BROWSE_FAMILY

    def ingest(self, events: Sequence[Mapping[str, Any]]) -> AppendResult:
        """Store events (idempotent by ``event_id``) and drop the cached answers they change."""
        flags = [self.engaging(e) for e in events]
        result = self.store.append(events, flags)
        changed = {str(e[Columns.USER]) for e, f in zip(events, flags, strict=True) if f} & result.users
        self.cache.invalidate(changed)
        if self.metrics is not None:
            self.metrics.events.labels("accepted").inc(result.accepted)
            self.metrics.events.labels("duplicate").inc(result.duplicates)
            self.metrics.events.labels("too_old").inc(result.too_old)
        return result

    def answer(self, user_id: str, params: AnswerParams) -> PredictResult:
        """The predict result for a stored user (with explanation), from the cheapest tier that can answer."""
        state = self.store.state(user_id)
        cached = self.cache.get(user_id, params, engaged=state.engaged)
        if cached is not None:
            fresh = self._refreshed(user_id, params, cached)
            if fresh is not None:
                self._count_lookup(True)
                self._count("cache")
                return fresh.model_copy(update={"source": "cache"})
        self._count_lookup(False)
        limit = self._read_limit()
        history = self.store.history(user_id, limit=limit)
        if limit is not None and len(history.events) == limit:
            readable = sum(self.engine.encoder.readable(e) for e in history.events)
            if readable <= self.engine.max_len:  # actions the model ignores took part of the window
                history = self.store.history(user_id)
        result = self._predict(history.events, user_id=user_id, params=params)
        self.cache.put(user_id, params, engaged=history.state.engaged, value=(result, history.state.version))
        return result

    def _refreshed(
        self, user_id: str, params: AnswerParams, cached: tuple[PredictResult, int]
    ) -> PredictResult | None:
        """A cached answer brought up to date without the model, or None when the model must run again.

        Events that leave the model's answer as it was may still arrive after it was cached (a view
        of an item the model never saw). They change what is read off the history without the model:
        interests, exclusions and risk are computed again. Exclusions filter the next items, so when
        they moved the model runs again.
        """
        result, version = cached
        engine = self.engine
        if engine.intents is None and not engine.has_risk:
            return result
        history = self.store.history(user_id)
        if history.state.version == version:
            return result
        interests = engine.interests(history.events)
        exclusions = interests.exclusions if interests is not None else []
        if exclusions != result.exclusions:
            return None
        update: dict[str, Any] = {"risk": engine.risk(history.events, user_id)}
        if interests is not None:
            update["interests"] = interests.interests
        fresh = result.model_copy(update=update)
        self.cache.put(user_id, params, engaged=history.state.engaged, value=(fresh, history.state.version))
        return fresh

    def predict(
        self, events: Sequence[Mapping[str, Any]], params: AnswerParams, *, explain: bool
    ) -> PredictResult:
        """The predict result for a history given in full (nothing stored or cached)."""
        ordered = sorted(events, key=lambda e: e[Columns.TIME])  # stable: ties keep the given order
        return self._predict(ordered, user_id=None, params=params, explain=explain)

    async def predict_async(
        self, events: Sequence[Mapping[str, Any]], params: AnswerParams, *, explain: bool
    ) -> PredictResult:
        """:meth:`predict` for an event loop: the model call is awaited, nothing blocks the loop."""
        ordered = sorted(events, key=lambda e: e[Columns.TIME])
        at_ms = params.at_ms if params.at_ms is not None else self.clock()
        encoded = self.engine.encode(ordered, at_ms)
        if self._tiered_out(encoded):
            self._count("popularity")
            return self.engine.popularity(ordered, encoded, user_id=None, k=params.k)
        row = await self.engine.batcher.submit_async(encoded)
        self._count("model")
        return self.engine.result(
            ordered,
            encoded,
            row,
            user_id=None,
            k=params.k,
            at_ms=at_ms,
            explain=explain,
            exclude_seen=params.exclude_seen,
        )

    def _predict(
        self,
        events: Sequence[Mapping[str, Any]],
        *,
        user_id: str | None,
        params: AnswerParams,
        explain: bool = True,
    ) -> PredictResult:
        at_ms = params.at_ms if params.at_ms is not None else self.clock()
        engine = self.engine
        encoded = engine.encode(events, at_ms)
        if self._tiered_out(encoded):
            self._count("popularity")
            return engine.popularity(events, encoded, user_id=user_id, k=params.k)
        row = engine.batcher.submit(encoded)
        self._count("model")
        return engine.result(
            events,
            encoded,
            row,
            user_id=user_id,
            k=params.k,
            at_ms=at_ms,
            explain=explain,
            exclude_seen=params.exclude_seen,
        )

    def _tiered_out(self, encoded: EncodedHistory) -> bool:
        """Whether popularity answers: nothing to infer from (any history without tiers: empty only)."""
        return not self.engine.has_signal(encoded) if self.settings.tiered else encoded.length == 0

    def _read_limit(self) -> int | None:
        """Events to read from the store: the model's window and the event before it (for its time gap),
        with room for events it ignores; all of them under importance truncation, or when the Runtime
        answers interests and exclusions (they read the whole stored history)."""
        truncation = self.engine.runtime.config.truncation
        if truncation.rule == "importance" or self.engine.intents is not None:
            return None
        return 2 * truncation.max_len + 1

    def _count(self, source: str) -> None:
        if self.metrics is not None:
            self.metrics.answers.labels(source).inc()

    def _count_lookup(self, hit: bool) -> None:
        if self.metrics is not None and self.cache.enabled:
            self.metrics.cache_lookups.labels("hit" if hit else "miss").inc()

    def close(self) -> None:
        self.engine.close()
        self.store.close()


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)
