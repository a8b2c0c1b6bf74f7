"""The real-time service: HTTP API, online event store, result cache, API keys, metrics, logs.

:func:`create_app` takes a Runtime folder and :class:`ServeSettings` and returns a FastAPI app whose
lifespan loads the Runtime and opens the event store (:func:`open_store`: SQLite by default, Redis to
share one store between replicas). :class:`IntentService` is the same service as plain Python.
"""

from seqintent.serve.app import create_app
from seqintent.serve.auth import SCOPES, KeyInfo, KeyRing, add_key, hash_key, parse_scopes
from seqintent.serve.cache import ResultCache
from seqintent.serve.logs import configure_logging
from seqintent.serve.metrics import ServiceMetrics
from seqintent.serve.service import AnswerParams, IntentService
from seqintent.serve.settings import ServeSettings, default_model_thread
from seqintent.serve.store import (
    AppendResult,
    EventStore,
    RedisEventStore,
    SQLiteEventStore,
    StoreStats,
    UserHistory,
    UserState,
    open_store,
)

__all__ = [
    "SCOPES",
    "AnswerParams",
    "AppendResult",
    "EventStore",
    "IntentService",
    "KeyInfo",
    "KeyRing",
    "RedisEventStore",
    "ResultCache",
    "SQLiteEventStore",
    "ServeSettings",
    "ServiceMetrics",
    "StoreStats",
    "UserHistory",
    "UserState",
    "add_key",
    "configure_logging",
    "create_app",
    "default_model_thread",
    "hash_key",
    "open_store",
    "parse_scopes",
]
