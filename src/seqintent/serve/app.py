"""The app factory: a Runtime folder and settings in, a FastAPI app out (nothing at module level).

The lifespan loads the Runtime, opens the event store and builds the service when the server
starts, and closes them when it stops. Every request is timed into the latency histogram and
logged as one JSON line (method, route template, status, milliseconds, key id).

>>> from seqintent.serve import create_app, ServeSettings
>>> app = create_app("models/taobao.runtime", ServeSettings(store="sqlite:///events.db"),
...                  keys=KeyRing.from_plain(["local-key"]))          # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from seqintent import __version__
from seqintent._compat import require
from seqintent.errors import ConfigError, SeqintentError
from seqintent.runtime import InferenceEngine, resolve_runtime
from seqintent.serve.auth import KeyRing
from seqintent.serve.deps import ApiError, field_path
from seqintent.serve.logs import configure_logging
from seqintent.serve.metrics import ServiceMetrics
from seqintent.serve.routes import events_router, ops_router, predict_router, users_router
from seqintent.serve.routes.ops import metrics_route
from seqintent.serve.schemas import EventsIn, PredictIn
from seqintent.serve.service import IntentService
from seqintent.serve.settings import ServeSettings
from seqintent.serve.store import EventStore, StoreStats, open_store

DESCRIPTION = """Infer what users intend from what they do.

Send events to `POST /v1/events`; ask `GET /v1/users/{id}/intent` (or `/recommendations`,
`/explain`); or send a whole history to `POST /v1/predict`. Authenticate with
`Authorization: Bearer KEY` (`seqintent keys add KEYFILE --scopes read,write`)."""


def create_app(
    runtime: str | Path,
    settings: ServeSettings | None = None,
    *,
    keys: KeyRing | None = None,
    auth: bool = True,
    store: EventStore | None = None,
) -> Any:
    """Build the service's FastAPI app (the Runtime loads when the server starts).

    Parameters
    ----------
    runtime:
        A Runtime folder, or a Model folder whose ``MODEL.runtime/`` was exported.
    settings:
        Service settings; defaults when None.
    keys:
        The API keys accepted (see :mod:`seqintent.serve.auth`).
    auth:
        False serves without keys (local trials only).
    store:
        An open event store to use instead of opening ``settings.store`` (tests, embedding).

    Raises
    ------
    ConfigError
        If ``auth`` is on and no key is given.
    ArtifactError
        If ``runtime`` is a Model folder that was never exported.
    """
    fastapi = require("fastapi", "the HTTP service")
    settings = settings or ServeSettings()
    if auth and not keys:
        raise ConfigError(
            "no API keys: the service would refuse every request",
            key="keys",
            fix="pass --keys KEYFILE (seqintent keys add KEYFILE --scopes read,write), "
            "set SEQINTENT_API_KEYS=KEY1,KEY2, or --no-auth for a local trial",
        )
    runtime_path = resolve_runtime(runtime)
    logger = configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        metrics = ServiceMetrics(
            store_stats=lambda: app.state.service.store.stats() if app.state.service else StoreStats(0, 0),
            cache_ratio=lambda: app.state.service.cache.hit_ratio if app.state.service else 0.0,
        )
        app.state.metrics = metrics
        engine = InferenceEngine.load(
            runtime_path,
            precision=settings.precision,
            threads=settings.threads,
            max_batch=settings.max_batch,
            max_wait_ms=settings.batch_wait_ms,
            model_thread=settings.model_thread,
            explain_events=settings.explain_events,
            on_batch=metrics.observe_batch,
        )
        opened = store or open_store(settings.store, settings.max_events_per_user)
        summary = engine.intents.summary if engine.intents is not None else None
        if summary is not None and settings.max_events_per_user < summary.window:
            # the heads were trained on counts over `window` events; a shorter store under-counts
            logger.warning(
                "store shorter than the model's history summary",
                extra={
                    "fields": {
                        "max_events_per_user": settings.max_events_per_user,
                        "summary_window": summary.window,
                        "fix": f"serve with --max-events {summary.window} or more",
                    }
                },
            )
        app.state.service = IntentService(engine, opened, settings, metrics)
        # Everything loaded so far (libraries, vocabularies, the session) lives as long as the
        # server: out of the collector's reach, a full collection no longer walks ~100k objects,
        # a 40 ms pause that landed on every request in flight (the p99 under load).
        gc.freeze()
        logger.info(
            "started",
            extra={"fields": {"runtime": str(runtime_path), "store": opened.url.split("://", 1)[0]}},
        )
        try:
            yield
        finally:
            app.state.service.close()
            app.state.service = None
            gc.unfreeze()
            logger.info("stopped")

    app = fastapi.FastAPI(title="seqintent", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.keys = keys if auth else None
    app.state.service = None
    for router in (
        events_router,
        users_router,
        predict_router,
        ops_router,
        metrics_route(settings.public_metrics),
    ):
        app.include_router(router)
    _add_error_handlers(app, fastapi, logger)
    _document_bodies(app, (EventsIn, PredictIn))
    app.add_middleware(_RequestLog, logger=logger, log_requests=settings.log_requests)
    return app


SPEC_ENV = "SEQINTENT_SERVE_SPEC"  # JSON: what app_from_environment builds (set by seqintent serve)


def app_from_environment() -> Any:
    """The app of one worker process of ``seqintent serve --workers N``.

    Each worker builds its own app (its Runtime, its store connection, its cache) from the JSON in
    ``SEQINTENT_SERVE_SPEC``: ``{"runtime", "settings", "keyfile", "auth"}``; keys come from the key
    file and ``SEQINTENT_API_KEYS``. The workers share the event store, and a cached answer is used
    only while the store's per-user counter of engaging events has not moved, so an event received
    by one worker retires the answers every worker cached for that user.
    """
    spec = json.loads(os.environ[SPEC_ENV])
    keys = KeyRing.from_sources(spec.get("keyfile")) if spec["auth"] else None
    return create_app(spec["runtime"], ServeSettings(**spec["settings"]), keys=keys, auth=spec["auth"])


def _document_bodies(app: Any, models: tuple[type[Any], ...]) -> None:
    """Put the request body models (parsed by ``deps.json_body``) in the OpenAPI components."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _add_error_handlers(app: Any, fastapi: Any, logger: logging.Logger) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    @app.exception_handler(RequestValidationError)
    async def validation(request: Any, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": field_path(tuple(e["loc"])) or str(e["loc"][0]),
                "location": str(e["loc"][0]) if e["loc"] else "body",
                "message": e["msg"].removeprefix("Value error, "),
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        return JSONResponse(
            {
                "error": "validation_error",
                "message": f"{first['field']}: {first['message']}",
                "errors": errors,
            },
            status_code=422,
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Any, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.code, "message": exc.message}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(SeqintentError)
    async def seqintent_error(request: Any, exc: SeqintentError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=400)

    @app.exception_handler(Exception)
    async def internal(request: Any, exc: Exception) -> JSONResponse:
        logger.error("internal error", exc_info=exc, extra={"fields": {"path": request.url.path}})
        return JSONResponse(
            {"error": "internal_error", "message": "internal error (logged)"}, status_code=500
        )


class _RequestLog:
    """ASGI middleware: latency histogram by route template and status, and one log line per request."""

    def __init__(self, app: Any, *, logger: logging.Logger, log_requests: bool) -> None:
        self.app = app
        self.logger = logger
        self.log_requests = log_requests

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics = getattr(scope.get("app"), "state", None)
            metrics = getattr(metrics, "metrics", None)
            if metrics is not None:
                metrics.request_seconds.labels(template, scope["method"], str(status)).observe(seconds)
            if self.log_requests and self.logger.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                self.logger.info(
                    "request",
                    extra={
                        "fields": {
                            "request_id": uuid.uuid4().hex[:16],
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": template,
                            "status": status,
                            "ms": round(seconds * 1000, 3),
                            "key": state.get("key_id"),
                        }
                    },
                )
