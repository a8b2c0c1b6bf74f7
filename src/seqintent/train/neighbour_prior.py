"""The next-item head's neighbour prior (item-kNN votes), fitted after training and after the
transition prior.

Neighbourhoods come from the histories' events the model trained on (validation and test targets
never join one: counted with them, an item's neighbourhood would hold its own validation target
and the weight would be chosen on a leak). The weight of the votes is chosen on the validation
targets from a grid that includes 0 (no prior), so a log where item-kNN adds nothing keeps the
scores unchanged. Figures: BENCHMARKS.md, next-item quality.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from seqintent.data import Dataset
from seqintent.models.base import HistoryBatch
from seqintent.models.features import EventTokens
from seqintent.models.model import NextItemModel, model_rows
from seqintent.models.neighbours import item_neighbours
from seqintent.models.ranking import per_example_metrics, target_ranks
from seqintent.train.prior_inputs import training_inputs, with_model_settings

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
CHUNK = 512
DEFAULT_TOP = 200  # neighbours kept per item when a model trained without the prior gets one


def add_neighbour_prior(
    model: NextItemModel,
    dataset: Dataset,
    *,
    top: int | None = None,
    history: int | None = None,
    metric: str | None = None,
) -> NextItemModel:
    """The model with its neighbour prior fitted on ``dataset`` exactly as training fits it at its
    end (the same training events and validation targets, after the transition prior, which stays
    as it is); the record lands in ``metrics["neighbour_prior"]``.

    ``top`` is the number of neighbours kept per item (default: the model's
    ``model.neighbour_prior``, or 200 for a model trained without one, whose network then gains
    the prior's buffers); ``history`` the newest events whose items vote (default: the model's
    ``model.neighbour_history``); ``metric`` the validation metric that weighs it (default: the
    config's ``train.prior_weighing_metric``).
    """
    cfg = model.config.model
    top = top or cfg.neighbour_prior or DEFAULT_TOP
    history = history or cfg.neighbour_history
    if (top, history) != (cfg.neighbour_prior, cfg.neighbour_history):
        model = with_model_settings(model, ".neighbour_", neighbour_prior=top, neighbour_history=history)
    tokens, counted, valid_targets = training_inputs(model, dataset)
    metric = metric or model.config.train.prior_weighing_metric
    model.metrics["neighbour_prior"] = fit_neighbour_prior(
        model, tokens, counted, valid_targets, metric=metric
    )
    return model


def fit_neighbour_prior(
    model: NextItemModel,
    tokens: EventTokens,
    counted: np.ndarray,
    valid_targets: np.ndarray,
    *,
    metric: str = "NDCG@10",
) -> dict[str, Any]:
    """Install the neighbour prior in ``model`` (in place) and return what was chosen.

    Parameters
    ----------
    model:
        A trained model whose config has ``model.neighbour_prior > 0``.
    tokens:
        The Dataset's event tokens.
    counted:
        Bool [n_events]: the events the network trained on; the item sets of these make the
        neighbourhoods (no validation or test event).
    valid_targets:
        Validation target events (their histories are the events before them).
    metric:
        The validation metric that picks the weight (``NDCG@10``, ``HR@20`` …).
    """
    started = time.perf_counter()
    head = model.network.next_item
    cfg = model.config.model
    items, similarity = item_neighbours(tokens.item, tokens.user, counted, model.n_items, cfg.neighbour_prior)
    head.set_neighbour_prior(items, np.zeros_like(similarity))  # the scores without votes first
    silent = head.neighbour_weight
    ranks: dict[float, list[np.ndarray]] = {w: [] for w in WEIGHTS}
    order = np.argsort(valid_targets - tokens.user_start[valid_targets], kind="stable")
    valid_targets = valid_targets[order]  # similar lengths share a chunk: less padding
    for lo in range(0, len(valid_targets), CHUNK):
        t = valid_targets[lo : lo + CHUNK]
        starts = tokens.user_start[t]
        query_time = tokens.time_s[t] if model.spec.has_time else None
        scores = torch.from_numpy(model.score(HistoryBatch(tokens, starts, t, query_time)))
        rows = model_rows(tokens, starts, t, cfg)
        history = torch.from_numpy(np.where(rows >= 0, tokens.item[np.maximum(rows, 0)], 0).astype(np.int64))
        head.neighbour_weight = torch.from_numpy(similarity)  # votes at weight 1, read by the head itself
        try:
            with torch.no_grad():
                index, votes = head.neighbour_scores(history)
        finally:
            head.neighbour_weight = silent
        votes = torch.zeros_like(scores).scatter_add(1, index, votes)
        combined = torch.empty_like(scores)  # one buffer for every weight
        for weight in WEIGHTS:
            torch.add(scores, votes, alpha=weight, out=combined)
            ranks[weight].append(target_ranks(combined.numpy(), tokens.item[t]))
    figures = {
        w: float(per_example_metrics(np.concatenate(parts))[metric].mean()) if parts else 0.0
        for w, parts in ranks.items()
    }
    best = WEIGHTS[0]
    for weight in WEIGHTS[1:]:  # strictly better only: ties keep the smaller weight
        if figures[weight] > figures[best]:
            best = weight
    head.set_neighbour_prior(items, best * similarity)
    return {
        "top": cfg.neighbour_prior,
        "history": cfg.neighbour_history,
        "items_with_neighbours": int((similarity[:, 0] > 0).sum()),
        "weight": best,
        "metric": metric,
        f"valid_{metric}_without": round(figures[WEIGHTS[0]], 5),
        f"valid_{metric}_with": round(figures[best], 5),
        "grid": {f"weight={w:g}": round(v, 5) for w, v in figures.items()},
        "valid_examples": len(valid_targets),
        "seconds": round(time.perf_counter() - started, 3),
    }


def install_neighbour_prior(
    model: NextItemModel, tokens: EventTokens, counted: np.ndarray, *, weight: float
) -> None:
    """Make the neighbourhoods of ``counted`` events and install them at a given weight (what
    :func:`fit_neighbour_prior` chose, after a refit)."""
    cfg = model.config.model
    items, similarity = item_neighbours(tokens.item, tokens.user, counted, model.n_items, cfg.neighbour_prior)
    model.network.next_item.set_neighbour_prior(items, weight * similarity)
