"""Item transitions and the head's transition prior: counts by hand, the newest item, the graph."""

import numpy as np
import torch

from seqintent.models import NextItemConfig
from seqintent.models.features import InputSpec
from seqintent.models.network import NextItemNetwork
from seqintent.models.transitions import item_transitions, top_transitions


def test_transitions_are_counted_into_the_marked_events_from_the_same_users_previous_item():
    item = np.array([3, 0, 4, 3, 9, 9, 5, 6, 0, 7])
    user = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    counted = np.ones(10, dtype=bool)
    counted[[4, 9]] = False  # held out: the transitions into them never count
    source, target = item_transitions(item, user, counted)
    # user 0: 3 (0) 4 3 [9]; user 1: 9 5 6 (0) [7]; no transition from user 0's 9 into user 1's 9
    assert list(zip(source.tolist(), target.tolist(), strict=True)) == [(3, 4), (4, 3), (9, 5), (5, 6)]


def test_top_transitions_keep_the_most_frequent_next_items_as_shares_of_all():
    source = np.array([1, 1, 1, 1, 1, 2, 2, 3])
    target = np.array([4, 4, 4, 2, 3, 1, 5, 3])
    items, probs = top_transitions(source, target, n_items=6, top=2)
    assert items.dtype == np.int32 and probs.dtype == np.float32 and items.shape == (6, 2)
    assert items[1].tolist() == [4, 2] and np.allclose(probs[1], [0.6, 0.2])  # 2 and 3 tie: the smaller id
    assert items[2].tolist() == [1, 5] and np.allclose(probs[2], [0.5, 0.5])
    assert items[3].tolist() == [3, 0] and np.allclose(probs[3], [1.0, 0.0])  # padded with item 0
    assert not items[0].any() and not probs[4].any()


def _network(top: int) -> NextItemNetwork:
    spec = InputSpec(
        n_items=8, n_actions=3, n_categories=1, action_family=[0, 1, 1], has_time=False, has_dwell=False
    )
    cfg = NextItemConfig.load({"model": {"hidden": 8, "layers": 1, "max_len": 4, "transition_prior": top}})
    torch.manual_seed(0)
    return NextItemNetwork(cfg.model, spec).eval()


def _inputs(item: list[list[int]]) -> dict[str, torch.Tensor]:
    item_t = torch.tensor(item)
    zeros = torch.zeros_like(item_t)
    action = (item_t >= 0).long()  # every column a real event (action 1), items 0 included
    names = ("family", "category", "gap", "hour", "weekday", "dwell", "next_gap")
    return {"item": item_t, "action": action, **dict.fromkeys(names, zeros), "time_s": zeros.float()}


def test_the_prior_adds_its_bonus_after_the_newest_item_passing_over_events_without_one():
    plain, primed = _network(0), _network(2)
    primed.load_state_dict(
        plain.state_dict() | {k: v for k, v in primed.state_dict().items() if "prior" in k}
    )
    items = np.zeros((8, 2), np.int32)
    bonus = np.zeros((8, 2), np.float32)
    items[5], bonus[5] = [2, 7], [1.5, 4.0]  # after item 5: items 2 and 7
    items[3], bonus[3] = [6, 0], [2.0, 0.0]
    primed.next_item.set_transition_prior(items, bonus)
    # newest items: 5 (its event is followed by one without an item), 3, and none at all
    inputs = _inputs([[3, 4, 5, 0], [0, 5, 1, 3], [0, 0, 0, 0]])
    with torch.no_grad():
        base, got = plain(**inputs), primed(**inputs)
    diff = (got - base)[:, 1:].numpy()
    want = np.zeros((3, 7), np.float32)
    want[0, [1, 6]] = [1.5, 4.0]
    want[1, 5] = 2.0
    np.testing.assert_allclose(diff, want, atol=1e-5)
