"""``POST /v1/events``: events into the online store (idempotent, bounded, time-ordered)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from seqintent.serve.deps import ServiceDep, authorize, body_doc, invalid, json_body
from seqintent.serve.schemas import EventsIn, IngestOut

router = APIRouter(tags=["events"])


@router.post(
    "/v1/events",
    response_model=IngestOut,
    dependencies=[Depends(authorize("write"))],
    openapi_extra=body_doc(EventsIn),
)
def post_events(body: Annotated[EventsIn, Depends(json_body(EventsIn))], service: ServiceDep) -> IngestOut:
    """Store events; each is counted once: accepted, duplicate (same id), or too old for a full history."""
    most = service.settings.max_events_per_request
    if len(body.events) > most:
        raise invalid("body", "events", f"at most {most} events per request (got {len(body.events)})")
    result = service.ingest(body.events)
    return IngestOut(**result.counts())
