"""What fitting a prior on a saved model needs: its network rebuilt for new prior sizes, and the
training events and validation targets training itself used (shared by the transition and
neighbour priors)."""

from __future__ import annotations

from typing import Any

import numpy as np

from seqintent.data import Dataset
from seqintent.errors import ConfigError
from seqintent.models.config import NextItemConfig
from seqintent.models.features import EventTokens
from seqintent.models.model import NextItemModel
from seqintent.models.network import NextItemNetwork
from seqintent.models.ranking import action_indices
from seqintent.train.windows import next_item_plan


def with_model_settings(model: NextItemModel, rebuilt: str, **settings: Any) -> NextItemModel:
    """A copy of ``model`` whose ``config.model`` takes ``settings``, with a network built for them:
    every weight is kept but the buffers whose names contain ``rebuilt`` (the ones the settings
    resize, which start at zero)."""
    data = model.config.to_dict()
    data["model"].update(settings)
    config = NextItemConfig.model_validate(data)
    network = NextItemNetwork(config.model, model.spec)
    state = {k: v for k, v in model.network.state_dict().items() if rebuilt not in k}
    network.load_state_dict(state, strict=False)
    return NextItemModel(
        network,
        config,
        model.spec,
        vocabs=model.vocabs,
        dataset_manifest=model.dataset_manifest,
        metrics=dict(model.metrics),
        intents=model.intents,
    )


def training_inputs(model: NextItemModel, dataset: Dataset) -> tuple[EventTokens, np.ndarray, np.ndarray]:
    """``(tokens, counted, valid_targets)`` of ``dataset`` as next-item training of ``model`` saw
    them: the events it trained on and the validation targets it was scored on.

    Raises
    ------
    ConfigError
        If ``model`` was refitted: it trained on its validation targets, so they cannot weigh a
        prior any more.
    """
    if "refit" in model.metrics:
        raise ConfigError(
            "the model was refitted on every training event, its validation targets included, so they "
            "cannot weigh a prior for it",
            key="train.refit",
            fix="fit the prior on the model trained without train.refit (its priors are counted again "
            "at the chosen weights when the refit runs)",
        )
    model.check_dataset(dataset)
    tokens = EventTokens.from_dataset(dataset, model.spec)
    actions = action_indices(dataset, model.config.train.target_actions)
    plan = next_item_plan(tokens, model.config, actions, dataset)
    return tokens, plan.trained_events(tokens), plan.valid_targets
