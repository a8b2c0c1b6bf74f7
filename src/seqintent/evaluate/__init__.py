"""Evaluation: full-catalogue ranking metrics with bootstrap intervals, model beside baselines.

:func:`evaluate_model` is ``seqintent evaluate``; :func:`evaluate_ranking` ranks any set of
scorers (the Transformer, baselines, ablations) on a Dataset split with the same code.
"""

from seqintent.evaluate.metrics import bootstrap_interval, summarize
from seqintent.evaluate.ranking import RankingResult, evaluate_ranking, protocol_of, session_metrics
from seqintent.evaluate.report import DEFAULT_BASELINES, evaluate_model

__all__ = [
    "DEFAULT_BASELINES",
    "RankingResult",
    "bootstrap_interval",
    "evaluate_model",
    "evaluate_ranking",
    "protocol_of",
    "session_metrics",
    "summarize",
]
