"""The HTTP API end to end, on a real SQLite file and a real redis-server."""

from __future__ import annotations

import gc
import io
import json
import logging

import pytest

from seqintent.runtime import InferenceEngine
from tests.service_builders import READ_WRITE, auth

pytest.importorskip("fastapi")


def user_events(exported, user="u3", n=None):
    events = [e for e in exported.events if e["user_id"] == user]
    return events[:n] if n else events


def expected(exported, events, at_ms, k=10, user_id=None):
    engine = InferenceEngine.load(exported.runtime, max_wait_ms=0.0)
    try:
        return engine.predict(events, user_id=user_id, k=k, at_ms=at_ms).model_dump(
            mode="json", exclude_none=True
        )
    finally:
        engine.close()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return request.getfixturevalue("redis_url")


def test_events_in_then_the_intent_out_equals_the_engine(serve, store_url, exported_plain):
    client = serve(store_url)
    events = user_events(exported_plain, n=15)
    r = client.post("/v1/events", json={"events": events}, headers=auth())
    assert r.status_code == 200
    assert r.json() == {"accepted": 15, "duplicates": 0, "too_old": 0, "trimmed": 0}
    at = events[-1]["ts"] + 60_000
    r = client.get(f"/v1/users/u3/intent?at={at}", headers=auth())
    assert r.status_code == 200
    assert r.json() == expected(exported_plain, events, at, user_id="u3")
    r = client.get(f"/v1/users/u3/recommendations?at={at}&k=3", headers=auth())
    want = expected(exported_plain, events, at, k=3)
    assert r.json() == {"user_id": "u3", "items": want["next_items"], "cold_start": False, "source": "model"}
    r = client.get(f"/v1/users/u3/explain?at={at}", headers=auth())
    assert r.json()["explanation"] == expected(exported_plain, events, at)["explanation"]
    assert r.json()["source"] == "cache"  # same parameters as the first call (k defaults to 10)


def test_same_events_twice_are_stored_once_and_late_ones_by_time(serve, store_url, exported_plain):
    client = serve(store_url)
    events = user_events(exported_plain, n=8)
    assert client.post("/v1/events", json={"events": events[4:]}, headers=auth()).json()["accepted"] == 4
    r = client.post("/v1/events", json={"events": events[:4] + events[4:6]}, headers=auth())
    assert r.json() == {"accepted": 4, "duplicates": 2, "too_old": 0, "trimmed": 0}
    stored = client.get("/v1/users/u3/events", headers=auth()).json()
    assert [e["event_id"] for e in stored["events"]] == [e["event_id"] for e in events]
    assert stored["version"] == 8
    # without ids, the content hash makes a re-sent event a duplicate too
    bare = {k: v for k, v in events[0].items() if k != "event_id"} | {"user_id": "anon"}
    assert client.post("/v1/events", json={"events": [bare]}, headers=auth()).json()["accepted"] == 1
    assert client.post("/v1/events", json={"events": [bare]}, headers=auth()).json()["duplicates"] == 1


def test_a_restart_loses_no_acknowledged_event(serve, store_url, exported_plain):
    client = serve(store_url)
    events = user_events(exported_plain, n=10)
    for i in range(0, 10, 3):
        assert (
            client.post("/v1/events", json={"events": events[i : i + 3]}, headers=auth()).status_code == 200
        )
    at = events[-1]["ts"] + 1000
    before = client.get(f"/v1/users/u3/intent?at={at}", headers=auth()).json()
    serve.stop(client)
    again = serve(store_url)
    stored = again.get("/v1/users/u3/events", headers=auth()).json()
    assert [e["event_id"] for e in stored["events"]] == [e["event_id"] for e in events]
    after = again.get(f"/v1/users/u3/intent?at={at}", headers=auth()).json()
    assert after == before  # recomputed by the model (a fresh cache), same answer


def test_cache_serves_until_an_engaging_event_arrives(serve, exported_plain):
    client = serve()
    events = user_events(exported_plain, n=10)
    client.post("/v1/events", json={"events": events[:9]}, headers=auth())
    at = events[-1]["ts"] + 1000
    url = f"/v1/users/u3/intent?at={at}"
    first = client.get(url, headers=auth()).json()
    assert first["source"] == "model"
    assert client.get(url, headers=auth()).json() == first | {"source": "cache"}
    # a view of an item the model never saw cannot change the answer: still the cached one
    cold = {**events[9], "event_id": "cold", "item_id": "never-seen"}
    assert client.post("/v1/events", json={"events": [cold]}, headers=auth()).json()["accepted"] == 1
    assert client.get(url, headers=auth()).json()["source"] == "cache"
    # an event the model can read invalidates it
    client.post("/v1/events", json={"events": [events[9]]}, headers=auth())
    fresh = client.get(url, headers=auth()).json()
    assert fresh["source"] == "model"
    assert fresh["history"]["events"] == 11
    assert fresh == expected(exported_plain, [*events[:9], cold, events[9]], at, user_id="u3")


def test_without_tiers_every_event_invalidates(serve, exported_plain):
    client = serve(tiered=False)
    events = user_events(exported_plain, n=5)
    client.post("/v1/events", json={"events": events}, headers=auth())
    url = f"/v1/users/u3/intent?at={events[-1]['ts'] + 1000}"
    assert client.get(url, headers=auth()).json()["source"] == "model"
    cold = {**events[-1], "event_id": "cold", "item_id": "never-seen"}
    client.post("/v1/events", json={"events": [cold]}, headers=auth())
    assert client.get(url, headers=auth()).json()["source"] == "model"


def test_cached_answers_expire(serve, exported_plain):
    client = serve(cache_ttl_s=60)
    events = user_events(exported_plain, n=5)
    client.post("/v1/events", json={"events": events}, headers=auth())
    now = [1000.0]
    client.app.state.service.cache.clock = lambda: now[0]
    url = f"/v1/users/u3/intent?at={events[-1]['ts'] + 1000}"
    assert client.get(url, headers=auth()).json()["source"] == "model"
    now[0] += 59
    assert client.get(url, headers=auth()).json()["source"] == "cache"
    now[0] += 2
    assert client.get(url, headers=auth()).json()["source"] == "model"


def test_unknown_user_gets_popularity(serve, exported_plain):
    client = serve()
    body = client.get("/v1/users/nobody/intent?k=2", headers=auth()).json()
    assert body["source"] == "popularity" and body["cold_start"] is True
    assert body["history"] == {"events": 0, "read": 0, "ignored": 0, "known_items": 0}
    assert "explanation" not in body
    assert len(body["next_items"]) == 2


@pytest.mark.parametrize("model_thread", [True, False], ids=["model-thread", "model-on-loop"])
def test_predict_answers_a_given_history_and_stores_nothing(serve, exported_plain, model_thread):
    client = serve(model_thread=model_thread)
    events = user_events(exported_plain, n=12)
    at = events[-1]["ts"] + 5000
    shuffled = events[6:] + events[:6]  # sorted by time on arrival
    r = client.post("/v1/predict", json={"events": shuffled, "k": 4, "at": at}, headers=auth())
    assert r.status_code == 200
    assert r.json() == expected(exported_plain, events, at, k=4)
    assert client.get("/v1/users/u3/events", headers=auth()).json()["events"] == []
    r = client.post("/v1/predict", json={"events": events, "explain": False, "at": at}, headers=auth())
    assert "explanation" not in r.json()
    # ids are echoed when sent; none are made up for a history that is not stored
    with_ids = [{**e, "event_id": f"mine-{i}"} for i, e in enumerate(events)]
    without = [{k: v for k, v in e.items() if k != "event_id"} for e in events]
    for history, want in ((with_ids, True), (without, False)):
        r = client.post("/v1/predict", json={"events": history, "at": at}, headers=auth())
        explained = r.json()["explanation"]["events"]
        assert explained and all(("event_id" in x) is want for x in explained)
        assert all(x["event_id"].startswith("mine-") for x in explained if want)


def test_malformed_events_get_422_naming_the_field(serve, exported_plain):
    client = serve()
    good = user_events(exported_plain, n=1)[0]
    r = client.post("/v1/events", json={"events": [good, {**good, "ts": None}]}, headers=auth())
    assert r.status_code == 422
    assert r.json() == {
        "error": "validation_error",
        "message": "events[1].ts: expected epoch milliseconds (an integer) or ISO-8601 text",
        "errors": [
            {
                "field": "events[1].ts",
                "location": "body",
                "message": "expected epoch milliseconds (an integer) or ISO-8601 text",
                "type": "value_error",
            }
        ],
    }
    cases = [
        ({"action": "purchased"}, "events[0].action", "not a canonical action or known synonym (closest: "),
        (
            {"ts": 1511544070},
            "events[0].ts",
            "too small for epoch milliseconds (epoch seconds? multiply by 1000)",
        ),
        ({"ts": "yesterday"}, "events[0].ts", "not ISO-8601 text"),
        ({"colour": "red"}, "events[0].colour", "Extra inputs are not permitted"),
        ({"dwell_s": -1}, "events[0].dwell_s", "Input should be greater than or equal to 0"),
        ({"user_id": ""}, "events[0].user_id", "String should have at least 1 character"),
        ({"item_id": True}, "events[0].item_id", "Input should be a valid string"),
    ]
    for change, field, message in cases:
        r = client.post("/v1/events", json={"events": [{**good, **change}]}, headers=auth())
        assert r.status_code == 422, change
        assert r.json()["errors"][0]["field"] == field
        assert r.json()["errors"][0]["message"].startswith(message), r.json()
    missing = {k: v for k, v in good.items() if k != "action"}
    assert client.post("/v1/events", json={"events": [missing]}, headers=auth()).json()["errors"][0] == {
        "field": "events[0].action",
        "location": "body",
        "message": "Field required",
        "type": "missing",
    }
    assert (
        client.post("/v1/events", json={"events": []}, headers=auth()).json()["errors"][0]["field"]
        == "events"
    )
    r = client.post("/v1/events", content=b"{not json", headers=auth() | {"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    for query, field in (("k=0", "k"), ("k=101", "k"), ("k=x", "k"), ("at=soon", "at"), ("at=12", "at")):
        r = client.get(f"/v1/users/u3/intent?{query}", headers=auth())
        assert (r.status_code, r.json()["errors"][0]["field"]) == (422, field), query
    # nothing of the bad requests was stored
    assert client.get("/v1/users/u3/events", headers=auth()).json()["events"] == []


def test_iso_times_synonyms_and_integer_ids_are_accepted(serve):
    client = serve()
    event = {"user_id": 7, "ts": "2024-03-31T01:30:00+01:00", "action": "PV", "item_id": 123, "event_id": 1}
    assert client.post("/v1/events", json={"events": [event]}, headers=auth()).json()["accepted"] == 1
    stored = client.get("/v1/users/7/events", headers=auth()).json()["events"]
    assert stored == [
        {
            "event_id": "1",
            "user_id": "7",
            "ts": 1_711_845_000_000,
            "action": "view",
            "action_raw": "PV",
            "item_id": "123",
        }
    ]


def test_too_many_events_per_request(serve, exported_plain):
    client = serve(max_events_per_request=3)
    events = user_events(exported_plain, n=4)
    r = client.post("/v1/events", json={"events": events}, headers=auth())
    assert (r.status_code, r.json()["message"]) == (422, "events: at most 3 events per request (got 4)")


def test_health_metrics_openapi_and_risk(serve, exported_plain):
    client = serve()
    events = user_events(exported_plain, n=6)
    client.post("/v1/events", json={"events": events}, headers=auth())
    client.post("/v1/events", json={"events": events[:2]}, headers=auth())
    at = events[-1]["ts"] + 1000
    client.get(f"/v1/users/u3/intent?at={at}", headers=auth())
    client.get(f"/v1/users/u3/intent?at={at}", headers=auth())
    client.get("/v1/users/ghost/intent", headers=auth())
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() | {"version": None} == {
        "status": "ok",
        "version": None,
        "model": "rich",
        "precision": "fp32",
        "heads": ["next_item"],
        "store": "sqlite",
    }
    text = client.get("/metrics").text
    for line in (
        'seqintent_answers_total{source="model"} 1.0',
        'seqintent_answers_total{source="cache"} 1.0',
        'seqintent_answers_total{source="popularity"} 1.0',
        'seqintent_cache_lookups_total{result="hit"} 1.0',
        'seqintent_cache_lookups_total{result="miss"} 2.0',
        "seqintent_cache_hit_ratio 0.3333333333333333",
        'seqintent_events_total{outcome="accepted"} 6.0',
        'seqintent_events_total{outcome="duplicate"} 2.0',
        "seqintent_store_users 1.0",
        "seqintent_store_events 6.0",
        "seqintent_model_batch_size_count 1.0",
        'seqintent_request_seconds_count{method="GET",route="/v1/users/{user_id}/intent",status="200"} 3.0',
        'seqintent_request_seconds_count{method="POST",route="/v1/events",status="200"} 2.0',
    ):
        assert line in text, line
    assert (
        'seqintent_request_seconds_bucket{le="0.015",method="GET",route="/v1/users/{user_id}/intent"' in text
    )
    spec = client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/predict", "/v1/users/{user_id}/intent", "/healthz", "/metrics"} <= set(
        spec["paths"]
    )
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "next_items" in spec["components"]["schemas"]["PredictResult"]["properties"]
    r = client.get("/v1/users/u3/risk", headers=auth())
    assert (r.status_code, r.json()["error"]) == (501, "not_available")
    assert client.get("/nope").json() == {"error": "not_found", "message": "Not Found"}


def test_one_structured_log_line_per_request(serve):
    client = serve()
    stream = io.StringIO()
    logging.getLogger("seqintent.serve").handlers[0].setStream(stream)
    client.get("/v1/users/someone/intent?k=1", headers=auth(READ_WRITE))
    client.get("/v1/users/someone/intent")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["msg"], x["route"], x["status"], x["key"]) for x in lines] == [
        ("request", "/v1/users/{user_id}/intent", 200, "k-rw"),
        ("request", "/v1/users/{user_id}/intent", 401, None),
    ]
    assert lines[0]["path"] == "/v1/users/someone/intent" and lines[0]["ms"] > 0
    assert lines[0]["level"] == "info" and len(lines[0]["request_id"]) == 16


def test_health_is_503_when_redis_is_down(exported_plain, tmp_path):
    from fastapi.testclient import TestClient
    from service_builders import REDIS_SERVER, RedisServer

    from seqintent.serve import ServeSettings, create_app

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    app = create_app(exported_plain.runtime, ServeSettings(store=server.url), auth=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        server.stop()
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"
        assert r.json()["error"].startswith("event store: ")
        r = client.post("/v1/events", json={"events": [user_events(exported_plain, n=1)[0]]})
        assert r.status_code == 500 and r.json() == {
            "error": "internal_error",
            "message": "internal error (logged)",
        }


def test_openapi_documents_the_request_bodies(serve):
    spec = serve().get("/openapi.json").json()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventsIn"}
    schemas = spec["components"]["schemas"]
    assert schemas["EventsIn"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/EventIn"}
    assert {"user_id", "ts", "action"} <= set(schemas["EventIn"]["required"])
    assert "HistoryEventIn" in schemas and "PredictIn" in schemas


def test_the_loaded_service_is_out_of_the_collectors_reach_while_it_serves(serve):
    """A full collection would walk every object loaded at start-up: a pause every request waits out."""
    client = serve()
    assert gc.get_freeze_count() > 10_000
    serve.stop(client)
    assert gc.get_freeze_count() == 0
