"""``POST /v1/predict`` bodies validate into history events as the store's events do."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from seqintent.serve.schemas import EventsIn, PredictIn


def test_history_events_are_canonical_with_no_nulls():
    events = [
        {"ts": 1511544070000, "action": "pv", "item_id": 5, "category": None, "dwell_s": None},
        {"ts": "2017-11-24T17:21:10Z", "action": "buy", "item_id": "7", "action_raw": "order"},
        {"ts": 1511544071000, "action": "PV", "attrs": {"a": None}},
    ]
    body = PredictIn.model_validate_json(json.dumps({"events": events}))
    assert body.events == [
        {"ts": 1511544070000, "action": "view", "action_raw": "pv", "item_id": "5"},
        {"ts": 1511544070000, "action": "buy", "item_id": "7", "action_raw": "order"},
        {"ts": 1511544071000, "action": "view", "action_raw": "PV", "attrs": {"a": None}},
    ]
    # the store's events canonicalise the same way (and get an id)
    stored = EventsIn.model_validate({"events": [{**e, "user_id": "u"} for e in events]}).events
    assert [{k: v for k, v in e.items() if k not in ("user_id", "event_id")} for e in stored] == body.events


def test_every_bad_event_field_is_reported_where_it_is():
    events = [
        {"ts": 1511544070000, "action": "view"},
        {"ts": 12, "action": "vew"},
        {"ts": 1511544070000, "action": "view", "colour": "red"},
        {"ts": "soon", "action": "buy"},
    ]
    with pytest.raises(ValidationError) as caught:
        PredictIn.model_validate_json(json.dumps({"events": events, "k": 0}))
    got = [(e["loc"], e["msg"]) for e in caught.value.errors()]
    assert [loc for loc, _ in got] == [
        ("events", 1, "ts"),
        ("events", 1, "action"),
        ("events", 2, "colour"),
        ("events", 3, "ts"),
        ("k",),
    ]
    assert got[0][1] == "Value error, too small for epoch milliseconds (epoch seconds? multiply by 1000)"
    assert got[1][1].startswith("Value error, not a canonical action or known synonym (closest: ")
