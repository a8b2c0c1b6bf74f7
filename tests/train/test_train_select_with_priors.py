"""Selection with the priors: every validation fits both priors to that epoch's network, early
stopping follows the model training delivers, and fitting the priors again changes nothing."""

import numpy as np
import pytest

from seqintent.errors import ConfigError
from seqintent.evaluate import evaluate_ranking
from seqintent.models import NextItemConfig
from seqintent.train import train_next_item
from seqintent.train.prior_inputs import training_inputs
from seqintent.train.priors import fit_priors
from tests.train.test_train_neighbour_prior import CONFIG

EPOCHS = 4


@pytest.fixture(scope="module")
def selected_with_priors(groups):
    config = NextItemConfig.load(
        {**CONFIG, "train": {**CONFIG["train"], "epochs": EPOCHS, "select_with_priors": True}}
    )
    return train_next_item(groups, config)


def test_every_validation_records_the_network_alone_and_with_its_priors(selected_with_priors):
    history = selected_with_priors.metrics["history"]
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    for record in history:
        assert set(record["priors"]) == {"transition_prior", "neighbour_prior"}
        # the grids hold weight 0, so the weighing metric can only gain
        assert record["valid"]["NDCG@10"] >= record["valid_network"]["NDCG@10"]
    # groups of co-viewed items, in no order: the votes carry what a few epochs of the network miss
    assert all(r["valid"]["NDCG@10"] > r["valid_network"]["NDCG@10"] + 0.05 for r in history)


def test_the_best_epoch_is_the_best_with_priors_and_the_delivered_model_scores_it(
    groups, selected_with_priors
):
    metrics = selected_with_priors.metrics
    with_priors = {r["epoch"]: r["valid"]["NDCG@10"] for r in metrics["history"]}
    assert metrics["best_epoch"] == max(with_priors, key=lambda e: (with_priors[e], -e))
    assert metrics["best_valid"]["NDCG@10"] == with_priors[metrics["best_epoch"]]
    valid = evaluate_ranking(groups, {"model": selected_with_priors}, split="valid", bootstrap=0)["model"]
    assert valid.metrics["NDCG@10"] == pytest.approx(metrics["best_valid"]["NDCG@10"], abs=1e-4)


def test_the_priors_are_weighed_on_the_network_alone_however_often_they_are_fitted(
    groups, selected_with_priors
):
    """The model carries both priors from its best epoch's validation: fitting them again must not
    weigh the transition prior on scores that still carry those neighbour votes."""
    model = selected_with_priors
    best = next(r for r in model.metrics["history"] if r["epoch"] == model.metrics["best_epoch"])
    network_alone = best["valid_network"]["NDCG@10"]
    assert model.metrics["transition_prior"]["valid_NDCG@10_without"] == pytest.approx(
        network_alone, abs=2e-5
    )
    tokens, counted, valid_targets = training_inputs(model, groups)
    bonus = model.network.next_item.neighbour_weight.clone()
    again = fit_priors(model, tokens, counted, valid_targets, metric="NDCG@10")
    assert again["transition_prior"]["valid_NDCG@10_without"] == pytest.approx(network_alone, abs=2e-5)
    assert np.array_equal(model.network.next_item.neighbour_weight.numpy(), bonus.numpy())


def test_selection_with_priors_needs_a_prior(groups):
    config = NextItemConfig.load(
        {
            "model": {**CONFIG["model"], "transition_prior": 0, "neighbour_prior": 0},
            "train": {**CONFIG["train"], "select_with_priors": True},
        }
    )
    with pytest.raises(ConfigError, match=r"train\.select_with_priors"):
        train_next_item(groups, config)
