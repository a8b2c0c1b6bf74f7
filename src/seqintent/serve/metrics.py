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

import os
from collections.abc import Callable, Iterator

from seqintent._compat import require
from seqintent.serve.store import StoreStats

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
# prometheus_client's multiprocess mode: each worker writes its values to files in this folder
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


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
        self._scrape_time = _ScrapeTime(store_stats, cache_ratio)
        r.register(self._scrape_time)
        for source in ("model", "cache", "popularity"):
            self.answers.labels(source)
        for result in ("hit", "miss"):
            self.cache_lookups.labels(result)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.model_batch.observe(size)
        self.model_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the exposition.

        Under several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set, as ``seqintent serve
        --workers N`` does) counters and histograms are summed over the workers; the scrape-time
        gauges are the answering worker's (its store view is everyone's; its cache is its own).
        """
        prom = self._prom
        if not os.environ.get(MULTIPROCESS_ENV):
            return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST
        registry = prom.CollectorRegistry()
        require("prometheus_client.multiprocess", "the /metrics endpoint").MultiProcessCollector(registry)
        registry.register(self._scrape_time)
        return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST


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
