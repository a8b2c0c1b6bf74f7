"""Evaluating a fitted detector on a labelled Dataset (what ``seqintent evaluate`` reports for anomalies).

A unit (session or user) is an anomaly when any of its events carries a true label: the event
attribute ``label_attr`` (``attrs.label`` in the ``hdfs`` preset; 1 / true = anomaly). The risk
scores of the ``split`` events give precision, recall, F1 and FPR at a threshold, ROC-AUC,
PR-AUC and the FPR at 90 % recall (:func:`~seqintent.anomaly.metrics.detection_metrics`). The
threshold is given, or chosen for the best F1 on the ``valid_split`` (never on the evaluated split).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seqintent.anomaly.detector import AnomalyDetector
from seqintent.anomaly.metrics import best_f1_threshold, detection_metrics
from seqintent.data.dataset import Dataset
from seqintent.errors import ColumnError, DataError
from seqintent.schema.columns import Columns

DEFAULT_THRESHOLD = 60.0  # the default start of level "high"


def unit_labels(detector: AnomalyDetector, events: pa.Table, label_attr: str) -> dict[str, int]:
    """Unit key → 1 when any of its events is labelled an anomaly, else 0."""
    if Columns.ATTRS not in events.column_names or events[Columns.ATTRS].type.num_fields == 0:
        raise ColumnError(
            "the Dataset's events have no attributes", column=Columns.ATTRS, fix="ingest a label"
        )
    names = [events[Columns.ATTRS].type.field(i).name for i in range(events[Columns.ATTRS].type.num_fields)]
    if label_attr not in names:
        from seqintent.errors import close_names

        raise ColumnError(
            "no such event attribute", column=f"attrs.{label_attr}", candidates=close_names(label_attr, names)
        )
    raw = pc.struct_field(events[Columns.ATTRS], label_attr).to_pylist()
    truth = np.array([str(v).strip().lower() in ("1", "true", "yes", "anomaly") for v in raw])
    frame = detector.frame(events)
    labels: dict[str, int] = {}
    for unit, row in zip(frame.unit, frame.row, strict=True):
        labels[str(unit)] = max(labels.get(str(unit), 0), int(truth[row]))
    return labels


def _split_events(dataset: Dataset, split: str) -> pa.Table:
    events = dataset.events()
    chosen = events.filter(pc.equal(events[Columns.SPLIT], split))
    return chosen


def _scores(detector: AnomalyDetector, events: pa.Table, label_attr: str) -> tuple[np.ndarray, np.ndarray]:
    labels = unit_labels(detector, events, label_attr)
    results = detector.score(events)
    return np.array([r.score for r in results]), np.array([labels[r.unit] for r in results])


def evaluate_anomalies(
    detector: AnomalyDetector,
    dataset: Dataset,
    *,
    split: str = "test",
    label_attr: str = "label",
    threshold: float | None = None,
    valid_split: str = "valid",
) -> dict[str, Any]:
    """Detection metrics of ``detector`` on the ``split`` units of a labelled Dataset.

    Returns
    -------
    dict
        ``metrics`` (precision, recall, f1, fpr, roc_auc, pr_auc, fpr_at_90_recall, counts),
        ``threshold`` and where it came from (``"given"``, ``"valid"`` or ``"default"``).

    Raises
    ------
    ColumnError
        If the events carry no ``attrs.<label_attr>``.
    DataError
        If the split has no event.
    """
    events = _split_events(dataset, split)
    if events.num_rows == 0:
        raise DataError(f"the Dataset has no {split!r} events", file=str(dataset.path), key="split")
    source = "given"
    if threshold is None:
        valid = _split_events(dataset, valid_split)
        v_scores, v_labels = (
            _scores(detector, valid, label_attr) if valid.num_rows else (np.zeros(0), np.zeros(0))
        )
        if len(set(v_labels.tolist())) == 2:
            threshold, source = best_f1_threshold(v_labels, v_scores), "valid"
        else:
            threshold, source = DEFAULT_THRESHOLD, "default"
    scores, labels = _scores(detector, events, label_attr)
    return {
        "split": split,
        "metrics": detection_metrics(labels, scores, threshold=threshold),
        "threshold": threshold,
        "threshold_from": source,
    }
