"""model.item_attributes: items share what their attributes (brand, categories) learn."""

import json

import numpy as np
import pytest
import torch

from seqintent.errors import ConfigError
from seqintent.ingest import ingest
from seqintent.models import NextItemConfig, NextItemModel
from seqintent.models.base import HistoryBatch
from seqintent.models.features import EventTokens
from seqintent.models.intent_config import IntentConfig
from seqintent.train import train_next_item
from seqintent.train.multitask import train_intents
from tests.dataset_builders import build_dataset

BRANDS, WARM, COLD, USERS_PER_BRAND = 8, 6, 4, 12


@pytest.fixture(scope="module")
def brands(tmp_path_factory):
    """Each user reviews warm items of one brand, then (the test event) one of its cold items.

    A cold item is never a training target: only its brand (an attribute shared with the warm
    items) says which histories it belongs to.
    """
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("brands")
    lines, attributes = [], {}
    for b in range(BRANDS):
        for k in range(WARM + COLD):
            attributes[f"b{b}i{k}"] = [f"brand{b}", "beauty"]
        for u in range(USERS_PER_BRAND):
            warm = [f"b{b}i{k}" for k in rng.permutation(WARM)]
            cold = f"b{b}i{WARM + int(rng.integers(COLD))}"
            lines.append(" ".join([f"u{b}-{u}", *warm, cold]))
    (root / "Shop.txt").write_text("\n".join(lines) + "\n")
    (root / "Shop_item2attributes.json").write_text(json.dumps(attributes))
    return ingest(root / "Shop.txt", "s3rec", root / "ds")  # the S3-Rec layout, read by its preset


def _config(attributes: list[str]) -> NextItemConfig:
    return NextItemConfig.load(
        {
            "model": {
                "hidden": 16,
                "layers": 1,
                "heads": 2,
                "max_len": 8,
                "dropout": 0.0,
                "item_attributes": attributes,
            },
            "train": {"epochs": 15, "patience": 15, "lr": 0.01, "batch_size": 16, "threads": 1},
        }
    )


@pytest.fixture(scope="module")
def with_attributes(brands):
    return train_next_item(brands, _config(["attributes"]))


@pytest.fixture(scope="module")
def without_attributes(brands):
    return train_next_item(brands, _config([]))


def _cold_hits(model: NextItemModel, dataset) -> float:
    """Share of users whose test item (cold) is among the top COLD of all cold items."""
    tokens = EventTokens.from_dataset(dataset)
    items = dataset.vocab("items")
    # (a cold item no user drew is not in the vocabulary)
    cold = np.array([items.index_of(f"b{b}i{WARM + k}", 0) for b in range(BRANDS) for k in range(COLD)])
    cold = cold[cold > 0]
    starts, ends = tokens.offsets[:-1], tokens.offsets[1:] - 1  # every event but the test one
    scores = model.score(HistoryBatch(tokens, starts, ends, None))
    targets = tokens.item[ends]
    ranks = (scores[:, cold] > scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)
    return float((ranks < COLD).mean())


def test_never_trained_items_rank_by_their_attributes(brands, with_attributes, without_attributes):
    # without attributes every cold item is a stranger: about COLD / (BRANDS * COLD) by chance
    assert _cold_hits(without_attributes, brands) < 0.35
    assert _cold_hits(with_attributes, brands) > 0.8


def test_attribute_codes_travel_with_the_saved_model(brands, with_attributes, tmp_path):
    encoder = with_attributes.network.encoder
    items = brands.vocab("items")
    drawn = next(k for k in range(WARM, WARM + COLD) if items.index_of(f"b0i{k}", 0))
    same_brand = encoder.item_attributes[[items.index_of("b0i0"), items.index_of(f"b0i{drawn}")]]
    assert same_brand[0].tolist() == same_brand[1].tolist() and int((same_brand[0] > 0).sum()) == 2
    assert encoder.item_attributes[0].eq(0).all()  # padding has none
    with_attributes.save_pretrained(tmp_path / "m")
    loaded = NextItemModel.from_pretrained(tmp_path / "m")
    assert torch.equal(loaded.network.encoder.item_attributes, encoder.item_attributes)
    tokens = EventTokens.from_dataset(brands)
    batch = HistoryBatch(tokens, tokens.offsets[:-1], tokens.offsets[1:] - 1, None)
    np.testing.assert_array_equal(loaded.score(batch), with_attributes.score(batch))


def test_attributes_need_an_item_table_with_the_named_column(brands, tmp_path):
    with pytest.raises(ConfigError, match=r"no attribute 'brand'") as err:
        train_next_item(brands, _config(["brand"]))
    assert err.value.key == "model.item_attributes"
    plain = build_dataset(tmp_path / "plain", user=["u"] * 4, item=list("abcd"))
    with pytest.raises(ConfigError, match="the Dataset has no item table"):
        train_next_item(plain, _config(["attributes"]))


def test_folding_the_attributes_into_the_item_table_keeps_every_score(brands, with_attributes, tmp_path):
    # the export folds them: a served graph reads one item table
    with_attributes.save_pretrained(tmp_path / "m")
    folded = NextItemModel.from_pretrained(tmp_path / "m")
    folded.network.encoder.fold_item_attributes()
    assert folded.network.encoder.item_attributes is None
    tokens = EventTokens.from_dataset(brands)
    batch = HistoryBatch(tokens, tokens.offsets[:-1], tokens.offsets[1:] - 1, None)
    np.testing.assert_allclose(folded.score(batch), with_attributes.score(batch), rtol=0, atol=1e-6)


def test_intent_training_from_scratch_embeds_the_attributes_too(tmp_path):
    rng = np.random.default_rng(0)
    user, item, action, ts = [], [], [], []
    for u in range(30):
        for k in range(10):
            user.append(f"u{u}")
            item.append(f"i{int(rng.integers(12))}")
            action.append(str(rng.choice(["view", "view", "cart", "buy"])))
            ts.append(1_700_000_000_000 + (u * 100 + k) * 3_600_000)
    attributes = {f"i{i}": [f"brand{i % 3}"] for i in range(12)}
    ds = build_dataset(
        tmp_path / "d", user=user, item=item, action=action, ts_ms=ts, item_attributes=attributes
    )
    model = train_intents(
        ds,
        IntentConfig.model_validate(
            {"labels": [{"name": "next_action", "kind": "next_action"}], "train": {"epochs": 1, "threads": 1}}
        ),
        next_item_config=_config(["attributes"]),
    )
    codes = model.network.encoder.item_attributes
    items = ds.vocab("items")
    # one brand code per item, shared by the items of a brand, and none for padding
    assert codes[0].eq(0).all() and int((codes > 0).sum()) == len(items) - 1
    assert torch.equal(codes[items.index_of("i0")], codes[items.index_of("i3")])
    assert not torch.equal(codes[items.index_of("i0")], codes[items.index_of("i1")])
