"""``predict``: explanations that sum to 1 and find the planted cause, exclusions, cold start, inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqintent.errors import ConfigError, DataError
from seqintent.evaluate.intents import intent_cuts
from seqintent.explain import (
    AnswerFunction,
    compact,
    event_weights,
    histories_from_dataset,
    interests_and_exclusions,
    predict,
)
from seqintent.models.calibration import sigmoid
from seqintent.models.intent_config import InterestConfig
from seqintent.models.model import model_rows
from seqintent.schema.columns import Splits

T0 = 1_700_000_000_000


def _return_sessions(research):
    """Held-out research sessions whose user comes back to buy: rows, the cause mask, the answer function."""
    dataset, truth, model, _ = research
    tokens, plan, _ = intent_cuts(model, dataset)
    chosen = np.flatnonzero(truth.returns & (plan.split[truth.cut] != Splits.TRAIN))
    cuts = truth.cut[chosen]
    rows = model_rows(tokens, tokens.user_start[cuts], cuts + 1, model.config.model)
    cause = np.zeros(rows.shape, dtype=bool)
    for i, k in enumerate(chosen):
        cause[i] = np.isin(rows[i], truth.causes[k])  # the reviews before the cart
        cause[i] |= rows[i] == truth.cut[k] - 3  # and the cart itself
    return rows, cause, AnswerFunction.of_labels(model, tokens, cuts)  # occlusion recounts the summary


def test_explanation_weights_sum_to_one_and_point_at_the_planted_cause(research):
    rows, cause, answer = _return_sessions(research)
    weights = event_weights(answer, rows)["buy_40h"]
    assert len(rows) > 30
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    assert (weights[rows < 0] == 0).all() and (weights >= 0).all()
    chance = cause.sum() / (rows >= 0).sum()
    top_is_cause = cause[np.arange(len(rows)), weights.argmax(axis=1)].mean()
    assert chance < 0.25
    assert top_is_cause > 2 * chance, (top_is_cause, chance)


def test_removing_top_weighted_events_moves_the_answer_more_than_random_ones(research):
    rows, _, answer = _return_sessions(research)
    base = sigmoid(answer(rows)["buy_40h"].detach().numpy())
    weights = event_weights(answer, rows)["buy_40h"]
    rng = np.random.default_rng(0)
    for k in (1, 2):
        top = np.zeros(rows.shape, dtype=bool)
        np.put_along_axis(top, np.argsort(-weights, axis=1)[:, :k], True, axis=1)
        moved_top = np.abs(sigmoid(answer(compact(rows, top))["buy_40h"].detach().numpy()) - base).mean()
        moved_random = []
        for _ in range(5):
            pick = np.zeros(rows.shape, dtype=bool)
            for i in range(len(rows)):
                pick[i, rng.choice(np.flatnonzero(rows[i] >= 0), k, replace=False)] = True
            moved_random.append(
                np.abs(sigmoid(answer(compact(rows, pick))["buy_40h"].detach().numpy()) - base).mean()
            )
        assert moved_top > 2 * np.mean(moved_random), (k, moved_top, moved_random)


def _skipper_events(model):
    """Long views of category c1, then fast skips (1.2 s) of c0 items: c0 must be excluded."""
    profile, cats, items = model.intents.profile, model.vocabs["categories"], model.vocabs["items"]

    def of(cat, n):
        return [
            items.value_of(int(i)) for i in np.flatnonzero(profile.item_category == cats.index_of(cat))[:n]
        ]

    c0, c1 = of("c0", 6), of("c1", 4)
    events = [
        {
            "user_id": "s",
            "ts": T0 + i * 60_000,
            "action": "view",
            "item_id": it,
            "dwell_s": 1.2 if it in c0 else 40.0,
        }
        for i, it in enumerate(c1 + c0 + c0[:3])
    ]
    return events, set(c0)


def test_exclusions_remove_skipped_categories_unless_told_not_to(research):
    _, _, model, _ = research
    events, c0 = _skipper_events(model)
    honoured = predict(model, events=events, k=20, explain=None)[0]
    ignored = predict(model, events=events, k=20, explain=None, honour_exclusions=False)[0]
    assert honoured["exclusions"] == [{"category": "c0", "skips": 9, "exposures": 9, "skip_share": 1.0}]
    assert honoured["interests"] == [{"category": "c1", "share": 1.0}]
    assert honoured["excluded_items_removed"] > 0 and ignored["excluded_items_removed"] == 0
    assert not c0 & {x["item"] for x in honoured["next_items"]}
    assert c0 & {x["item"] for x in ignored["next_items"]}  # the model alone would recommend them


def test_every_answer_is_explained_with_weights_summing_to_one(research):
    _, _, model, _ = research
    events, _ = _skipper_events(model)
    result = predict(model, events=events, k=3, explain_top=3)[0]
    assert set(result["explanation"]) == {"next_item", "next_action", "buy_40h"}
    for name, explanation in result["explanation"].items():
        total = sum(e["weight"] for e in explanation["events"]) + explanation["other"]
        assert total == pytest.approx(1.0, abs=1e-5), name
        assert len(explanation["events"]) == 3
    assert set(result["rationale"]) == {"interests", "next_item", "next_action", "buy_40h"}
    assert (
        result["rationale"]["buy_40h"].endswith(".")
        and "likely: buy within 40h" in result["rationale"]["buy_40h"]
    )
    assert [i["label"] for i in result["intents"]] == ["buy_40h"]
    assert sum(result["next_action"].values()) == pytest.approx(1.0, abs=1e-4)


def test_a_short_history_is_a_cold_start_blended_with_popularity(research):
    _, _, model, _ = research
    events, _ = _skipper_events(model)
    short = predict(model, events=events[:3], k=5, explain=None)[0]
    long = predict(model, events=events, k=5, explain=None)[0]
    assert short["cold_start"] and not long["cold_start"]
    assert short["segment"] is None  # the log has no user table: everyone is one segment
    scores = [x["score"] for x in short["next_items"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1


def test_dataset_users_and_their_events_as_jsonl_give_the_same_answers(research, tmp_path):
    dataset, _, model, _ = research
    from_dataset = predict(model, dataset=dataset, users=["u5"], explain=None)[0]
    h = histories_from_dataset(model, dataset, ["u5"])
    lines = [
        {
            "user_id": "u5",
            "ts": int(h.ts_ms[e]),
            "action": h.actions[e],
            "item_id": h.item_ids[e],
            "category": h.categories[e],
            "dwell_s": float(h.dwell_s[e]),
        }
        for e in range(h.tokens.n_events)
    ]
    path = tmp_path / "u5.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    from_file = predict(model, events=path, explain=None)[0]
    assert from_file["n_events"] == from_dataset["n_events"] == len(lines)
    assert [x["item"] for x in from_file["next_items"]] == [x["item"] for x in from_dataset["next_items"]]
    for a, b in zip(from_file["intents"], from_dataset["intents"], strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-5)


def test_bad_histories_are_named(research, tmp_path):
    _, _, model, _ = research
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"user_id": "a", "ts": 1, "action": "view", "item_id": "i1"}\n{"user_id": "a", "ts": 2}\n'
    )
    with pytest.raises(DataError, match=r"e.jsonl:2, action: event has no action"):
        predict(model, events=path)
    with pytest.raises(DataError, match=r"line 1, action: not a canonical action \(got 'clik'\)"):
        predict(model, events=[{"user_id": "a", "ts": 1, "action": "clik"}])
    with pytest.raises(DataError, match=r"ts: ts must be epoch milliseconds or ISO-8601 text \(got 'noon'\)"):
        predict(model, events=[{"user_id": "a", "ts": "noon", "action": "view"}])
    with pytest.raises(ConfigError, match="give either events or a dataset"):
        predict(model)
    # a canonical action the model never saw cannot be embedded: left out and counted
    result = predict(
        model, events=[{"user_id": "a", "ts": 1, "action": "like"}, {"user_id": "a", "ts": 2, "action": "pv"}]
    )
    assert result[0]["skipped"] == {"unknown_action": 1} and result[0]["n_events"] == 1
    # nothing left at all: a cold start answered from popularity
    empty = predict(model, events=[{"user_id": "b", "ts": 1, "action": "like"}])[0]
    assert empty["n_events"] == 0 and empty["cold_start"] and len(empty["next_items"]) == 10
    assert empty["explanation"]["buy_40h"] == {"events": [], "other": 0.0}


def test_interest_shares_by_hand():
    # newest first in weight: a week-old buy of books (3 * 0.5) against a fresh view of games (1)
    day = 86400.0
    result = interests_and_exclusions(
        ["books", "games", None],
        ["convert", "browse", "account"],
        np.array([np.nan, np.nan, np.nan]),
        np.array([0.0, 7 * day, 7 * day]),
        InterestConfig(half_life="7d"),
    )
    assert result.interests == [{"category": "books", "share": 0.6}, {"category": "games", "share": 0.4}]
    assert result.exclusions == []
    # without categories, interests are by item
    result = interests_and_exclusions(
        [None, None], ["browse", "browse"], np.array([50.0, 5.0]), None, InterestConfig(), ["a", "b"]
    )
    assert result.by == "item" and result.interests[0]["item"] == "a"
