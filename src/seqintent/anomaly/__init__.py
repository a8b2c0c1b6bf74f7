"""Anomaly and risk: is this session normal for this user, and if not, why and what to do.

Signals, each turned into words:

* habit profiles (:mod:`~seqintent.anomaly.profile`): usual devices, hours, locations, payees and
  amounts per user, updated incrementally; deviation features (:mod:`~seqintent.anomaly.features`);
* pattern rules (:mod:`~seqintent.anomaly.rules`): a small YAML language for known fraud patterns
  over a sliding window of a user's events;
* sequence surprise (:mod:`~seqintent.anomaly.surprise`): how improbable each event was under the
  trained next-item model, with DeepLog's top-g check;

combined into a 0–100 risk score, a level (low / medium / high / critical), the reasons, and a
recommended action (allow / step_up / hold_for_review), with thresholds in
:class:`~seqintent.anomaly.config.AnomalyConfig`. :class:`AnomalyDetector` puts them together
(``fit`` / ``score`` / ``replay`` / ``save`` / ``load``); :func:`evaluate_anomalies` and
:mod:`~seqintent.anomaly.metrics` measure it on labelled data.
"""

from seqintent.anomaly.config import (
    AnomalyConfig,
    LevelActions,
    LevelThresholds,
    ProfileConfig,
    RiskConfig,
    SignalWeights,
)
from seqintent.anomaly.detector import AnomalyDetector
from seqintent.anomaly.evaluation import evaluate_anomalies
from seqintent.anomaly.features import deviation_features, session_features
from seqintent.anomaly.metrics import (
    average_precision,
    best_f1_threshold,
    detection_metrics,
    fpr_at_recall,
    roc_auc,
    threshold_at_fpr,
)
from seqintent.anomaly.novelty import SequenceNovelty
from seqintent.anomaly.profile import AmountStats, ProfileStore, UserProfile
from seqintent.anomaly.risk import Reason, RiskResult
from seqintent.anomaly.rules import (
    Rule,
    RuleError,
    RuleSet,
    example_rules_path,
    load_rules,
    predicate_catalogue,
)
from seqintent.anomaly.surprise import SequenceSurprise

__all__ = [
    "AmountStats",
    "AnomalyConfig",
    "AnomalyDetector",
    "LevelActions",
    "LevelThresholds",
    "ProfileConfig",
    "ProfileStore",
    "Reason",
    "RiskConfig",
    "RiskResult",
    "Rule",
    "RuleError",
    "RuleSet",
    "SequenceNovelty",
    "SequenceSurprise",
    "SignalWeights",
    "UserProfile",
    "average_precision",
    "best_f1_threshold",
    "detection_metrics",
    "deviation_features",
    "evaluate_anomalies",
    "example_rules_path",
    "fpr_at_recall",
    "load_rules",
    "predicate_catalogue",
    "roc_auc",
    "session_features",
    "threshold_at_fpr",
]
