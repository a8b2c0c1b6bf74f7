"""Request and response bodies of the HTTP API, validated field by field.

An event is a canonical event (:class:`~seqintent.schema.columns.Columns`): ``user_id``, ``ts``
(UTC epoch milliseconds, or ISO-8601 text; text without a zone is UTC), ``action`` (a canonical
action or a known synonym such as ``pv``; the text sent is kept as ``action_raw``), ``item_id``
and optional fields. Ids may be sent as text or integers. ``event_id`` makes re-sending safe;
without one, the id is a hash of the event's content, so the same event sent twice is stored once.
Unknown fields are refused (put free attributes in ``attrs``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from seqintent.errors import close_names
from seqintent.schema.actions import CANONICAL_ACTIONS, canonical_action
from seqintent.schema.columns import Columns

MIN_TS_MS = 100_000_000_000  # 1973-03-03: smaller values are almost surely epoch seconds
MAX_TS_MS = 32_503_680_000_000  # year 3000
MAX_ID = 256


# Ids may come as JSON numbers: the models coerce numbers to text natively (no Python call per field).
TextId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]


def parse_ts(value: Any) -> int:
    """UTC epoch milliseconds from an integer (ms) or ISO-8601 text.

    >>> parse_ts(1511544070000), parse_ts("2017-11-24T17:21:10Z"), parse_ts("2017-11-25T01:21:10+08:00")
    (1511544070000, 1511544070000, 1511544070000)
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected epoch milliseconds (an integer) or ISO-8601 text")
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not ISO-8601 text (e.g. 2017-11-24T17:21:10Z) nor epoch milliseconds") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        value = round(moment.timestamp() * 1000)
    if value < MIN_TS_MS:
        raise ValueError("too small for epoch milliseconds (epoch seconds? multiply by 1000)")
    if value > MAX_TS_MS:
        raise ValueError("beyond the year 3000: expected epoch milliseconds")
    return value


class _EventFields(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)

    event_id: TextId | None = Field(None, description="the client's id; default: a hash of the content")
    ts: Annotated[int, BeforeValidator(parse_ts)] = Field(
        description="UTC epoch milliseconds, or ISO-8601 text", examples=[1511544070000]
    )
    action: str = Field(
        description="canonical action (view, cart, buy, ...) or a known synonym", examples=["view"]
    )
    action_raw: str | None = Field(None, max_length=MAX_ID, description="the action as the log names it")
    item_id: TextId | None = Field(None, description="the item (unknown items are accepted)")
    category: TextId | None = Field(None, description="the item's category")
    dwell_s: float | None = Field(None, ge=0, description="seconds spent")
    amount: float | None = Field(None, description="money amount")
    device: TextId | None = Field(None, description="device id")
    session_id: TextId | None = Field(None, description="session id")
    text: str | None = Field(None, max_length=10_000, description="free text (a search query, a review)")
    attrs: dict[str, Any] | None = Field(None, description="free attributes")

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        if canonical_action(value) is None:
            near = ", ".join(close_names(value.strip().lower(), CANONICAL_ACTIONS))
            raise ValueError(f"not a canonical action or known synonym (closest: {near})")
        return value  # as sent: online() keeps it as action_raw beside the canonical name

    def online(self, user_id: str) -> dict[str, Any]:
        """The stored form: canonical names, ``event_id`` filled in (``action_raw`` only when it differs)."""
        event: dict[str, Any] = {Columns.USER: user_id}
        for name in _ONLINE_FIELDS:  # attribute reads: a model_dump per event costs more than the rest
            value = getattr(self, name)
            if value is not None:
                event[name] = value
        action = canonical_action(self.action)
        if self.action_raw is None and action != self.action:
            event[Columns.ACTION_RAW] = self.action
        event[Columns.ACTION] = action
        if self.event_id is None:
            event[Columns.EVENT_ID] = content_id(event)
        return event


_ONLINE_FIELDS = (
    Columns.EVENT_ID,
    Columns.TIME,
    Columns.ACTION,
    Columns.ACTION_RAW,
    Columns.ITEM,
    Columns.CATEGORY,
    Columns.DWELL,
    Columns.AMOUNT,
    Columns.DEVICE,
    Columns.SESSION,
    Columns.TEXT,
    Columns.ATTRS,
)


def content_id(event: dict[str, Any]) -> str:
    """A stable id from an event's content (the same event always hashes the same)."""
    body = json.dumps({k: v for k, v in event.items() if k != Columns.EVENT_ID}, sort_keys=True, default=str)
    return "h" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


class EventIn(_EventFields):
    """One event for the store."""

    user_id: TextId = Field(description="the user", examples=["1"])


class HistoryEventIn(_EventFields):
    """One event of a history given in a request (the user is optional)."""

    user_id: TextId | None = Field(None, description="the user (ignored: the request is one history)")


class EventsIn(BaseModel):
    """``POST /v1/events`` body."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, description="events, in any order")


class PredictIn(BaseModel):
    """``POST /v1/predict`` body: a history given in full (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    events: list[HistoryEventIn] = Field(description="the history, in any order (sorted by time here)")
    k: int | None = Field(None, ge=1, description="next items to return (default: the service's)")
    at: Annotated[int, BeforeValidator(parse_ts)] | None = Field(
        None, description="the moment predicted for (epoch ms or ISO-8601); default: now"
    )
    explain: bool = Field(True, description="include the explanation")
    exclude_seen: bool = Field(False, description="leave out items of the history")


class IngestOut(BaseModel):
    """What ``POST /v1/events`` did with the events (each counted once)."""

    accepted: int = Field(description="stored")
    duplicates: int = Field(description="already stored (same event id): nothing changed")
    too_old: int = Field(description="older than every kept event of a full history: not stored")
    trimmed: int = Field(description="older events removed to keep histories bounded")
