"""Intent metrics against hand computation and scikit-learn; calibration lowers ECE; the cold-start blend."""

import numpy as np
import pytest

from seqintent.models.calibration import calibrated_probabilities, sigmoid
from seqintent.models.intent_metrics import (
    average_precision,
    binary_metrics,
    class_metrics,
    expected_calibration_error,
    log_loss,
    roc_auc,
)
from seqintent.models.profile import Profile
from seqintent.train.calibration import fit_calibration


def test_metrics_by_hand():
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.6, 0.3, 0.3])
    # positives outrank 5 of the 6 (pos, neg) pairs: (0.6 < 0.8)
    assert roc_auc(y, p) == pytest.approx(5 / 6)
    # ranked: 1 (P=1/1), 0, 1 (P=2/3) -> AP = (1 + 2/3) / 2
    assert average_precision(y, p) == pytest.approx((1 + 2 / 3) / 2)
    assert log_loss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.6, 0.7, 0.7])))
    # bins of width 1/15: {0.9}: |1-0.9|, {0.8}: |0-0.8|, {0.6}: |1-0.6|, {0.3, 0.3}: |0-0.3| * 2
    assert expected_calibration_error(y, p) == pytest.approx((0.1 + 0.8 + 0.4 + 0.6) / 5)
    assert np.isnan(roc_auc(np.zeros(3), np.array([0.1, 0.2, 0.3])))


def test_metrics_match_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.2
    p = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.2, 500), 0.01, 0.99).round(2)  # many ties
    assert roc_auc(y, p) == pytest.approx(sklearn.roc_auc_score(y, p))
    assert average_precision(y, p) == pytest.approx(sklearn.average_precision_score(y, p))
    assert log_loss(y, p) == pytest.approx(sklearn.log_loss(y, p))
    classes = rng.integers(0, 3, 300)
    probs = rng.dirichlet(np.ones(3), 300)
    probs[np.arange(300), classes] += 0.5
    probs /= probs.sum(1, keepdims=True)
    m = class_metrics(classes, probs)
    assert m["AUC"] == pytest.approx(
        sklearn.roc_auc_score(classes, probs, multi_class="ovr", average="weighted"), abs=1e-4
    )
    assert m["accuracy"] == pytest.approx((probs.argmax(1) == classes).mean(), abs=1e-5)


@pytest.mark.parametrize("method", ["temperature", "isotonic", "auto"])
def test_calibration_lowers_ece_on_a_skewed_task(method):
    # a rare event (about 11%) and an over-confident model: logits three times too large
    rng = np.random.default_rng(1)
    z = rng.normal(-2.5, 1.2, 8000)
    y = (rng.random(8000) < sigmoid(z)).astype(float)
    logits = 3.0 * z
    fit, test = slice(0, 4000), slice(4000, None)
    params = fit_calibration(logits[fit], y[fit], method)
    before = binary_metrics(y[test], calibrated_probabilities(logits[test], None))
    after = binary_metrics(y[test], calibrated_probabilities(logits[test], params))
    assert y.mean() < 0.15
    assert before["ECE"] > 0.1
    assert after["ECE"] < before["ECE"] / 3
    assert after["log_loss"] < before["log_loss"]
    assert after["AUC"] == pytest.approx(before["AUC"], abs=0.01)  # calibration keeps the ranking


def test_temperature_of_classes_softens_an_over_confident_model():
    rng = np.random.default_rng(2)
    true_logits = rng.normal(0, 1, (3000, 4))
    y = np.array([rng.choice(4, p=np.exp(r) / np.exp(r).sum()) for r in true_logits])
    params = fit_calibration(4.0 * true_logits, y, "auto")  # isotonic is for yes/no labels only
    assert params["method"] == "temperature"
    assert params["temperature"] == pytest.approx(4.0, rel=0.2)


def test_cold_start_blend_by_hand():
    pop = np.array([0.0, 0.7, 0.2, 0.1], dtype=np.float32)
    profile = Profile(
        item_category=np.zeros(4, np.int32),
        popularity=pop,
        segment_names=["g=a"],
        segment_items=np.array([[3, 2]], np.int32),
        segment_scores=np.array([[0.9, 0.1]], np.float32),
        user_segment={"u": 0},
        kappa=2.0,
    )
    logits = np.log(np.array([[1.0, 0.1, 0.1, 0.8]]))  # model: softmax over items 1..3 after -inf padding
    logits[0, 0] = -np.inf
    model_p = np.array([0.0, 0.1, 0.1, 0.8])
    seg = 0.9 * np.array([0.0, 0.0, 0.1, 0.9]) + 0.1 * pop
    got = profile.blend(logits, np.array([2]), [0])  # w = 2 / (2 + 2)
    np.testing.assert_allclose(np.exp(got[0, 1:]), (0.5 * model_p + 0.5 * seg)[1:], rtol=1e-5)
    assert got[0, 0] == -np.inf
    # no segment: global popularity; an empty history: popularity alone
    got = profile.blend(logits, np.array([0]), [None])
    np.testing.assert_allclose(np.exp(got[0, 1:]), pop[1:], rtol=1e-5)
