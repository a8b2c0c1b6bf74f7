"""Next-item evaluation: full-catalogue ranking of held-out events, model and baselines alike.

Protocol. Every event of the evaluated split that has an item and at least one earlier event of
its user is a target, predicted from all events of the user before it (the model reads its last
``max_len`` of them). With a leave-one-out split this is the standard protocol (history = all but
the last event, the valid event included); with a ``given`` split of sessions (the GCE-GNN
benchmarks) it is their all-prefix protocol, whose P@20 is HR@20 here and MRR@20 the same MRR@20.
No sampled negatives: every item of the catalogue is ranked. Items of the history are candidates
unless ``exclude_seen``. Ties rank pessimistically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.evaluate.metrics import summarize
from seqintent.models.base import HistoryBatch, Scorer, mask_history
from seqintent.models.features import EventTokens
from seqintent.models.ranking import (
    DEFAULT_KS,
    action_indices,
    per_example_metrics,
    target_events,
    target_ranks,
)

# Floats per scoring block ([rows, items] scores): about 128 MB of float64.
SCORE_BLOCK = 1 << 24


@dataclass
class RankingResult:
    """Metrics of one scorer on one split."""

    name: str
    metrics: dict[str, float]
    intervals: dict[str, list[float]] = field(default_factory=dict)
    ranks: np.ndarray | None = None
    seconds: float = 0.0


def evaluate_ranking(
    dataset: Dataset,
    scorers: dict[str, Scorer],
    *,
    split: str = "test",
    ks: tuple[int, ...] = DEFAULT_KS,
    exclude_seen: bool = False,
    target_actions: list[str] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    max_examples: int | None = None,
) -> dict[str, RankingResult]:
    """Rank the held-out item of every target event of ``split`` with every scorer.

    Parameters
    ----------
    dataset:
        The Dataset (its histories and targets).
    scorers:
        Name → fitted scorer (the model, baselines); each must match the Dataset's items.
    split:
        "test" or "valid".
    ks:
        Cut-offs of HR / NDCG / MRR.
    exclude_seen:
        Rank only items not in the history.
    target_actions:
        Only events with these canonical actions are targets (e.g. ``["buy"]``).
    bootstrap:
        Resamples for the 95% intervals (0: none).
    max_examples:
        Evaluate a seeded subset of this many targets (None: all).

    Returns
    -------
    dict
        Name → :class:`RankingResult` (means, intervals, per-example ranks).
    """
    tokens = EventTokens.from_dataset(dataset)
    targets = target_events(tokens, split, actions=action_indices(dataset, target_actions))
    if max_examples is not None and len(targets) > max_examples:
        targets = np.sort(np.random.default_rng(seed).choice(targets, max_examples, replace=False))
    query_time = tokens.time_s[targets] if dataset.has_time else None
    batch = HistoryBatch(tokens, tokens.user_start[targets], targets, query_time)
    # blocks of histories of similar length: a sequence model then scores each block without most
    # of its padding columns (ranks are stored back in target order)
    by_length = np.argsort(targets - tokens.user_start[targets], kind="stable")
    results = {}
    for name, scorer in scorers.items():
        scorer.check_dataset(dataset)
        t0 = time.perf_counter()
        step = max(16, SCORE_BLOCK // scorer.n_items)
        ranks = np.empty(len(targets), dtype=np.int64)
        for lo in range(0, len(targets), step):
            pick = by_length[lo : lo + step]
            part = batch.take(pick)
            scores = scorer.score(part)
            if exclude_seen:
                mask_history(scores, part)
            ranks[pick] = target_ranks(scores, tokens.item[targets[pick]])
        means, intervals = summarize(per_example_metrics(ranks, ks), resamples=bootstrap, seed=seed)
        results[name] = RankingResult(name, means, intervals, ranks, time.perf_counter() - t0)
    return results


def protocol_of(dataset: Dataset) -> str:
    """``all_prefix`` for a ``given`` split (session benchmarks), else the Dataset's split kind."""
    return "all_prefix" if dataset.split_kind == "given" else dataset.split_kind


def session_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The GCE-GNN table's P@20 and MRR@20, in percent (P@20 is HR@20)."""
    out: dict[str, Any] = {}
    if "HR@20" in metrics:
        out["P@20"] = round(100 * metrics["HR@20"], 2)
    if "MRR@20" in metrics:
        out["MRR@20"] = round(100 * metrics["MRR@20"], 2)
    return out
