"""The transition prior: fitted on training transitions only, weighed on validation, the same in the graph."""

import json

import numpy as np
import pytest
import torch

from seqintent.evaluate import evaluate_ranking
from seqintent.models import MarkovChain, NextItemConfig, NextItemModel
from seqintent.models.features import EventTokens
from seqintent.models.intent_config import IntentConfig
from seqintent.models.neighbours import item_neighbours
from seqintent.models.ranking import target_ranks
from seqintent.models.transitions import item_transitions, top_transitions
from seqintent.train import add_transition_prior, train_next_item
from seqintent.train.multitask import prepare_intents
from seqintent.train.transition_prior import _largest, _ranks_with_bonus
from tests.dataset_builders import sequences_dataset
from tests.intent_builders import RESEARCH_INTENTS

ITEMS = 300


def _chain_log(folder, users=400, length=12, seed=0):
    """Sparse first-order chains over many items (item i is mostly followed by its successor): the
    Amazon-file shape, where a briefly trained network trails a Markov chain."""
    rng = np.random.default_rng(seed)
    successor = rng.permutation(ITEMS)
    walks = []
    for _ in range(users):
        walk = [int(rng.integers(ITEMS))]
        for _ in range(length - 1):
            walk.append(int(successor[walk[-1]]) if rng.random() < 0.85 else int(rng.integers(ITEMS)))
        walks.append([f"i{i}" for i in walk])
    return sequences_dataset(folder, walks, name="chains")


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    return _chain_log(tmp_path_factory.mktemp("chains") / "d")


@pytest.fixture(scope="module")
def briefly_trained(chains):
    config = NextItemConfig.load(
        {
            "model": {"hidden": 16, "layers": 1, "max_len": 8, "dropout": 0.0, "transition_prior": 4},
            "train": {"epochs": 1, "batch_size": 64, "threads": 1},
        }
    )
    return train_next_item(chains, config)


def test_the_prior_is_weighed_on_validation_and_the_graph_scores_what_the_fit_measured(
    chains, briefly_trained
):
    record = briefly_trained.metrics["transition_prior"]
    assert record["weight"] > 0
    assert record["valid_NDCG@10_with"] >= record["valid_NDCG@10_without"] + 0.1
    # the network's forward pass (what evaluation and serving run) reproduces the fit's figure
    valid = evaluate_ranking(chains, {"model": briefly_trained}, split="valid", bootstrap=0)["model"]
    assert valid.metrics["NDCG@10"] == pytest.approx(record["valid_NDCG@10_with"], abs=1e-4)


def test_with_the_prior_the_model_beats_both_parts_on_test(chains, briefly_trained):
    head = briefly_trained.network.next_item
    bonus = head.prior_bonus.clone()
    scorers = {"model": briefly_trained, "markov": MarkovChain().fit(chains)}
    with_prior = evaluate_ranking(chains, scorers, split="test", bootstrap=0)
    head.prior_bonus.zero_()
    try:
        alone = evaluate_ranking(chains, {"model": briefly_trained}, split="test", bootstrap=0)["model"]
    finally:
        head.prior_bonus.copy_(bonus)
    ndcg = with_prior["model"].metrics["NDCG@10"]
    assert ndcg > alone.metrics["NDCG@10"] + 0.1
    assert ndcg > with_prior["markov"].metrics["NDCG@10"]


def test_only_training_transitions_are_counted(chains, briefly_trained):
    # leave-one-out: each user's last two events are the test and validation targets
    tokens = EventTokens.from_dataset(chains)
    counted = np.arange(tokens.n_events) < (tokens.offsets[1:] - 2)[tokens.user]
    items, probs = top_transitions(
        *item_transitions(tokens.item, tokens.user, counted), briefly_trained.n_items, 4
    )
    record = briefly_trained.metrics["transition_prior"]
    head = briefly_trained.network.next_item
    assert np.array_equal(head.prior_items.numpy(), items)
    want = record["weight"] * np.log1p(probs / record["epsilon"])
    np.testing.assert_allclose(head.prior_bonus.numpy(), want, rtol=1e-5)


def test_ranks_with_a_bonus_equal_ranks_of_the_scores_with_the_bonus_added():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=(50, 40)).astype(np.float32)  # many ties
    scores[:, 0] = -np.inf
    columns = np.stack([rng.choice(np.arange(1, 40), 5, replace=False) for _ in range(50)])
    columns[::7, -2:] = 0  # rows padded with item 0
    bonus = rng.integers(0, 3, size=(50, 5)).astype(np.float32)
    bonus[columns == 0] = 0
    targets = rng.integers(1, 40, 50)
    targets[::3] = columns[::3, 1]  # some targets get a bonus
    rows = np.arange(50)[:, None]
    added = scores.copy()
    added[rows, columns] += bonus
    got = _ranks_with_bonus(
        scores, scores[rows, columns], bonus, columns, targets, scores[rows[:, 0], targets]
    )
    np.testing.assert_array_equal(got, target_ranks(added, targets))
    # counted on each row's 25 largest scores only: exact up to rank 25 - 5 prior columns, beyond it after
    capped = _ranks_with_bonus(
        _largest(scores, 25), scores[rows, columns], bonus, columns, targets, scores[rows[:, 0], targets]
    )
    exact = target_ranks(added, targets)
    near = exact <= 20
    assert near.sum() >= 10 and (~near).sum() >= 10
    np.testing.assert_array_equal(capped[near], exact[near])
    assert (capped[~near] > 20).all()


def test_a_model_trained_without_the_prior_gets_the_same_one_afterwards(chains, briefly_trained, tmp_path):
    data = briefly_trained.config.to_dict()
    data["model"]["transition_prior"] = 0
    plain = train_next_item(chains, NextItemConfig.load(data), out=tmp_path / "plain")
    assert "transition_prior" not in plain.metrics and plain.network.next_item.prior_items is None
    # a folder written before the prior existed has no such key: it loads with the prior off
    config_file = tmp_path / "plain" / "config.json"
    body = json.loads(config_file.read_text())
    del body["config"]["model"]["transition_prior"]
    config_file.write_text(json.dumps(body))
    loaded = NextItemModel.from_pretrained(tmp_path / "plain")
    assert loaded.config.model.transition_prior == 0
    primed = add_transition_prior(loaded, chains, top=4)
    assert primed.metrics["transition_prior"] == briefly_trained.metrics["transition_prior"] | {
        "seconds": primed.metrics["transition_prior"]["seconds"]
    }
    head, want = primed.network.next_item, briefly_trained.network.next_item
    assert torch.equal(head.prior_items, want.prior_items) and torch.equal(head.prior_bonus, want.prior_bonus)
    again = NextItemModel.from_pretrained(primed.save_pretrained(tmp_path / "primed"))
    assert torch.equal(again.network.next_item.prior_bonus, want.prior_bonus)


def test_intent_training_counts_only_its_own_next_item_targets(research):
    # joint training: the next-item loop never ran; the prior is fitted for this encoder, counted on
    # the intent loop's next-item targets (no validation user's event, nothing after the test start)
    dataset, _, model, folder = research
    record = model.metrics["transition_prior"]
    assert record["valid_NDCG@10_with"] >= record["valid_NDCG@10_without"]
    assert NextItemModel.from_pretrained(folder).metrics["transition_prior"] == record
    config = IntentConfig.model_validate(RESEARCH_INTENTS)
    data = prepare_intents(dataset, config, model.spec)
    tokens = data.tokens
    assert not data.next_item_target[np.isin(tokens.user, data.plan.valid_users)].any()
    counted = item_transitions(tokens.item, tokens.user, data.next_item_target)
    items, probs = top_transitions(*counted, model.n_items, model.config.model.transition_prior)
    head = model.network.next_item
    assert np.array_equal(head.prior_items.numpy(), items)
    want = record["weight"] * np.log1p(probs / record["epsilon"])
    np.testing.assert_allclose(head.prior_bonus.numpy(), want, rtol=1e-5)
    # the neighbour prior likewise: neighbourhoods of the same events only, weighed after it
    votes = model.metrics["neighbour_prior"]
    items, similarity = item_neighbours(tokens.item, tokens.user, data.next_item_target, model.n_items, 16)
    assert np.array_equal(head.neighbour_items.numpy(), items)
    np.testing.assert_allclose(head.neighbour_weight.numpy(), votes["weight"] * similarity, rtol=1e-6)
    assert votes["valid_NDCG@10_with"] >= votes["valid_NDCG@10_without"]
