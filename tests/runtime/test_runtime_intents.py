"""The full predict result of a Runtime: intents, interests, exclusions and risk, as the Model answers."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.runtime import InferenceEngine, Runtime
from seqintent.runtime._answers import interests_of
from seqintent.runtime._folder import InterestSpec
from tests.runtime.intent_helpers import export_with_anomaly, online_events
from tests.runtime_builders import rich_events

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def intent_runtime(research, tmp_path_factory):
    """The research model (intent heads) exported with an anomaly model fitted on its Dataset."""
    dataset, _, model, _ = research
    return dataset, model, export_with_anomaly(research, tmp_path_factory.mktemp("intent-runtime"))


def test_the_runtime_answers_what_the_model_answers(intent_runtime):
    from seqintent.explain import predict

    dataset, model, runtime = intent_runtime
    engine = InferenceEngine.load(runtime, max_wait_ms=0.0)
    try:
        assert engine.heads == ["next_item", "next_action", "intents"]
        for user in ("u1", "u7", "u20"):
            events = online_events(dataset, user)
            want = predict(model, events=events, k=10, explain=None)[0]
            got = engine.predict(events, user_id=user, k=10)
            assert got.source == "model"
            assert list(got.next_action) == list(want["next_action"])  # same order: likeliest first
            for action, p in want["next_action"].items():
                assert got.next_action[action] == pytest.approx(p, abs=1e-4)
            assert sum(got.next_action.values()) == pytest.approx(1.0, abs=1e-4)
            assert list(got.next_family) == list(want.get("next_family", {}))
            for family, p in want.get("next_family", {}).items():
                assert got.next_family[family] == pytest.approx(p, abs=1e-4)
            assert (
                set(got.intents) == {i["label"] for i in want["intents"]} == {"buy_40h"}
            )  # no like in the log
            for intent in want["intents"]:
                assert got.intents[intent["label"]] == pytest.approx(intent["probability"], abs=1e-4)
            assert got.interests == want["interests"]
            assert got.exclusions == [x["category"] for x in want["exclusions"]]
            assert [x.item_id for x in got.next_items] == [x["item"] for x in want["next_items"]]
            assert got.explanation is not None and got.explanation.events
    finally:
        engine.close()


def test_the_summary_of_online_events_is_the_one_training_computed(intent_runtime):
    from seqintent.models import EventTokens
    from seqintent.runtime import HistoryEncoder

    dataset, model, runtime = intent_runtime
    heads = model.intents.heads
    assert heads.summary is not None  # the default: intent heads read the whole-history summary
    loaded = Runtime.load(runtime)
    assert loaded.config.intents.summary.window == heads.summary_window
    encoder = HistoryEncoder(loaded.config, loaded.vocabs)
    tokens = EventTokens.from_dataset(dataset, model.spec)
    users = dataset.vocab("users")
    for user in ("u1", "u7", "u20"):
        events = online_events(dataset, user)
        start = tokens.offsets[users.index_of(user)]
        for end in (1, 4, len(events) // 2, len(events)):
            want = heads.summarize(tokens, np.array([start]), np.array([start + end - 1])).numpy()[0]
            got = encoder.encode(events[:end]).summary
            np.testing.assert_allclose(got, want, atol=1e-6, err_msg=f"{user}, {end} events")


def test_excluded_categories_leave_the_next_items(intent_runtime):
    dataset, _, runtime = intent_runtime
    engine = InferenceEngine.load(runtime, max_wait_ms=0.0)
    try:
        events = online_events(dataset, "u3")
        categories = {e["item_id"]: e.get("category") for e in events}
        top_category = categories.get(engine.predict(events, k=1).next_items[0].item_id)
        assert top_category is not None
        # the user now skips items of the top item's category, fast, time after time
        item = next(e["item_id"] for e in events if e.get("category") == top_category)
        others = [e for e in events if e.get("category") != top_category]
        t = others[-1]["ts"]
        skipped = [
            {
                "ts": t + 1000 * (j + 1),
                "action": "view",
                "item_id": item,
                "category": top_category,
                "dwell_s": 0.5,
            }
            for j in range(8)
        ]
        result = engine.predict(others + skipped, k=10)
        assert top_category in result.exclusions
        item_category = np.load(runtime / "item_category.npy")
        names = engine.runtime.vocabs["categories"].values
        assert all(
            names[item_category[engine.items.index_of(x.item_id)]] != top_category for x in result.next_items
        )
    finally:
        engine.close()


def test_risk_comes_from_the_exported_anomaly_model(intent_runtime):
    from seqintent.anomaly import AnomalyDetector

    dataset, _, runtime = intent_runtime
    engine = InferenceEngine.load(runtime, max_wait_ms=0.0)
    try:
        assert engine.has_risk
        events = online_events(dataset, "u5")
        got = engine.predict(events, user_id="u5", k=5)
        want = AnomalyDetector.load(runtime / "anomaly").score(events)
        newest = max(want, key=lambda r: r.end_ts)
        assert got.risk is not None
        assert (got.risk.score, got.risk.level, got.risk.action) == (
            newest.score,
            newest.level,
            newest.action,
        )
        assert got.risk.reasons == [r.text for r in newest.reasons]
        assert 0 <= got.risk.score <= 100
        # a cold history still gets its risk, interests and exclusions (not its intents)
        cold = engine.predict(
            [{"ts": events[-1]["ts"], "action": "view", "item_id": "never-seen"}], user_id="u5"
        )
        assert cold.source == "popularity" and cold.risk is not None and cold.intents == {}
    finally:
        engine.close()


def test_a_next_item_runtime_leaves_intents_empty_and_risk_out(exported_plain):
    engine = InferenceEngine.load(exported_plain.runtime, max_wait_ms=0.0)
    try:
        events = [e for e in exported_plain.events if e["user_id"] == "u3"]
        result = engine.predict(events, k=3)
        assert result.next_action == {} and result.intents == {} and result.interests == []
        assert result.risk is None and not engine.has_risk
        assert Runtime.load(exported_plain.runtime).config.intents is None
    finally:
        engine.close()


def test_interests_equal_the_explain_stage():
    from seqintent.explain.interests import interests_and_exclusions
    from seqintent.models.intent_config import InterestConfig
    from seqintent.schema.actions import ACTION_FAMILY

    config = InterestConfig(half_life="2h", min_skips=2, skip_share=0.5)
    spec = InterestSpec(
        half_life_s=7200.0, half_life_events=50, skip_dwell_s=3.0, min_skips=2, skip_share=0.5, top=5
    )
    events = rich_events(users=20, length=40, seed=3)
    for user in {e["user_id"] for e in events}:
        history = [e for e in events if e["user_id"] == user]
        want = interests_and_exclusions(
            [e.get("category") for e in history],
            [ACTION_FAMILY[e["action"]] for e in history],
            np.array([e.get("dwell_s", np.nan) for e in history]),
            np.array([e["ts"] / 1000.0 for e in history]),
            config,
            [e.get("item_id") for e in history],
        )
        got = interests_of(history, spec)
        assert got.interests == want.interests
        assert got.exclusions == [x["category"] for x in want.exclusions]


def test_the_runtime_scorer_feeds_the_summary_and_ranks_like_the_model(intent_runtime):
    from seqintent.evaluate.ranking import evaluate_ranking
    from seqintent.runtime import RuntimeScorer

    dataset, model, runtime = intent_runtime
    results = evaluate_ranking(dataset, {"torch": model, "onnx": RuntimeScorer(runtime)}, bootstrap=0)
    assert results["onnx"].metrics == pytest.approx(results["torch"].metrics, abs=1e-9)


def test_a_graph_with_another_summary_layout_is_refused_at_load(intent_runtime, monkeypatch):
    import seqintent.runtime._folder as folder_module
    from seqintent.errors import ArtifactError

    _, _, runtime_path = intent_runtime
    # as if this version computed a wider summary than the graph was exported with
    width = folder_module.summary_width
    monkeypatch.setattr(folder_module, "summary_width", lambda *sizes: width(*sizes) + 6)
    with pytest.raises(ArtifactError, match="layout changed") as err:
        InferenceEngine.load(runtime_path)
    assert "re-train" in str(err.value) and "model.onnx" in str(err.value)
