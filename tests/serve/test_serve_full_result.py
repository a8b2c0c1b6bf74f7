"""Every answer over HTTP: a Runtime with intent heads and an anomaly model; events in, full result out."""

from __future__ import annotations

import pytest

from seqintent.runtime import InferenceEngine
from tests.runtime.intent_helpers import export_with_anomaly, online_events
from tests.service_builders import auth, make_keys

pytest.importorskip("fastapi")
pytest.importorskip("onnxruntime")

FIELDS = {"next_items", "next_action", "intents", "interests", "exclusions", "risk", "explanation"}


@pytest.fixture(scope="module")
def full_runtime(research, tmp_path_factory):
    return research[0], export_with_anomaly(research, tmp_path_factory.mktemp("full-runtime"))


@pytest.fixture()
def client(full_runtime, tmp_path):
    from fastapi.testclient import TestClient

    from seqintent.serve import ServeSettings, create_app

    app = create_app(
        full_runtime[1], ServeSettings(store=f"sqlite:///{tmp_path}/events.db"), keys=make_keys()
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_the_intent_of_a_stored_user_has_every_answer(client, full_runtime):
    dataset, runtime = full_runtime
    events = online_events(dataset, "u4")
    assert client.post("/v1/events", json={"events": events}, headers=auth()).status_code == 200
    at = events[-1]["ts"] + 60_000
    got = client.get(f"/v1/users/u4/intent?at={at}", headers=auth()).json()
    assert set(got) >= FIELDS and got["source"] == "model"
    stored = client.get("/v1/users/u4/events", headers=auth()).json()["events"]  # with their event ids
    engine = InferenceEngine.load(runtime, max_wait_ms=0.0)
    try:
        want = engine.predict(stored, user_id="u4", k=10, at_ms=at).model_dump(mode="json", exclude_none=True)
    finally:
        engine.close()
    assert got == want
    assert sum(got["next_action"].values()) == pytest.approx(1.0, abs=1e-4)
    assert set(got["intents"]) == {"buy_40h"} and 0 <= got["intents"]["buy_40h"] <= 1
    assert got["interests"] and got["risk"]["level"] in {"low", "medium", "high", "critical"}
    risk = client.get("/v1/users/u4/risk", headers=auth())
    assert risk.status_code == 200 and risk.json() == {"user_id": "u4", "risk": got["risk"]}


def test_a_cached_answer_follows_the_history_without_the_model(client, full_runtime):
    dataset, _ = full_runtime
    events = online_events(dataset, "u6")
    client.post("/v1/events", json={"events": events}, headers=auth())
    url = f"/v1/users/u6/intent?at={events[-1]['ts'] + 60_000}"
    first = client.get(url, headers=auth()).json()
    t = events[-1]["ts"]
    # views of items the model never saw leave the model's answer as it was, not the interests
    news = [
        {"user_id": "u6", "ts": t + 1000 * j, "action": "view", "item_id": f"new{j}", "category": "fresh"}
        for j in range(1, 13)
    ]
    client.post("/v1/events", json={"events": news}, headers=auth())
    second = client.get(url, headers=auth()).json()
    assert second["source"] == "cache" and second["next_items"] == first["next_items"]
    assert "fresh" in [x["category"] for x in second["interests"]]
    assert "fresh" not in [x["category"] for x in first["interests"]]
    # the same items skipped fast make the category an exclusion: the answer is computed again
    skips = [dict(news[j % 12], ts=t + 20_000 + 1000 * j, dwell_s=0.3) for j in range(20)]
    client.post("/v1/events", json={"events": skips}, headers=auth())
    third = client.get(url, headers=auth()).json()
    # (from popularity here: the model's window now holds only items it never saw)
    assert third["source"] != "cache" and "fresh" in third["exclusions"]


def test_predict_answers_a_given_history_with_every_answer(client, full_runtime):
    dataset, _ = full_runtime
    events = online_events(dataset, "u9")
    at = events[-1]["ts"] + 60_000
    r = client.post("/v1/predict", json={"events": events, "k": 5, "at": at}, headers=auth())
    assert r.status_code == 200
    got = r.json()
    assert set(got) >= FIELDS and len(got["next_items"]) == 5
    assert client.get("/v1/users/u9/events", headers=auth()).json()["events"] == []  # nothing stored


def test_risk_without_an_anomaly_model_is_501(serve):
    client = serve()
    r = client.get("/v1/users/u3/risk", headers=auth())
    assert r.status_code == 501 and "--anomaly" in r.json()["message"]
