"""Next-item models: the time-aware Transformer, its Model folder, and classic baselines.

Every model has one estimator shape (:class:`Recommender`: ``fit(dataset)`` → self, ``score``,
``recommend``), so evaluation scores the Transformer and the baselines with the same code. The
network (:class:`NextItemNetwork`) reads event tokens (:mod:`~seqintent.models.features`) built
into padded batches by :mod:`~seqintent.models.batching`; a trained one lives in a Model folder
(:class:`NextItemModel`, ``save_pretrained`` / ``from_pretrained``).
"""

from seqintent.models.base import HistoryBatch, Recommender, Scorer, mask_history
from seqintent.models.baselines import BASELINES, ItemKNN, MarkovChain, Popularity, RecentItems, make_baseline
from seqintent.models.batching import gather_tokens, history_rows
from seqintent.models.config import ModelConfig, NextItemConfig, TrainConfig
from seqintent.models.features import EventTokens, InputSpec, log_bucket
from seqintent.models.model import NextItemModel, important_events, model_rows
from seqintent.models.network import INPUT_NAMES, NextItemHead, NextItemNetwork, SequenceEncoder
from seqintent.models.ranking import DEFAULT_KS, per_example_metrics, target_events, target_ranks

__all__ = [
    "BASELINES",
    "DEFAULT_KS",
    "INPUT_NAMES",
    "EventTokens",
    "HistoryBatch",
    "InputSpec",
    "ItemKNN",
    "MarkovChain",
    "ModelConfig",
    "NextItemConfig",
    "NextItemHead",
    "NextItemModel",
    "NextItemNetwork",
    "Popularity",
    "RecentItems",
    "Recommender",
    "Scorer",
    "SequenceEncoder",
    "TrainConfig",
    "gather_tokens",
    "history_rows",
    "important_events",
    "log_bucket",
    "make_baseline",
    "mask_history",
    "model_rows",
    "per_example_metrics",
    "target_events",
    "target_ranks",
]
