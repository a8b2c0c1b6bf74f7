"""Anomaly and risk: is this session normal for this user, and if not, why and what to do.

Signals, each turned into words:

* habit profiles (:mod:`~seqintent.anomaly.profile`): usual devices, hours, locations, payees and
  amounts per user, updated incrementally; deviation features (:mod:`~seqintent.anomaly.features`);
* pattern rules (:mod:`~seqintent.anomaly.rules`): a small YAML language for known fraud patterns
  over a sliding window of a user's events;

combined into a 0–100 risk score, a level (low / medium / high / critical), the reasons, and a
recommended action (allow / step_up / hold_for_review), with thresholds in
:class:`~seqintent.anomaly.config.AnomalyConfig`.
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
from seqintent.anomaly.features import deviation_features
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
    "SignalWeights",
    "UserProfile",
    "deviation_features",
    "example_rules_path",
    "load_rules",
    "predicate_catalogue",
]
