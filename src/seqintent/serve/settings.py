"""Service settings: one pydantic config, built by the CLI (or a test) and handed to the app factory.

>>> s = ServeSettings(store="sqlite:///events.db", cache_ttl_s=60)
>>> s.max_events_per_user, s.cache_ttl_s, s.precision
(500, 60.0, 'fp32')
>>> s.batch_wait_ms, ServeSettings(model_thread=False).batch_wait_ms  # the default budget by placement
(2.0, 0.0)
>>> default_model_thread(workers=1), default_model_thread(workers=2)
(True, False)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    """Everything the service can be told (``seqintent serve`` flags map onto these fields)."""

    model_config = ConfigDict(extra="forbid")

    store: str = Field(
        "sqlite:///seqintent-events.db", description="event store URL: sqlite:///FILE or redis://HOST:PORT/DB"
    )
    max_events_per_user: int = Field(500, ge=1, description="events kept per user in the store (the newest)")
    max_events_per_request: int = Field(1000, ge=1, description="events one POST /v1/events may carry")
    precision: Literal["fp32", "int8"] = Field("fp32", description="which exported graph to run")
    threads: int = Field(1, ge=1, description="ONNX Runtime intra-op threads")
    max_batch: int = Field(32, ge=1, description="micro-batching: most histories per model call")
    max_wait_ms: float | None = Field(
        None,
        ge=0,
        description="micro-batching: how long a request may wait for others to share its call "
        "(0: none, yet requests that queue while a call runs share the next one; "
        "null: 2 ms with the model on its own thread, 0 on the event loop)",
    )
    model_thread: bool = Field(
        True,
        description="run the model on a thread of its own, so the event loop reads other requests "
        "meanwhile (one server process); false: on the event loop, no hand-off between threads "
        "(less CPU per request: the better choice when every core has its own worker process)",
    )
    default_k: int = Field(10, ge=1, description="items returned when a request gives no k")
    max_k: int = Field(100, ge=1, description="largest k a request may ask for")
    explain_events: int = Field(5, ge=1, description="events listed in an explanation")
    cache_ttl_s: float = Field(1800.0, ge=0, description="result cache time to live, seconds (0: no cache)")
    cache_max_users: int = Field(
        100_000, ge=1, description="users whose answers the cache holds (least recent go)"
    )
    tiered: bool = Field(
        True,
        description="answer from cache or popularity when nothing new can change the answer "
        "(no new engaging event, or no history to infer from); false: every new event invalidates",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="log level")
    log_requests: bool = Field(True, description="one structured log line per request")
    public_metrics: bool = Field(
        True, description="serve /metrics without an API key (for Prometheus scrapes)"
    )

    @property
    def batch_wait_ms(self) -> float:
        """The batching budget in effect. Measured at 200-300 requests/s (BENCHMARKS.md, serving
        notes): the model's own thread gains from waiting 2 ms, a worker's event loop from not waiting."""
        if self.max_wait_ms is not None:
            return self.max_wait_ms
        return 2.0 if self.model_thread else 0.0


def default_model_thread(workers: int) -> bool:
    """Where ``seqintent serve`` runs the model unless told: on a thread of its own with one worker
    process, on each worker's event loop with several (they already keep every core busy, and a
    second busy thread per process only adds hand-offs; measured: BENCHMARKS.md, serving notes)."""
    return workers == 1
