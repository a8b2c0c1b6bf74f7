import numpy as np
import pytest

from seqintent.anomaly.metrics import (
    average_precision,
    best_f1_threshold,
    detection_metrics,
    fpr_at_recall,
    roc_auc,
    threshold_at_fpr,
)
from seqintent.errors import DataError


def test_hand_computed_example():
    labels = [1, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.1, 0.1]
    # ranked: 1 0 1 0 0 → pairs (pos > neg): 0.9 beats 3, 0.7 beats 2 → 5 of 6
    assert roc_auc(labels, scores) == pytest.approx(5 / 6)
    # precision at each positive: 1/1, 2/3 → AP = (1 + 2/3) / 2
    assert average_precision(labels, scores) == pytest.approx((1 + 2 / 3) / 2)
    assert fpr_at_recall(labels, scores, 0.9) == pytest.approx(1 / 3)
    m = detection_metrics(labels, scores, threshold=0.7)
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 0)
    assert (m["precision"], m["recall"], m["f1"], m["fpr"]) == pytest.approx((2 / 3, 1.0, 0.8, 1 / 3))


def test_ties_count_half():
    assert roc_auc([1, 0], [0.5, 0.5]) == 0.5
    assert roc_auc([1, 1, 0, 0], [1, 1, 1, 1]) == 0.5


def test_thresholds_chosen_on_one_set():
    labels = np.array([0] * 100 + [1] * 10)
    scores = np.r_[np.linspace(0, 0.9, 100), np.linspace(0.95, 2, 10)]
    t = threshold_at_fpr(labels, scores, 0.01)  # one false positive allowed: the top normal
    assert t == pytest.approx(0.9)
    m = detection_metrics(labels, scores, threshold=t)
    assert (m["fpr"], m["recall"]) == (0.01, 1.0)
    assert best_f1_threshold(labels, scores) == pytest.approx(0.95)
    # the same recall with the widest margin: half way between the top normal and the lowest anomaly
    assert threshold_at_fpr(labels, scores, 0.01, place="margin") == pytest.approx((0.9 + 0.95) / 2)
    # nothing reaches the budget: the threshold flags nothing
    assert (
        detection_metrics([0, 1], [1.0, 0.0], threshold=threshold_at_fpr([0, 1], [1.0, 0.0], 0.0))["tp"] == 0
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_learn(seed):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounding makes ties
    assert roc_auc(labels, scores) == pytest.approx(sklearn_metrics.roc_auc_score(labels, scores))
    assert average_precision(labels, scores) == pytest.approx(
        sklearn_metrics.average_precision_score(labels, scores)
    )
    fpr, tpr, _ = sklearn_metrics.roc_curve(labels, scores)
    assert fpr_at_recall(labels, scores, 0.9) == pytest.approx(fpr[tpr >= 0.9].min())


def test_bad_input_is_named():
    with pytest.raises(DataError, match="labels must be 0"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="same length"):
        roc_auc([0, 1], [0.1])
