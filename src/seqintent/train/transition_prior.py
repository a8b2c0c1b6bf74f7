"""The next-item head's transition prior, fitted after training.

Counts come from the transitions into the events the model trained on (the held-out validation
and test events never count); the bonus ``weight · log1p(P(next | newest item) / epsilon)`` is
chosen on the validation targets from a small grid that includes weight 0 (no prior), so a log
where the Markov chain adds nothing keeps the network's scores unchanged. Figures: BENCHMARKS.md,
next-item quality.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.models.base import HistoryBatch
from seqintent.models.config import VALID_METRICS
from seqintent.models.features import EventTokens
from seqintent.models.model import NextItemModel, model_rows
from seqintent.models.ranking import per_example_metrics
from seqintent.models.transitions import item_transitions, top_transitions
from seqintent.train.prior_inputs import training_inputs, with_model_settings

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
EPSILONS = (1e-4, 1e-3, 1e-2, 1e-1)
CHUNK = 1024
# the deepest rank a weighing metric reads (HR / NDCG / MRR at 10 or 20): ranks below it need not be exact
RANK_CUTOFF = max(int(name.split("@")[1]) for name in VALID_METRICS)
DEFAULT_TOP = 32  # transitions kept per item when a model trained without a prior gets one


def add_transition_prior(
    model: NextItemModel, dataset: Dataset, *, top: int | None = None, metric: str | None = None
) -> NextItemModel:
    """The model with its transition prior fitted on ``dataset`` exactly as training fits it at its
    end (the same training events and validation targets); the record lands in
    ``metrics["transition_prior"]``.

    ``top`` is the number of next items kept per item (default: the model's
    ``model.transition_prior``, or 32 for a model trained without one, whose network then gains
    the prior's buffers: a Model folder saved before the prior existed can get one this way).
    ``metric`` is the validation metric that weighs it (default: the config's
    ``train.prior_weighing_metric``).
    """
    top = top or model.config.model.transition_prior or DEFAULT_TOP
    if top != model.config.model.transition_prior:
        model = with_model_settings(model, ".prior_", transition_prior=top)
    tokens, counted, valid_targets = training_inputs(model, dataset)
    metric = metric or model.config.train.prior_weighing_metric
    model.metrics["transition_prior"] = fit_transition_prior(
        model, tokens, counted, valid_targets, metric=metric
    )
    return model


def fit_transition_prior(
    model: NextItemModel,
    tokens: EventTokens,
    counted: np.ndarray,
    valid_targets: np.ndarray,
    *,
    metric: str = "NDCG@10",
) -> dict[str, Any]:
    """Install the transition prior in ``model`` (in place) and return what was chosen.

    Parameters
    ----------
    model:
        A trained model whose config has ``model.transition_prior > 0``.
    tokens:
        The Dataset's event tokens.
    counted:
        Bool [n_events]: the events the network trained on as next-item targets; the transitions
        into them are counted (none into validation or test events).
    valid_targets:
        Validation target events (their histories are the events before them).
    metric:
        The validation metric that picks the weight (``NDCG@10``, ``HR@20`` …).
    """
    started = time.perf_counter()
    head = model.network.next_item
    top = model.config.model.transition_prior
    source, target = item_transitions(tokens.item, tokens.user, counted)
    items, probs = top_transitions(source, target, model.n_items, top)
    head.set_transition_prior(items, np.zeros_like(probs))  # the network's own scores first
    grid = [(w, e) for w in WEIGHTS for e in (EPSILONS if w > 0 else EPSILONS[:1])]
    ranks: dict[tuple[float, float], list[np.ndarray]] = {g: [] for g in grid}
    order = np.argsort(valid_targets - tokens.user_start[valid_targets], kind="stable")
    valid_targets = valid_targets[order]  # similar lengths share a chunk: less padding
    for lo in range(0, len(valid_targets), CHUNK):
        t = valid_targets[lo : lo + CHUNK]
        starts = tokens.user_start[t]
        query_time = tokens.time_s[t] if model.spec.has_time else None
        scores = model.score(HistoryBatch(tokens, starts, t, query_time))
        newest = _newest_items(tokens, model_rows(tokens, starts, t, model.config.model))
        rows = np.arange(len(t))[:, None]
        columns, p = items[newest], probs[newest]
        base_at_prior = scores[rows, columns]
        target_base = scores[rows[:, 0], tokens.item[t]]
        largest = _largest(scores, RANK_CUTOFF + columns.shape[1] + 1)
        for weight, epsilon in grid:
            bonus = (weight * np.log1p(p / epsilon)).astype(np.float32)
            ranks[(weight, epsilon)].append(
                _ranks_with_bonus(largest, base_at_prior, bonus, columns, tokens.item[t], target_base)
            )
    figures = {}
    for g, parts in ranks.items():
        figures[g] = float(per_example_metrics(np.concatenate(parts))[metric].mean()) if parts else 0.0
    best = grid[0]
    for g in grid[1:]:  # strictly better only: ties keep the smaller weight
        if figures[g] > figures[best]:
            best = g
    weight, epsilon = best
    head.set_transition_prior(items, weight * np.log1p(probs / epsilon))
    return {
        "top": top,
        "transitions": len(source),
        "items_with_next": int((probs[:, 0] > 0).sum()),
        "weight": weight,
        "epsilon": epsilon,
        "metric": metric,
        f"valid_{metric}_without": round(figures[grid[0]], 5),
        f"valid_{metric}_with": round(figures[best], 5),
        "grid": {f"weight={w:g},epsilon={e:g}": round(v, 5) for (w, e), v in figures.items()},
        "valid_examples": len(valid_targets),
        "seconds": round(time.perf_counter() - started, 3),
    }


def install_transition_prior(
    model: NextItemModel,
    tokens: EventTokens,
    counted: np.ndarray,
    *,
    weight: float,
    epsilon: float,
) -> None:
    """Count the transitions into ``counted`` events and install them at a given weight and epsilon
    (what :func:`fit_transition_prior` chose, after a refit)."""
    items, probs = top_transitions(
        *item_transitions(tokens.item, tokens.user, counted),
        model.n_items,
        model.config.model.transition_prior,
    )
    model.network.next_item.set_transition_prior(items, weight * np.log1p(probs / epsilon))


def _newest_items(tokens: EventTokens, rows: np.ndarray) -> np.ndarray:
    """The newest item of each history as the model reads it (rows [B, T] of event indices, -1 for
    padding), 0 when none of its events has an item: what the head's prior looks up."""
    item = np.where(rows >= 0, tokens.item[np.maximum(rows, 0)], 0)
    has = item > 0
    newest = item.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)
    return np.where(has.any(axis=1), item[np.arange(len(item)), newest], 0)


def _largest(scores: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` largest scores of each row [B, V], in no order. While fewer than ``count``
    columns score at or above a threshold, all of them are among these, so counting them here is
    exact; a rank counted on them is exact up to ``count - N`` (N prior columns per row, which the
    count corrects) and beyond it otherwise, and a grid of weights counts [B, count] instead of
    [B, V] columns per weight."""
    if count >= scores.shape[1]:
        return scores
    return np.partition(scores, scores.shape[1] - count, axis=1)[:, -count:]


def _ranks_with_bonus(
    scores: np.ndarray,
    base_at_prior: np.ndarray,
    bonus: np.ndarray,
    columns: np.ndarray,
    targets: np.ndarray,
    target_base: np.ndarray,
) -> np.ndarray:
    """:func:`~seqintent.models.ranking.target_ranks` of ``scores`` with ``bonus`` [B, N] added at
    ``columns`` [B, N] (distinct per row but for item 0), without a copy of the [B, V] scores:
    count every column at or above the target's new score, then correct the N prior columns.
    ``scores`` may be each row's largest columns only (:func:`_largest`)."""
    gets = columns == targets[:, None]
    threshold = (target_base + (bonus * gets).sum(axis=1))[:, None]
    at_or_above = (scores >= threshold).sum(axis=1)
    at_or_above -= (base_at_prior >= threshold).sum(axis=1)
    at_or_above += ((base_at_prior + bonus) >= threshold).sum(axis=1)
    return at_or_above.astype(np.int64)  # the target counts itself once: ties rank pessimistically
