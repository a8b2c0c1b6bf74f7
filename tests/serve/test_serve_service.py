"""The service as plain Python: which events are engaging, the tiers, the clock, the store read window."""

from __future__ import annotations

import pytest

from seqintent.runtime import InferenceEngine
from seqintent.serve import AnswerParams, IntentService, ServeSettings, open_store


@pytest.fixture()
def make_service(exported_plain, tmp_path):
    services = []

    def make(**settings):
        settings = ServeSettings(store=f"sqlite:///{tmp_path}/e{len(services)}.db", **settings)
        clock = Clock()
        engine = InferenceEngine.load(exported_plain.runtime, max_wait_ms=0.0)
        service = IntentService(engine, open_store(settings.store), settings, clock=clock)
        services.append(service)
        return service, clock

    yield make
    for service in services:
        service.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_712_000_000_000

    def __call__(self) -> int:
        return self.now


def event(i, item="g0i1", action="view", user="u"):
    e = {"event_id": f"e{i}", "user_id": user, "ts": 1_711_900_000_000 + i * 60_000, "action": action}
    if item is not None:
        e["item_id"] = item
    return e


def test_engaging_events(make_service):
    service, _ = make_service()
    assert service.engaging(event(1))  # a known item
    assert not service.engaging(event(1, item="never-seen"))  # a view of an unknown item
    assert service.engaging(event(1, item="never-seen", action="cart"))  # not a plain browse
    assert not service.engaging(event(1, action="login"))  # an action the model never saw
    assert service.engaging(event(1, item=None, action="search"))
    strict, _ = make_service(tiered=False)
    assert strict.engaging(event(1, action="login"))


def test_requests_without_a_time_are_answered_for_the_clocks_now(make_service):
    service, clock = make_service()
    service.ingest([event(i) for i in range(5)])
    params = AnswerParams(k=5, at_ms=None, exclude_seen=False)
    first = service.answer("u", params)
    want = service.engine.predict(service.store.history("u").events, user_id="u", k=5, at_ms=clock.now)
    assert first == want
    clock.now += 100_000  # 100 s later: the cached answer holds until its TTL, on the same clock
    assert service.answer("u", params).source == "cache"
    clock.now += 1800 * 1000
    later = service.answer("u", params)
    assert later.source == "model"
    assert later == service.engine.predict(
        service.store.history("u").events, user_id="u", k=5, at_ms=clock.now
    )


def test_histories_without_anything_to_read_fall_back_to_popularity(make_service):
    service, _ = make_service()
    service.ingest([event(1, item="never-seen"), event(2, action="login")])
    result = service.answer("u", AnswerParams(k=3, at_ms=None, exclude_seen=False))
    assert (result.source, result.cold_start, result.history.ignored) == ("popularity", True, 1)
    strict, _ = make_service(tiered=False)  # without tiers the model reads the unknown-item view
    strict.ingest([event(1, item="never-seen"), event(2, action="login")])
    assert strict.answer("u", AnswerParams(k=3, at_ms=None, exclude_seen=False)).source == "model"


def test_actions_the_model_ignores_do_not_shrink_its_window(make_service):
    service, _ = make_service(max_events_per_user=1000)
    max_len = service.engine.max_len
    readable = [event(i, item=f"g0i{i % 3}") for i in range(max_len + 5)]
    noise = [event(1000 + i, action="login") for i in range(3 * max_len)]  # newer than every view
    service.ingest(readable + noise)
    result = service.answer("u", AnswerParams(k=3, at_ms=None, exclude_seen=False))
    assert result.history.read == max_len
    assert result.history.ignored == len(noise)
    whole = service.engine.predict(readable + noise, user_id="u", k=3, at_ms=service.clock())
    assert result == whole


def test_ingest_counts_and_invalidates_only_changed_users(make_service):
    service, _ = make_service()
    service.ingest([event(1, user="a"), event(1, user="b")])
    params = AnswerParams(k=3, at_ms=None, exclude_seen=False)
    service.answer("a", params)
    service.answer("b", params)
    result = service.ingest([event(2, user="a"), event(1, user="b")])
    assert (result.accepted, result.duplicates) == (1, 1)
    assert service.answer("a", params).source == "model"
    assert service.answer("b", params).source == "cache"
