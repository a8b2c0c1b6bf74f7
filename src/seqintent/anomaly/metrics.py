"""Detection metrics for anomaly scores: precision / recall / F1 at a threshold, ROC-AUC, PR-AUC,
false-positive rate at 90 % recall, recall at a false-positive budget.

Labels are 1 for an anomaly, 0 for normal; a higher score means more anomalous; an item is
flagged when ``score >= threshold``. Thresholds are chosen on validation data
(:func:`best_f1_threshold`, :func:`threshold_at_fpr`) and applied unchanged to test data.
ROC-AUC counts ties as half; PR-AUC is average precision (the step-wise area, as scikit-learn's
``average_precision_score``), not the trapezoidal area.

>>> labels = [0, 0, 1, 1, 0, 1]
>>> scores = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
>>> m = detection_metrics(labels, scores, threshold=0.35)
>>> m["precision"], m["recall"], round(m["roc_auc"], 4), round(m["pr_auc"], 4)
(0.75, 1.0, 0.8889, 0.9167)
>>> fpr_at_recall(labels, scores, 0.9)
0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqintent.errors import DataError


def _check(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise DataError(f"labels and scores must be 1-d of the same length (got {y.shape} and {s.shape})")
    if not np.isin(y, (0, 1)).all():
        raise DataError(
            "labels must be 0 (normal) or 1 (anomaly)", value=sorted(set(y.tolist()) - {0, 1})[:5]
        )
    if np.isnan(s).any():
        raise DataError("scores contain NaN", fix="score every item")
    return y.astype(np.int64), s


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest threshold first."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_value]
    fp = (last_of_value + 1) - tp
    return tp, fp, s[last_of_value]


def roc_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (0.5 = chance, 1 = perfect); NaN when one class is absent."""
    y, s = _check(labels, scores)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    tp, fp, _ = _curve(y, s)
    tpr = np.r_[0.0, tp / n_pos]
    fpr = np.r_[0.0, fp / n_neg]
    return float(np.trapezoid(tpr, fpr))


def average_precision(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """PR-AUC as average precision: Σ (recall_k − recall_{k−1}) · precision_k; NaN without anomalies."""
    y, s = _check(labels, scores)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    tp, fp, _ = _curve(y, s)
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fpr_at_recall(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, recall: float = 0.9
) -> float:
    """The lowest false-positive rate of any threshold that reaches ``recall``."""
    y, s = _check(labels, scores)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    tp, fp, _ = _curve(y, s)
    reached = tp / n_pos >= recall - 1e-12
    return float(fp[reached].min() / n_neg)


def threshold_at_fpr(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    max_fpr: float = 0.01,
    *,
    place: str = "lowest",
) -> float:
    """A threshold reaching the highest recall whose false-positive rate stays within ``max_fpr``.

    Several thresholds may reach that recall: ``place="lowest"`` takes the lowest (the whole
    false-positive budget is spent), ``place="margin"`` the midpoint between the lowest anomaly
    score it keeps and the highest normal score below that (the widest margin on both sides,
    usually far fewer false positives for the same recall).
    """
    y, s = _check(labels, scores)
    n_neg = int(len(y) - y.sum())
    tp, fp, thresholds = _curve(y, s)
    within = fp / max(n_neg, 1) <= max_fpr + 1e-12
    if not within.any():
        return float(np.nextafter(thresholds[0], np.inf))  # flag nothing
    lowest = np.flatnonzero(within)[-1]
    if place == "lowest":
        return float(thresholds[lowest])
    if place != "margin":
        raise ValueError(f"place must be 'lowest' or 'margin' (got {place!r})")
    highest = int(np.flatnonzero(tp == tp[lowest])[0])  # the highest threshold with the same recall
    below = s[(y == 0) & (s < thresholds[highest])]
    if len(below) == 0:
        return float(thresholds[highest])
    return float((thresholds[highest] + below.max()) / 2)


def best_f1_threshold(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """The threshold with the highest F1 (the highest such threshold on ties)."""
    y, s = _check(labels, scores)
    n_pos = int(y.sum())
    tp, fp, thresholds = _curve(y, s)
    f1 = 2 * tp / (tp + fp + n_pos)
    return float(thresholds[int(np.argmax(f1))])


def detection_metrics(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, *, threshold: float
) -> dict[str, float]:
    """Precision, recall, F1 and false-positive rate at ``threshold`` (flag when score ≥ it), with
    ROC-AUC, PR-AUC (average precision), the FPR at 90 % recall, and the counts."""
    y, s = _check(labels, scores)
    flagged = s >= threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    fn = int((~flagged & (y == 1)).sum())
    n_neg = int((y == 0).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": fp / n_neg if n_neg else 0.0,
        "roc_auc": roc_auc(y, s),
        "pr_auc": average_precision(y, s),
        "fpr_at_90_recall": fpr_at_recall(y, s, 0.9),
        "threshold": float(threshold),
        "n": len(y),
        "n_anomalies": int(y.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }
