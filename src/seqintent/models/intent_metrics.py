"""Metrics of probabilistic answers: AUC, PR-AUC, log-loss, expected calibration error.

Yes/no labels take ``y`` in {0, 1} and ``p`` in [0, 1]; classes take ``y`` (class index) and ``p``
[N, C] (rows sum to 1), where AUC is the prevalence-weighted one-vs-rest AUC, PR-AUC the
prevalence-weighted average precision, and ECE is about the top class (the confidence of the
prediction against its accuracy).

ECE (Naeini et al., AAAI 2015; Guo et al., ICML 2017): examples are put in 15 equal-width bins of
predicted probability; ECE is the example-weighted mean of ``|mean(y) - mean(p)|`` over bins —
0 is perfectly calibrated, 1 the worst.

>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> round(roc_auc(y, p), 3), round(expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])), 3)
(0.75, 0.0)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

ECE_BINS = 15
EPS = 1e-7


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN when only one class is present."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise, as scikit-learn)."""
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(p), kind="stable")
    ys, ps = y[order], np.asarray(p)[order]
    tp = np.cumsum(ys)
    # one point per distinct threshold: the last index of each run of equal scores
    last = np.append(ps[1:] != ps[:-1], True)
    tp_at, n_at = tp[last], np.flatnonzero(last) + 1
    precision = tp_at / n_at
    recall = tp_at / tp[-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood (natural log); probabilities clipped to [1e-7, 1 - 1e-7]."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2:
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0))))
    p = np.clip(p, EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE over equal-width bins (yes/no: of P(yes); classes: of the top class)."""
    p = np.asarray(p, dtype=np.float64)
    if len(p) == 0:
        return float("nan")
    if p.ndim == 2:
        conf = p.max(axis=1)
        hit = (p.argmax(axis=1) == np.asarray(y)).astype(np.float64)
    else:
        conf, hit = p, np.asarray(y, dtype=np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, hit, bins) - np.bincount(which, conf, bins))
    return float(gap.sum() / count.sum())


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR_AUC, log_loss, ECE and the base rate of a yes/no label."""
    y = np.asarray(y, dtype=np.float64)
    return {
        "AUC": _round(roc_auc(y, p)),
        "PR_AUC": _round(average_precision(y, p)),
        "log_loss": _round(log_loss(y, p)),
        "ECE": _round(expected_calibration_error(y, p)),
        "positive_rate": _round(float(y.mean()) if len(y) else float("nan")),
    }


def class_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Accuracy, weighted one-vs-rest AUC and PR_AUC, log_loss and top-class ECE of a class label."""
    y = np.asarray(y, dtype=np.int64)
    aucs, aps, weights = [], [], []
    for c in np.unique(y):
        hit = y == c
        if hit.all():
            continue
        aucs.append(roc_auc(hit, p[:, c]))
        aps.append(average_precision(hit, p[:, c]))
        weights.append(hit.mean())
    w = np.asarray(weights)
    return {
        "AUC": _round(float(np.dot(w, aucs) / w.sum()) if len(w) else float("nan")),
        "PR_AUC": _round(float(np.dot(w, aps) / w.sum()) if len(w) else float("nan")),
        "accuracy": _round(float((p.argmax(axis=1) == y).mean()) if len(y) else float("nan")),
        "log_loss": _round(log_loss(y, p)),
        "ECE": _round(expected_calibration_error(y, p)),
    }


def _round(x: float) -> float:
    return round(float(x), 5) if np.isfinite(x) else float("nan")
