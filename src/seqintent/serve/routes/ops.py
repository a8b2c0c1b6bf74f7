"""Operations: ``/healthz`` (liveness and the store's reachability) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from seqintent import __version__
from seqintent.serve.deps import ServiceDep, authorize

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(service: ServiceDep) -> JSONResponse:
    """200 when the model is loaded and the event store answers, 503 otherwise."""
    runtime = service.engine.runtime
    body = {
        "status": "ok",
        "version": __version__,
        "model": runtime.manifest.get("dataset"),
        "precision": service.engine.precision,
        "heads": service.engine.heads,
        "store": service.store.url.split("://", 1)[0],
    }
    try:
        service.store.ping()
    except Exception as exc:  # any failure to reach the store means "not ready"
        return JSONResponse(
            {**body, "status": "unavailable", "error": f"event store: {exc}"}, status_code=503
        )
    return JSONResponse(body)


def _metrics(request: Request) -> Response:
    content, media_type = request.app.state.metrics.render()
    return Response(content, media_type=media_type)


def metrics_route(public: bool) -> APIRouter:
    """The /metrics route, open or behind the ``read`` scope."""
    r = APIRouter(tags=["operations"])
    deps = [] if public else [Depends(authorize("read"))]
    r.add_api_route("/metrics", _metrics, methods=["GET"], dependencies=deps, summary="Prometheus metrics")
    return r
