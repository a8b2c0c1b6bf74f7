"""Next-item models: the time-aware Transformer, its Model folder, and classic baselines.

Every model has one estimator shape (:class:`Recommender`: ``fit(dataset)`` → self, ``score``,
``recommend``), so evaluation scores the Transformer and the baselines with the same code. The
network (:class:`NextItemNetwork`) reads event tokens (:mod:`~seqintent.models.features`) built
into padded batches by :mod:`~seqintent.models.batching`; a trained one lives in a Model folder
(:class:`NextItemModel`, ``save_pretrained`` / ``from_pretrained``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqintent.models.base import HistoryBatch, Recommender, Scorer, mask_history
    from seqintent.models.baselines import (
        BASELINES,
        ItemKNN,
        MarkovChain,
        Popularity,
        RecentItems,
        make_baseline,
    )
    from seqintent.models.batching import gather_tokens, history_rows
    from seqintent.models.config import ModelConfig, NextItemConfig, TrainConfig
    from seqintent.models.features import EventTokens, InputSpec, log_bucket
    from seqintent.models.model import NextItemModel, important_events, model_rows
    from seqintent.models.network import INPUT_NAMES, NextItemHead, NextItemNetwork, SequenceEncoder
    from seqintent.models.ranking import DEFAULT_KS, per_example_metrics, target_events, target_ranks

# Submodules load on first use (PEP 562): the numpy-only ones (calibration, intent_config) must
# stay importable without torch, which the serving runtime never loads.
_EXPORTS = {
    "HistoryBatch": "seqintent.models.base",
    "Recommender": "seqintent.models.base",
    "Scorer": "seqintent.models.base",
    "mask_history": "seqintent.models.base",
    "BASELINES": "seqintent.models.baselines",
    "ItemKNN": "seqintent.models.baselines",
    "MarkovChain": "seqintent.models.baselines",
    "Popularity": "seqintent.models.baselines",
    "RecentItems": "seqintent.models.baselines",
    "make_baseline": "seqintent.models.baselines",
    "gather_tokens": "seqintent.models.batching",
    "history_rows": "seqintent.models.batching",
    "ModelConfig": "seqintent.models.config",
    "NextItemConfig": "seqintent.models.config",
    "TrainConfig": "seqintent.models.config",
    "EventTokens": "seqintent.models.features",
    "InputSpec": "seqintent.models.features",
    "log_bucket": "seqintent.models.features",
    "NextItemModel": "seqintent.models.model",
    "important_events": "seqintent.models.model",
    "model_rows": "seqintent.models.model",
    "INPUT_NAMES": "seqintent.models.network",
    "NextItemHead": "seqintent.models.network",
    "NextItemNetwork": "seqintent.models.network",
    "SequenceEncoder": "seqintent.models.network",
    "DEFAULT_KS": "seqintent.models.ranking",
    "per_example_metrics": "seqintent.models.ranking",
    "target_events": "seqintent.models.ranking",
    "target_ranks": "seqintent.models.ranking",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqintent.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
