"""Answers about a stored user: intent (everything), recommendations, explanation, risk, and the history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from seqintent.runtime import Explanation, ItemScore, PredictResult, Risk
from seqintent.runtime.result import Source
from seqintent.serve.deps import ApiError, ServiceDep, answer_params, authorize, invalid, json_response

router = APIRouter(prefix="/v1/users/{user_id}", tags=["users"], dependencies=[Depends(authorize("read"))])

K = Annotated[int | None, Query(description="next items to return (default 10)")]
AT = Annotated[str | None, Query(description="the moment predicted for: epoch ms or ISO-8601 (default: now)")]
EXCLUDE_SEEN = Annotated[bool, Query(description="leave out items the user already has in the history")]
EXPLAIN = Annotated[bool, Query(description="include the explanation")]
LIMIT = Annotated[int | None, Query(ge=1, description="only the newest events")]


class RecommendationsOut(BaseModel):
    user_id: str
    items: list[ItemScore] = Field(description="top-K next items, likeliest first")
    cold_start: bool = Field(description="the history had nothing the model can infer from (popularity)")
    source: Source


class ExplainOut(BaseModel):
    user_id: str
    explanation: Explanation | None = Field(description="None when the answer came from popularity")
    source: Source


class HistoryOut(BaseModel):
    user_id: str
    events: list[dict] = Field(description="the stored events, oldest first")
    version: int = Field(description="events accepted for this user so far")


@router.get("/intent", response_model=PredictResult, response_model_exclude_none=True)
def intent(
    user_id: str,
    service: ServiceDep,
    k: K = None,
    at: AT = None,
    explain: EXPLAIN = True,
    exclude_seen: EXCLUDE_SEEN = False,
) -> Response:
    """Everything about the user: next items, next action, intents, interests, exclusions, risk, why."""
    result = service.answer(user_id, answer_params(service, k, at, exclude_seen))
    return json_response(result if explain else result.model_copy(update={"explanation": None}))


@router.get("/recommendations", response_model=RecommendationsOut, response_model_exclude_none=True)
def recommendations(
    user_id: str,
    service: ServiceDep,
    k: K = None,
    at: AT = None,
    exclude_seen: EXCLUDE_SEEN = False,
) -> Response:
    """Top-K next items for the user."""
    result = service.answer(user_id, answer_params(service, k, at, exclude_seen))
    out = RecommendationsOut(
        user_id=user_id, items=result.next_items, cold_start=result.cold_start, source=result.source
    )
    return json_response(out)


@router.get("/explain", response_model=ExplainOut, response_model_exclude_none=True)
def explain(user_id: str, service: ServiceDep, at: AT = None) -> Response:
    """The events that drove the user's answer, with weights, and a rationale in words."""
    result = service.answer(user_id, answer_params(service, None, at, False))
    return json_response(ExplainOut(user_id=user_id, explanation=result.explanation, source=result.source))


class RiskOut(BaseModel):
    user_id: str
    risk: Risk | None = Field(description="risk of the newest session (None: no stored events)")


@router.get("/risk", response_model=RiskOut, response_model_exclude_none=True)
def risk(user_id: str, service: ServiceDep) -> Response:
    """Risk of the user's newest session (needs a Runtime exported with ``--anomaly``; 501 otherwise)."""
    if not service.engine.has_risk:
        raise ApiError(
            501,
            "not_available",
            "this runtime has no anomaly model: risk scoring is not available "
            "(export the model with --anomaly ANOMALY_DIR)",
        )
    history = service.store.history(user_id, limit=service.settings.max_events_per_user)
    return json_response(RiskOut(user_id=user_id, risk=service.engine.risk(history.events, user_id)))


@router.get("/events", response_model=HistoryOut)
def events(user_id: str, service: ServiceDep, limit: LIMIT = None) -> HistoryOut:
    """The user's stored events, oldest first."""
    if limit is not None and limit > service.settings.max_events_per_user:
        raise invalid("query", "limit", f"must be at most {service.settings.max_events_per_user}", limit)
    history = service.store.history(user_id, limit=limit)
    return HistoryOut(user_id=user_id, events=history.events, version=history.state.version)
