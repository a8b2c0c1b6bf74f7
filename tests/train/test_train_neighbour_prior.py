"""The neighbour prior: neighbourhoods of training events only, weighed on validation, served as fitted."""

import copy

import numpy as np
import pytest
import torch

from seqintent.evaluate import evaluate_ranking
from seqintent.models import ItemKNN, NextItemConfig, NextItemModel
from seqintent.models.features import EventTokens
from seqintent.models.neighbours import item_neighbours
from seqintent.train import add_neighbour_prior, train_next_item

CONFIG = {
    "model": {
        "hidden": 16,
        "layers": 1,
        "max_len": 8,
        "dropout": 0.0,
        "transition_prior": 4,
        "neighbour_prior": 20,
    },
    "train": {"epochs": 1, "batch_size": 64, "threads": 1},
}


@pytest.fixture(scope="module")
def briefly_trained(groups):
    return train_next_item(groups, NextItemConfig.load(CONFIG))


def test_the_votes_are_weighed_on_validation_and_the_graph_scores_what_the_fit_measured(
    groups, briefly_trained
):
    record = briefly_trained.metrics["neighbour_prior"]
    assert record["weight"] > 0 and record["metric"] == "NDCG@10"
    assert record["valid_NDCG@10_with"] >= record["valid_NDCG@10_without"] + 0.1
    valid = evaluate_ranking(groups, {"model": briefly_trained}, split="valid", bootstrap=0)["model"]
    assert valid.metrics["NDCG@10"] == pytest.approx(record["valid_NDCG@10_with"], abs=1e-4)


def test_with_the_votes_the_model_beats_both_parts_on_test(groups, briefly_trained):
    head = briefly_trained.network.next_item
    weight = head.neighbour_weight.clone()
    scorers = {"model": briefly_trained, "itemknn": ItemKNN().fit(groups)}
    with_votes = evaluate_ranking(groups, scorers, split="test", bootstrap=0)
    head.neighbour_weight.zero_()
    try:
        alone = evaluate_ranking(groups, {"model": briefly_trained}, split="test", bootstrap=0)["model"]
    finally:
        head.neighbour_weight.copy_(weight)
    ndcg = with_votes["model"].metrics["NDCG@10"]
    assert ndcg > alone.metrics["NDCG@10"] + 0.1
    assert ndcg > with_votes["itemknn"].metrics["NDCG@10"]


def test_only_training_events_join_a_neighbourhood(groups, briefly_trained):
    # leave-one-out: each user's last two events are the test and validation targets
    tokens = EventTokens.from_dataset(groups)
    counted = np.arange(tokens.n_events) < (tokens.offsets[1:] - 2)[tokens.user]
    items, similarity = item_neighbours(tokens.item, tokens.user, counted, briefly_trained.n_items, 20)
    head = briefly_trained.network.next_item
    assert np.array_equal(head.neighbour_items.numpy(), items)
    weight = briefly_trained.metrics["neighbour_prior"]["weight"]
    np.testing.assert_allclose(head.neighbour_weight.numpy(), weight * similarity, rtol=1e-6)


def test_a_model_trained_without_the_votes_gets_the_same_afterwards(groups, briefly_trained, tmp_path):
    data = briefly_trained.config.to_dict()
    data["model"]["neighbour_prior"] = 0
    plain = train_next_item(groups, NextItemConfig.load(data), out=tmp_path / "plain")
    assert "neighbour_prior" not in plain.metrics and plain.network.next_item.neighbour_items is None
    primed = add_neighbour_prior(NextItemModel.from_pretrained(tmp_path / "plain"), groups, top=20)
    record = primed.metrics["neighbour_prior"]
    assert record == briefly_trained.metrics["neighbour_prior"] | {"seconds": record["seconds"]}
    head, want = primed.network.next_item, briefly_trained.network.next_item
    assert torch.equal(head.neighbour_items, want.neighbour_items)
    assert torch.equal(head.neighbour_weight, want.neighbour_weight)
    again = NextItemModel.from_pretrained(primed.save_pretrained(tmp_path / "primed"))
    assert again.config.model.neighbour_prior == 20
    assert torch.equal(again.network.next_item.neighbour_weight, want.neighbour_weight)


def test_the_prior_metric_chooses_the_weight(groups, briefly_trained):
    primed = add_neighbour_prior(copy.deepcopy(briefly_trained), groups, metric="HR@20")
    record = primed.metrics["neighbour_prior"]
    assert record["metric"] == "HR@20" and "valid_HR@20_with" in record
    best = max(record["grid"].values())
    assert record["valid_HR@20_with"] == best
    valid = evaluate_ranking(groups, {"model": primed}, split="valid", bootstrap=0)["model"]
    assert valid.metrics["HR@20"] == pytest.approx(best, abs=1e-4)


def test_the_exported_graph_adds_the_same_votes(groups, briefly_trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from seqintent.models import HistoryBatch, gather_tokens, model_rows
    from seqintent.runtime import Runtime, export_runtime

    assert briefly_trained.metrics["neighbour_prior"]["weight"] > 0
    folder = export_runtime(briefly_trained.save_pretrained(tmp_path / "model"))
    session = ort.InferenceSession(
        str(Runtime.load(folder).graph_path("fp32")), providers=["CPUExecutionProvider"]
    )
    tokens = EventTokens.from_dataset(groups, briefly_trained.spec)
    users = np.arange(0, 600, 37)
    starts, ends = tokens.offsets[users], tokens.offsets[users] + np.arange(len(users)) % 8 + 1
    want = briefly_trained.score(HistoryBatch(tokens, starts, ends, None))
    inputs = gather_tokens(tokens, model_rows(tokens, starts, ends, briefly_trained.config.model), None)
    got = session.run(None, {i.name: inputs[i.name].numpy() for i in session.get_inputs()})[0]
    finite = np.isfinite(want)
    assert np.array_equal(finite, np.isfinite(got))
    np.testing.assert_allclose(got[finite], want[finite], atol=1e-4)
