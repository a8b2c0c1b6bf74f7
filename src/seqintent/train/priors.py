"""Both priors of the next-item head, fitted in order at the end of training (and at every
validation with ``train.select_with_priors``): the transition prior first, then the neighbour prior
on scores that include it (each where the model config has it); after a refit, counted again on
every training event at the weights the fit chose."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqintent.models.features import EventTokens
from seqintent.models.model import NextItemModel
from seqintent.train.neighbour_prior import fit_neighbour_prior, install_neighbour_prior
from seqintent.train.transition_prior import fit_transition_prior, install_transition_prior


def fit_priors(
    model: NextItemModel, tokens: EventTokens, counted: np.ndarray, valid_targets: np.ndarray, *, metric: str
) -> dict[str, dict[str, Any]]:
    """Install the priors ``model.config`` names (in place) and return their records by metric
    name (``transition_prior``, ``neighbour_prior``); arguments as :func:`fit_transition_prior`.

    Priors installed before (a pre-trained encoder's, an earlier validation's) are cleared first,
    so the transition prior is never weighed on scores that still carry old neighbour votes."""
    clear_priors(model)
    fits = {"transition_prior": fit_transition_prior, "neighbour_prior": fit_neighbour_prior}  # in order
    return {
        name: fit(model, tokens, counted, valid_targets, metric=metric)
        for name, fit in fits.items()
        if getattr(model.config.model, name)
    }


def clear_priors(model: NextItemModel) -> None:
    """Zero both priors' bonuses (where the head has them): the network's own scores."""
    head = model.network.next_item
    for bonus in (head.prior_bonus, head.neighbour_weight):
        if bonus is not None:
            bonus.zero_()


def install_priors(
    model: NextItemModel, tokens: EventTokens, counted: np.ndarray, records: dict[str, dict[str, Any]]
) -> None:
    """Count the priors ``records`` name (what :func:`fit_priors` returned) on ``counted`` events and
    install them at the weights those records chose, without weighing them again (a refit has no
    validation targets left to weigh them on)."""
    if "transition_prior" in records:
        chosen = records["transition_prior"]
        install_transition_prior(model, tokens, counted, weight=chosen["weight"], epsilon=chosen["epsilon"])
    if "neighbour_prior" in records:
        install_neighbour_prior(model, tokens, counted, weight=records["neighbour_prior"]["weight"])
