"""Property: whatever JSON a client sends, the answer is a 2xx or a 4xx that says why, never a 500."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.service_builders import auth

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytest.importorskip("fastapi")

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# event-like objects reach the deeper checks (times, actions, ids) and the store and model
field_values = {
    "user_id": st.text(max_size=6) | st.integers(-5, 5) | st.none(),
    "event_id": st.text(max_size=6) | st.integers() | st.none(),
    "ts": st.integers()
    | st.text(max_size=25)
    | st.sampled_from(["2024-03-31T01:30:00Z", "2024-03-31 02:30"])
    | st.integers(1_700_000_000_000, 1_800_000_000_000),
    "action": st.sampled_from(["view", "cart", "pv", "buy", "login", "", "VIEW ", "purchase"])
    | st.text(max_size=6),
    "item_id": st.sampled_from(["g0i0", "g1i2", "new"]) | st.integers() | st.text(max_size=4) | st.none(),
    "category": st.sampled_from(["c0", "c9"]) | st.none() | st.integers(),
    "dwell_s": st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.text(max_size=3),
    "amount": st.floats(allow_nan=True) | st.none(),
    "attrs": json_values,
    "text": st.text(max_size=30) | st.none(),
}
valid_events = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["u1", "u2", 3]),
        "ts": st.integers(1_711_800_000_000, 1_712_500_000_000),
        "action": st.sampled_from(["view", "cart", "pv", "buy", "fav", "search", "login"]),
    },
    optional={
        "item_id": st.sampled_from(["g0i0", "g0i1", "g2i2", "g5i1", "new-item"]),
        "event_id": st.sampled_from(["e1", "e2", "e3"]),
        "dwell_s": st.floats(0, 1e6),
        "category": st.sampled_from(["c0", "c3"]),
    },
)


@st.composite
def mutated_events(draw):
    """A valid event with one field replaced by any JSON value, or removed."""
    event = draw(valid_events)
    key = draw(st.sampled_from([*field_values, "surprise"]))
    if draw(st.booleans()):
        event.pop(key, None)
    else:
        event[key] = draw(field_values.get(key, json_values))
    return event


events = (
    valid_events
    | mutated_events()
    | st.fixed_dictionaries({}, optional=field_values)
    | st.dictionaries(st.text(max_size=6), json_values, max_size=3)
)
event_lists = st.lists(valid_events, min_size=1, max_size=6) | st.lists(events, max_size=6)
event_bodies = st.fixed_dictionaries({"events": event_lists}) | json_values
predict_bodies = (
    st.fixed_dictionaries(
        {"events": event_lists},
        optional={
            "k": st.integers(-3, 300) | st.text(max_size=3),
            "at": field_values["ts"],
            "explain": json_values,
        },
    )
    | json_values
)
queries = st.dictionaries(
    st.sampled_from(["k", "at", "explain", "exclude_seen", "limit", "other"]),
    st.text(max_size=12) | st.integers(-10, 10**14).map(str),
    max_size=4,
)


def post(client, path, body):
    """Send the body as Python writes it: NaN and Infinity included (JSON parsers in the wild accept them)."""
    content = json.dumps(body, allow_nan=True)
    return client.post(path, content=content, headers=auth() | {"Content-Type": "application/json"})


def check(response) -> None:
    assert response.status_code < 500 or response.status_code == 501, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] and body["message"]


@pytest.fixture()
def client(serve):
    return serve(cache_ttl_s=60)


@SETTINGS
@given(body=event_bodies)
def test_random_event_bodies_never_cause_a_500(client, body):
    check(post(client, "/v1/events", body))


@SETTINGS
@given(body=predict_bodies)
def test_random_predict_bodies_never_cause_a_500(client, body):
    check(post(client, "/v1/predict", body))


@SETTINGS
@given(
    user=st.text(min_size=1, max_size=10),
    route=st.sampled_from(["intent", "recommendations", "explain", "events", "risk"]),
    query=queries,
)
def test_random_queries_never_cause_a_500(client, user, route, query):
    params = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    check(client.get(f"/v1/users/{quote(user, safe='')}/{route}?{params}", headers=auth()))


@SETTINGS
@given(raw=st.binary(max_size=64))
def test_bytes_that_are_not_json_never_cause_a_500(client, raw):
    check(client.post("/v1/events", content=raw, headers=auth() | {"Content-Type": "application/json"}))
