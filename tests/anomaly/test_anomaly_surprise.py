"""Sequence surprise: exact NLLs with a hand-made next-item model, and the real Transformer end to end."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("seqintent.models")

from seqintent.anomaly import AnomalyConfig, AnomalyDetector
from seqintent.anomaly._events import build_frame
from seqintent.anomaly.surprise import (
    UNKNOWN_NLL,
    SequenceSurprise,
    session_surprise,
)
from seqintent.data import Vocabulary

KEYS = ["k1", "k2", "k3", "k4"]


class MarkovLogits:
    """A stand-in next-item model: logits = log P(next | last item) from a fixed table."""

    def __init__(self) -> None:
        self.vocabs = {
            "items": Vocabulary([None, *KEYS], padded=True),
            "actions": Vocabulary([None, "other"], padded=True),
            "categories": Vocabulary([None], padded=True),
            "devices": Vocabulary([None], padded=True),
        }
        self.spec = SimpleNamespace(has_time=False, has_dwell=False, timezone="UTC")
        self.n_items = len(KEYS) + 1
        # k1 → k2 (0.9) | k3 (0.1); k2 → k3; k3 → k4; k4 → k1
        table = np.full((5, 5), 1e-6)
        table[1, 2], table[1, 3] = 0.9, 0.1
        table[2, 3] = table[3, 4] = table[4, 1] = 1.0
        self.log_table = np.log(table / table.sum(axis=1, keepdims=True))
        self.log_table[:, 0] = -np.inf

    def score(self, batch):
        last = batch.tokens.item[batch.ends - 1]
        return self.log_table[last]


def events(user: str, keys: list[str]) -> list[dict]:
    return [{"user_id": user, "action": "other", "item_id": k} for k in keys]


def test_per_event_nll_and_rank_are_exact():
    surprise = SequenceSurprise(MarkovLogits(), top_g=1)
    frame = build_frame(events("a", ["k1", "k3", "k4", "zz", "k2"]), unit="user")
    found = surprise.events(frame)
    p = 0.1 / (1 + 4e-6)  # the table row of k1, normalised
    assert math.isnan(found.nll[0]) and found.rank[0] == 0  # the first event has no history
    assert found.nll[1] == pytest.approx(-math.log(p), rel=1e-5) and found.rank[1] == 2
    assert found.nll[2] == pytest.approx(0.0, abs=1e-5) and found.rank[2] == 1
    assert found.nll[3] == UNKNOWN_NLL and found.rank[3] == 4  # an item the model never saw
    # after the unknown item the history ends in "no item": row 0 of the table is uniform
    assert found.nll[4] == pytest.approx(math.log(4), rel=1e-5)


def test_session_aggregates_and_the_driving_event():
    surprise = SequenceSurprise(MarkovLogits(), top_g=1)
    frame = build_frame(events("a", ["k1", "k2", "k3"]) + events("b", ["k1", "k3", "k1"]), unit="user")
    found = surprise.events(frame)
    agg = session_surprise(frame, found, nll_threshold=1.0, top_g=1)
    assert agg["units"] == ["a", "b"]
    assert agg["n_scored"].tolist() == [2, 2]
    assert agg["n_over"].tolist() == [0, 2] and agg["n_outside_top_g"].tolist() == [
        0,
        2,
    ]  # ties favour the event
    assert agg["driver"].tolist()[1] == 5  # k3 → k1 (1e-6) is worse than k1 → k3 (0.1)
    assert agg["max_nll"][1] == pytest.approx(-math.log(1e-6 / (1 + 3e-6)), rel=1e-4)


def test_the_detector_phrases_surprise_and_scores_only_unlikely_orders():
    normal = [e for u in range(20) for e in events(f"n{u}", ["k1", "k2", "k3", "k4"])]
    detector = AnomalyDetector(AnomalyConfig(unit="user"), surprise=SequenceSurprise(MarkovLogits(), top_g=1))
    detector.fit(normal)
    assert detector.calibration_.nll_low == pytest.approx(-math.log(0.9 / (1 + 4e-6)), rel=1e-4)
    ok, odd = detector.score(events("x", ["k1", "k2", "k3"]) + events("y", ["k1", "k2", "k4"]))
    assert (ok.score, ok.reasons) == (0.0, ())
    assert odd.score == 60.0 and odd.level == "high"  # the surprise weight, saturated
    assert [r.text for r in odd.reasons] == [
        'event order unlike any seen: "k2" → "k4" (p = 1e-06, rank 2, outside the top 1)'
    ]
    assert odd.reasons[0].rows == (5,)


@pytest.fixture(scope="module")
def cycle_model(tmp_path_factory):
    """A tiny Transformer trained on users who cycle A → B → C → A … inside one of three groups."""
    from dataset_builders import build_dataset

    from seqintent.models import NextItemConfig
    from seqintent.train import train_next_item

    rng = np.random.default_rng(0)
    user, item, ts = [], [], []
    for u in range(90):
        group, phase = rng.integers(3), rng.integers(3)
        for k in range(8):
            user.append(f"u{u}")
            item.append(f"g{group}i{(phase + k) % 3}")
            ts.append(1_700_000_000_000 + u * 10_000_000 + k * 60_000)
    ds = build_dataset(tmp_path_factory.mktemp("cycle") / "d", user=user, item=item, ts_ms=ts, name="cycle")
    config = NextItemConfig.load(
        {
            "model": {"hidden": 32, "layers": 1, "heads": 2, "dropout": 0.0, "max_len": 12},
            "train": {
                "epochs": 20,
                "batch_size": 32,
                "lr": 1e-2,
                "warmup_steps": 0,
                "patience": 20,
                "threads": 1,
            },
        }
    )
    return ds, train_next_item(ds, config)


def _cycle(user: str, group: int, steps: list[int]) -> list[dict]:
    return [
        {"user_id": user, "ts": 1_800_000_000_000 + k * 60_000, "action": "view", "item_id": f"g{group}i{s}"}
        for k, s in enumerate(steps)
    ]


def test_a_trained_transformer_finds_a_broken_cycle_and_survives_save_load(cycle_model, tmp_path):
    ds, model = cycle_model
    detector = AnomalyDetector(AnomalyConfig(unit="user"), surprise=SequenceSurprise(model, top_g=1)).fit(ds)
    normal = _cycle("ok", 0, [0, 1, 2, 0, 1, 2])
    broken = _cycle("odd", 1, [0, 1, 2, 1, 2, 0])  # C → B: the cycle ran backwards once
    odd, ok = detector.score(normal + broken)
    assert (odd.user_id, ok.user_id) == ("odd", "ok")
    assert ok.score == 0.0
    assert 30 <= odd.score <= 60 and odd.reasons[0].kind == "surprise"  # at most the surprise weight
    assert odd.reasons[0].text.startswith('event order unlike any seen: "g1i2" → "g1i1"')
    assert odd.reasons[0].rows == (9,)
    detector.save(tmp_path / "m")
    loaded = AnomalyDetector.load(tmp_path / "m")
    assert loaded.calibration_ == detector.calibration_
    assert [r.to_dict() for r in loaded.score(normal + broken)] == [odd.to_dict(), ok.to_dict()]


def test_cli_fit_with_a_sequence_model_then_score(cycle_model, tmp_path):
    import json

    from click.testing import CliRunner

    from seqintent.cli import main

    ds, model = cycle_model
    model.save_pretrained(tmp_path / "next-item")
    result = CliRunner().invoke(
        main,
        [
            "anomaly",
            "fit",
            str(ds.path),
            "-o",
            str(tmp_path / "risk"),
            "--sequence-model",
            str(tmp_path / "next-item"),
            "--top-g",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["surprise"]["top_g"] == 1
    events = tmp_path / "today.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _cycle("odd", 1, [0, 1, 2, 1, 2, 0])))
    result = CliRunner().invoke(
        main, ["anomaly", "score", str(tmp_path / "risk"), "--events", str(events), "--json"]
    )
    assert result.exit_code == 0, result.output
    (odd,) = json.loads(result.output)["results"]
    assert odd["reasons"][0].startswith('event order unlike any seen: "g1i2" → "g1i1"')
