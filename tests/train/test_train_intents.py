"""Intent heads trained on a planted order-dependent intent: they learn what counts cannot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqintent.errors import ArtifactError, DataError
from seqintent.evaluate.intents import _Features, evaluate_cold_start, evaluate_intents, intent_cuts
from seqintent.models import EventTokens, NextItemModel
from seqintent.models.base import HistoryBatch
from seqintent.models.inference import infer, intent_logits
from seqintent.models.intent_config import IntentConfig
from seqintent.models.intent_metrics import roc_auc
from seqintent.models.tabular import TabularBaseline
from seqintent.schema.columns import ModelFiles, Splits
from seqintent.train.multitask import train_intents


def _held_out(model, dataset, truth):
    """Research sessions whose cut no training label used (validation and test cuts), with their truth."""
    tokens, plan, labels = intent_cuts(model, dataset)
    held = plan.split[truth.cut] != Splits.TRAIN
    return tokens, plan, labels, truth.cut[held], truth.returns[held]


def test_the_head_beats_lightgbm_where_only_order_tells(research):
    dataset, truth, model, _ = research
    tokens, plan, labels, cuts, returns = _held_out(model, dataset, truth)
    assert len(cuts) > 60 and 0.3 < returns.mean() < 0.7
    _, _, logits = intent_logits(model, HistoryBatch(tokens, tokens.user_start[cuts], cuts + 1))
    head = roc_auc(returns, logits[:, [s.name for s in model.intents.binary_labels].index("buy_40h")])
    features = _Features(dataset, tokens)
    train = plan.cuts("train")
    train = train[labels.known("buy_40h")[train]]
    valid = plan.cuts("valid")
    valid = valid[labels.known("buy_40h")[valid]]
    y = labels.values["buy_40h"]
    gbdt = TabularBaseline("lightgbm").fit(features(train), y[train], features(valid), y[valid])
    lightgbm = roc_auc(returns, gbdt.predict_proba(features(cuts)))
    assert head >= 0.9, head
    assert lightgbm <= 0.7, lightgbm


def test_training_keeps_the_labels_the_log_supports_and_says_why_not(research):
    _, _, model, _ = research
    assert [s.name for s in model.intents.labels] == ["next_action", "buy_40h"]
    why = model.intents.metrics["dropped_labels"]["like_1d"]
    assert why.startswith("0 positive / ") and "training cuts (need 20 of each)" in why
    report = model.intents.metrics["calibration"]["buy_40h"]
    assert report["method"] in ("temperature", "isotonic") and report["valid_examples"] > 100


def test_a_log_that_supports_no_label_is_refused(research):
    dataset, _, model, _ = research
    config = IntentConfig.model_validate(
        {"labels": [{"name": "fav_1h", "kind": "within", "actions": ["fav"], "horizon": "1h"}]}
    )
    with pytest.raises(DataError, match=r"supports none of the intent labels: fav_1h: 0 positive"):
        train_intents(dataset, config, model=model)


def test_the_model_folder_answers_everything_after_reloading(research):
    dataset, truth, model, folder = research
    for name in (ModelFiles.INTENTS, ModelFiles.INTENT_WEIGHTS):
        assert (folder / name).is_file()
    manifest = json.loads((folder / ModelFiles.MANIFEST).read_text())
    assert manifest["intents"] == ["next_action", "buy_40h"]
    loaded = NextItemModel.from_pretrained(folder)
    tok = EventTokens.from_dataset(dataset, loaded.spec)
    batch = HistoryBatch(tok, tok.user_start[truth.cut[:20]], truth.cut[:20] + 1)
    a, b = infer(model, batch), infer(loaded, batch)
    np.testing.assert_allclose(a.next_item[:, 1:], b.next_item[:, 1:], atol=1e-5)
    np.testing.assert_allclose(a.next_action, b.next_action, atol=1e-6)
    np.testing.assert_allclose(a.intents["buy_40h"], b.intents["buy_40h"], atol=1e-6)
    assert np.allclose(a.next_action.sum(1), 1.0)


def test_a_damaged_intents_file_is_named(research, tmp_path):
    _, _, model, _ = research
    folder = model.save_pretrained(tmp_path / "m")
    body = json.loads((folder / ModelFiles.INTENTS).read_text())
    body["head_sizes"] = [3, 0, 7]
    (folder / ModelFiles.INTENTS).write_text(json.dumps(body))
    with pytest.raises(ArtifactError, match=r"intents.safetensors: intent weights do not match intents.json"):
        NextItemModel.from_pretrained(folder)


def test_evaluate_reports_every_label_beside_the_baselines(research):
    dataset, _, model, _ = research
    report = evaluate_intents(model, dataset, baselines=("logreg",))
    assert set(report) == {"next_action", "buy_40h"}
    entry = report["buy_40h"]
    assert set(entry) == {"kind", "horizon", "examples", "model", "logreg"}
    assert {"AUC", "PR_AUC", "ECE", "log_loss", "ECE_uncalibrated"} <= set(entry["model"])
    assert {"AUC", "PR_AUC", "ECE", "log_loss"} <= set(entry["logreg"])
    assert entry["examples"] > 50
    assert entry["model"]["AUC"] > 0.8


def test_cold_start_report_brackets_the_blend_gains_with_paired_intervals(research):
    dataset, _, model, _ = research
    # the research log's test cuts all follow long histories: count every history as "short"
    report = evaluate_cold_start(model, dataset, max_events=1000)
    assert report["examples"] > 20 and report["max_events"] == 1000
    for other in ("model", "popularity"):
        for metric in ("NDCG@10", "HR@10"):
            lo, hi = report["blend_minus"][other][metric]
            gain = report["blend"][metric] - report[other][metric]
            assert lo - 1e-4 <= gain <= hi + 1e-4 and lo <= hi


# the sampled softmax with the repeat head: the next-item term of the joint loss takes the same path
@pytest.mark.parametrize("loss", ["softmax", "sampled_softmax"])
def test_train_model_trains_jointly_or_keeps_a_next_item_model_without_labels(tmp_path, loss):
    from seqintent.models import NextItemConfig
    from seqintent.train.pipeline import train_model
    from tests.dataset_builders import walk_dataset
    from tests.intent_builders import research_log

    ds, _ = research_log(tmp_path / "data", users=40, sessions=6)
    tiny = NextItemConfig.load(
        {
            "model": {"hidden": 16, "max_len": 8, "repeat_head": loss == "sampled_softmax"},
            "train": {"epochs": 1, "threads": 1, "loss": loss, "negatives": 16},
        }
    )
    intents = {
        "labels": [{"name": "buy_40h", "kind": "within", "actions": ["buy"], "horizon": "40h"}],
        "protocol": {"test_window": "5d"},
        "train": {"mode": "joint", "epochs": 1, "threads": 1},
    }
    joint = train_model(ds, tiny, intents)
    assert [p["phase"] for p in joint.intents.metrics["phases"]] == ["joint"]
    assert "best_epoch" not in joint.metrics  # no separate next-item run
    # views only, minutes apart: no default label fits, so the next-item model is kept and says why
    walk = walk_dataset(tmp_path / "walk", users=30, length=6)
    kept = train_model(walk, tiny)
    assert kept.intents is None
    assert kept.metrics["intents"]["skipped"].startswith("the Dataset supports none of the intent labels")


def test_rare_positives_weigh_more_in_the_loss():
    from seqintent.models.intent_config import IntentTrainConfig
    from seqintent.train.multitask import MAX_POSITIVE_WEIGHT, positive_weights

    targets = np.full((1000, 3), np.nan, dtype=np.float32)
    targets[:400, 0] = 0  # 1 % positive: sqrt(396 / 4) ≈ 9.95
    targets[:4, 0] = 1
    targets[:, 1] = 1  # every cut positive: never below 1
    targets[:, 2] = 0  # no positive at all: capped
    w = positive_weights(targets, IntentTrainConfig())
    assert w[0] == pytest.approx(np.sqrt(396 / 4), rel=1e-5)
    assert w[1] == 1.0 and w[2] == MAX_POSITIVE_WEIGHT
    assert (positive_weights(targets, IntentTrainConfig(positive_weight="none")) == 1).all()


def test_the_blend_is_chosen_on_short_histories_from_every_validation_cut(tmp_path, monkeypatch):
    """Validation's next-item cuts are a sample; the short histories the blend is chosen on are
    drawn from every validation cut, not from that sample's few short ones."""
    from seqintent.models import NextItemConfig
    from seqintent.train import multitask
    from seqintent.train.labels import next_item_cuts
    from seqintent.train.pipeline import train_model
    from tests.intent_builders import research_log

    ds, _ = research_log(tmp_path / "data", users=60, sessions=6)
    tiny = NextItemConfig.load({"model": {"hidden": 16, "max_len": 8}, "train": {"epochs": 1, "threads": 1}})
    cap = 12
    monkeypatch.setattr(multitask, "VALID_MAX_NEXT_ITEM", cap)
    intents = {
        "labels": [{"name": "buy_40h", "kind": "within", "actions": ["buy"], "horizon": "40h"}],
        "protocol": {"test_window": "5d"},
        "train": {"mode": "joint", "epochs": 1, "threads": 1},
    }
    model = train_model(ds, tiny, intents)
    tokens, plan, _ = intent_cuts(model, ds)
    every = next_item_cuts(tokens, plan, "valid")
    short = next_item_cuts(tokens, plan, "valid", model.intents.config.cold_start.max_events)
    # the log has more short validation histories than the cap, and far more cuts beside them, so a
    # sample of `cap` validation cuts would hold only a few short ones
    assert len(short) > cap and len(every) > 5 * len(short)
    assert model.intents.metrics["profile"]["cold_valid_cuts"] == cap
