"""Prometheus metrics of one service instance (its own registry, so several apps can live in a process).

==================================== ===========================================================
``seqintent_request_seconds``        histogram of request latency by route template, method, status
``seqintent_answers_total``          answers by source: model, cache, popularity
``seqintent_cache_lookups_total``    result cache lookups by result: hit, miss
``seqintent_cache_hit_ratio``        hits / lookups since start
``seqintent_model_batch_size``       histogram of histories per model call (micro-batching)
``seqintent_model_seconds``          histogram of model call time
``seqintent_events_total``           events received by outcome: accepted, duplicate, too_old
``seqintent_store_users``            users with a history in the event store (read at scrape)
``seqintent_store_events``           events held by the event store (read at scrape)
==================================== ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from seqintent._compat import require
from seqintent.serve.store import StoreStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServiceMetrics:
    """The service's metrics; :meth:`render` gives the Prometheus text exposition.

    Parameters
    ----------
    store_stats:
        Called at each scrape for the store's size.
    cache_ratio:
        Called at each scrape for the cache hit ratio.
    """

    def __init__(self, store_stats: Callable[[], StoreStats], cache_ratio: Callable[[], float]) -> None:
        prom = require("prometheus_client", "the /metrics endpoint")
        self._prom = prom
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.request_seconds = prom.Histogram(
            "seqintent_request_seconds",
            "HTTP request latency",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = prom.Counter("seqintent_answers", "Answers by source", ["source"], registry=r)
        self.cache_lookups = prom.Counter(
            "seqintent_cache_lookups", "Result cache lookups by result", ["result"], registry=r
        )
        self.model_batch = prom.Histogram(
            "seqintent_model_batch_size", "Histories per model call", buckets=BATCH_BUCKETS, registry=r
        )
        self.model_seconds = prom.Histogram(
            "seqintent_model_seconds", "Model call time", buckets=LATENCY_BUCKETS, registry=r
        )
        self.events = prom.Counter("seqintent_events", "Events received by outcome", ["outcome"], registry=r)
        r.register(_ScrapeTime(store_stats, cache_ratio))
        for source in ("model", "cache", "popularity"):
            self.answers.labels(source)
        for result in ("hit", "miss"):
            self.cache_lookups.labels(result)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.model_batch.observe(size)
        self.model_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the exposition."""
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST


class _ScrapeTime:
    """Gauges read when Prometheus scrapes (store size, cache hit ratio)."""

    def __init__(self, store_stats: Callable[[], StoreStats], cache_ratio: Callable[[], float]) -> None:
        self._core = require("prometheus_client.core", "the /metrics endpoint")
        self.store_stats = store_stats
        self.cache_ratio = cache_ratio

    def collect(self) -> Iterator[object]:
        core = self._core
        stats = self.store_stats()
        yield core.GaugeMetricFamily(
            "seqintent_store_users", "Users with a history in the event store", stats.users
        )
        yield core.GaugeMetricFamily("seqintent_store_events", "Events held by the event store", stats.events)
        yield core.GaugeMetricFamily(
            "seqintent_cache_hit_ratio", "Result cache hits / lookups", self.cache_ratio()
        )

    def describe(self) -> list[object]:
        return []
