"""Request and response bodies of the HTTP API, validated field by field.

An event is a canonical event (:class:`~seqintent.schema.columns.Columns`): ``user_id``, ``ts``
(UTC epoch milliseconds, or ISO-8601 text; text without a zone is UTC), ``action`` (a canonical
action or a known synonym such as ``pv``; the text sent is kept as ``action_raw``), ``item_id``
and optional fields. Ids may be sent as text or integers. ``event_id`` makes re-sending safe;
without one, the id is a hash of the event's content, so the same event sent twice is stored once.
Unknown fields are refused (put free attributes in ``attrs``). Events validate into plain dicts
(TypedDicts): the stored form, with nothing more to convert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, NotRequired

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from seqintent.errors import close_names
from seqintent.schema.actions import CANONICAL_ACTIONS, SYNONYMS, canonical_action
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


def _known_action(value: str) -> str:
    if value in _CANONICAL or canonical_action(value) is not None:
        return value  # as sent: _finish keeps it as action_raw beside the canonical name
    near = ", ".join(close_names(value.strip().lower(), CANONICAL_ACTIONS))
    raise ValueError(f"not a canonical action or known synonym (closest: {near})")


_CANONICAL = {**{a: a for a in CANONICAL_ACTIONS}, **SYNONYMS}  # the exact spellings, one dict lookup
_FAST_TS = (MIN_TS_MS, MAX_TS_MS)


def _ts(value: Any) -> int:
    if type(value) is int and _FAST_TS[0] <= value <= _FAST_TS[1]:  # the common case, without a call
        return value
    return parse_ts(value)


def _canonical(event: dict[str, Any]) -> dict[str, Any]:
    """Canonical action (the text sent kept as ``action_raw``), no nulls: a history event as read."""
    return _canonical_events([event])[0]


def _canonical_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`_canonical` of every event, in one call for the whole list (a validator called per
    event costs more than its work)."""
    for event in events:
        if None in event.values():
            for name in [k for k, v in event.items() if v is None]:
                del event[name]
        sent = event[Columns.ACTION]
        action = _CANONICAL.get(sent) or canonical_action(sent)
        if action != sent:
            event[Columns.ACTION] = action
            event.setdefault(Columns.ACTION_RAW, sent)
    return events


def _finish(event: dict[str, Any]) -> dict[str, Any]:
    """The stored form: :func:`_canonical`, and an ``event_id`` (a content hash when none was sent)."""
    event = _canonical(event)
    if Columns.EVENT_ID not in event:
        event[Columns.EVENT_ID] = content_id(event)
    return event


_EVENT_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, coerce_numbers_to_str=True)


class _EventFields(TypedDict):
    """Fields every event may carry (a TypedDict: validated into a plain dict in one native pass)."""

    __pydantic_config__ = _EVENT_CONFIG  # type: ignore[misc]

    event_id: NotRequired[
        Annotated[TextId | None, Field(description="the client's id; default: a content hash")]
    ]
    ts: Annotated[
        int,
        BeforeValidator(_ts),
        Field(description="UTC epoch ms, or ISO-8601 text", examples=[1511544070000]),
    ]
    action: Annotated[
        str,
        Field(max_length=MAX_ID, description="canonical action (view, cart, buy, ...) or a known synonym"),
        AfterValidator(_known_action),
    ]
    action_raw: NotRequired[
        Annotated[str | None, Field(max_length=MAX_ID, description="the action as logged")]
    ]
    item_id: NotRequired[Annotated[TextId | None, Field(description="the item (unknown items are accepted)")]]
    category: NotRequired[Annotated[TextId | None, Field(description="the item's category")]]
    dwell_s: NotRequired[Annotated[float | None, Field(ge=0, description="seconds spent")]]
    amount: NotRequired[Annotated[float | None, Field(description="money amount")]]
    device: NotRequired[Annotated[TextId | None, Field(description="device id")]]
    session_id: NotRequired[Annotated[TextId | None, Field(description="session id")]]
    text: NotRequired[
        Annotated[str | None, Field(max_length=10_000, description="free text (a search query)")]
    ]
    attrs: NotRequired[Annotated[dict[str, Any] | None, Field(description="free attributes")]]


class EventIn(_EventFields):
    """One event for the store."""

    user_id: Annotated[TextId, Field(description="the user", examples=["1"])]


class HistoryEventIn(_EventFields):
    """One event of a history given in a request (the user is optional and not used)."""

    user_id: NotRequired[Annotated[TextId | None, Field(description="the user (ignored)")]]


def content_id(event: dict[str, Any]) -> str:
    """A stable id from an event's content (the same event always hashes the same)."""
    body = json.dumps({k: v for k, v in event.items() if k != Columns.EVENT_ID}, sort_keys=True, default=str)
    return "h" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]


class EventsIn(BaseModel):
    """``POST /v1/events`` body."""

    model_config = ConfigDict(extra="forbid")

    events: list[Annotated[EventIn, AfterValidator(_finish)]] = Field(
        min_length=1, description="events, in any order"
    )


class PredictIn(BaseModel):
    """``POST /v1/predict`` body: a history given in full (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    # nothing is stored, so no content hash is made for events sent without an id (about 6 µs each)
    events: Annotated[list[HistoryEventIn], AfterValidator(_canonical_events)] = Field(
        description="the history, in any order (sorted by time here)"
    )
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
