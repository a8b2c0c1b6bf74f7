"""Fixtures shared across test folders."""

from __future__ import annotations

import os

import pytest

# OpenMP threads that spin-wait collapse when another process takes a core (shared test machines).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def research(tmp_path_factory):
    """A small log with a planted order-dependent intent, and a model trained on it with intent heads.

    Returns ``(dataset, truth, model, model_folder)``; see ``tests/intent_builders.py``. Trained once
    per session (about 15 s): joint training of encoder and heads from scratch.
    """
    from seqintent.models import NextItemConfig
    from seqintent.models.intent_config import IntentConfig
    from seqintent.train.multitask import train_intents
    from tests.intent_builders import RESEARCH_INTENTS, research_log

    folder = tmp_path_factory.mktemp("research")
    dataset, truth = research_log(folder / "data", users=150)
    config = IntentConfig.model_validate(RESEARCH_INTENTS)
    network = NextItemConfig.load(
        {"model": {"hidden": 32, "layers": 2, "max_len": 16, "dropout": 0.1, "neighbour_prior": 16}}
    )
    model = train_intents(dataset, config, next_item_config=network, out=folder / "model")
    return dataset, truth, model, folder / "model"
