"""Item neighbourhoods and the neighbour prior: cosine by hand, distinct votes, the item-kNN baseline."""

import numpy as np
import scipy.sparse as sp
import torch

from seqintent.models import ItemKNN, NextItemConfig
from seqintent.models.base import HistoryBatch
from seqintent.models.features import EventTokens, InputSpec
from seqintent.models.model import model_rows
from seqintent.models.neighbours import cosine_cooccurrence, item_neighbours, top_neighbours
from seqintent.models.network import NextItemNetwork
from seqintent.schema.columns import Splits
from tests.dataset_builders import build_dataset


def test_cosine_counts_each_user_once_per_item_and_leaves_out_the_diagonal():
    # user 0: items 1 1 2; user 1: items 1 3; user 2: items 2 3
    sim = cosine_cooccurrence(
        np.array([0, 0, 0, 1, 1, 2, 2]), np.array([1, 1, 2, 1, 3, 2, 3]), 3, 4
    ).toarray()
    # each of items 1, 2, 3 has two users and shares one with each other item: 1 / sqrt(2 · 2)
    want = np.full((4, 4), 0.5)
    want[0, :] = want[:, 0] = 0
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(sim, want, rtol=1e-6)


def test_top_neighbours_keep_the_most_similar_first_ties_to_the_smaller_id_padded_with_item_0():
    sim = np.zeros((5, 5), np.float32)
    sim[1, [2, 3, 4]] = [0.2, 0.9, 0.2]
    sim[2, 1] = 0.2
    items, sims = top_neighbours(sp.csr_matrix(sim), 2)
    assert items.dtype == np.int32 and sims.dtype == np.float32 and items.shape == (5, 2)
    assert items[1].tolist() == [3, 2] and np.allclose(sims[1], [0.9, 0.2])
    assert items[2].tolist() == [1, 0] and np.allclose(sims[2], [0.2, 0.0])
    assert not items[0].any() and not sims[4].any()


def test_neighbourhoods_count_only_the_marked_events():
    item = np.array([1, 2, 1, 3, 2, 3])
    user = np.array([0, 0, 1, 1, 2, 2])
    counted = np.array([True, True, True, False, True, True])  # user 1's 3 is held out
    items, _ = item_neighbours(item, user, counted, 4, 3)
    assert items[1].tolist() == [2, 0, 0]  # 1 and 3 never share a counted user
    assert items[3].tolist() == [2, 0, 0]


def _network(top: int, history: int = 50) -> NextItemNetwork:
    spec = InputSpec(
        n_items=8, n_actions=3, n_categories=1, action_family=[0, 1, 1], has_time=False, has_dwell=False
    )
    model = {"hidden": 8, "layers": 1, "max_len": 6, "transition_prior": 0, "neighbour_prior": top}
    cfg = NextItemConfig.load({"model": model | {"neighbour_history": history}})
    torch.manual_seed(0)
    return NextItemNetwork(cfg.model, spec).eval()


def _inputs(item: list[list[int]]) -> dict[str, torch.Tensor]:
    item_t = torch.tensor(item)
    zeros = torch.zeros_like(item_t)
    names = ("family", "category", "gap", "hour", "weekday", "dwell", "next_gap")
    return {
        "item": item_t,
        "action": torch.ones_like(item_t),
        **dict.fromkeys(names, zeros),
        "time_s": zeros.float(),
    }


def test_each_distinct_recent_item_votes_once_for_its_neighbours():
    plain, primed = _network(0), _network(2, history=3)
    primed.load_state_dict(
        plain.state_dict() | {k: v for k, v in primed.state_dict().items() if "neighbour" in k}
    )
    items = np.zeros((8, 2), np.int32)
    weight = np.zeros((8, 2), np.float32)
    items[5], weight[5] = [2, 7], [1.5, 4.0]
    items[3], weight[3] = [7, 0], [2.0, 0.0]
    items[4], weight[4] = [1, 2], [0.5, 0.25]
    primed.next_item.set_neighbour_prior(items, weight)
    # row 0: the newest three columns are 5 0 5: item 5 votes once, the event without an item not
    # at all, and item 4 is older than the three; row 1: 3 5 3; row 2: only padding
    inputs = _inputs([[0, 4, 4, 5, 0, 5], [0, 0, 0, 3, 5, 3], [0, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        diff = (primed(**inputs) - plain(**inputs))[:, 1:].numpy()
    want = np.zeros((3, 7), np.float32)
    want[0, [1, 6]] = [1.5, 4.0]
    want[1, [1, 6]] = [1.5, 6.0]
    np.testing.assert_allclose(diff, want, atol=1e-5)


def test_the_votes_are_the_item_knn_baselines_scores(tmp_path):
    """With every neighbour kept, the head adds exactly what the item-kNN baseline scores."""
    rng = np.random.default_rng(0)
    user = np.repeat([f"u{u}" for u in range(40)], 8)
    item = [f"i{i}" for i in rng.integers(0, 15, len(user))]
    ds = build_dataset(tmp_path / "d", user=user, item=item)
    knn = ItemKNN(neighbours=15, history=5).fit(ds)
    tokens = EventTokens.from_dataset(ds)
    n_items = knn.n_items_
    counted = tokens.split == Splits.TRAIN
    items, sims = item_neighbours(tokens.item, tokens.user, counted, n_items, 15)
    spec = InputSpec(
        n_items=n_items, n_actions=3, n_categories=1, action_family=[0, 1, 1], has_time=False, has_dwell=False
    )
    cfg = NextItemConfig.load(
        {
            "model": {
                "hidden": 8,
                "layers": 1,
                "max_len": 8,
                "transition_prior": 0,
                "neighbour_prior": 15,
                "neighbour_history": 5,
            }
        }
    )
    head = NextItemNetwork(cfg.model, spec).next_item
    head.set_neighbour_prior(items, sims)
    ends = tokens.offsets[1:] - 1
    batch = HistoryBatch(tokens, tokens.offsets[:-1], ends, None)
    rows = model_rows(tokens, batch.starts, ends, cfg.model)
    history = torch.from_numpy(np.where(rows >= 0, tokens.item[np.maximum(rows, 0)], 0).astype(np.int64))
    with torch.no_grad():
        index, votes = head.neighbour_scores(history)
    got = torch.zeros(len(ends), n_items).scatter_add(1, index, votes).numpy()
    want = knn.score(batch)[:, 1:] - knn.tie_break_[1:]  # column 0 (padding) scores -inf there
    assert got.any()
    np.testing.assert_allclose(got[:, 1:], want, atol=1e-5)
