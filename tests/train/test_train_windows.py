import itertools

import numpy as np
import pytest

from seqintent.models import EventTokens, NextItemConfig
from seqintent.train import plan_training, train_next_item, training_end
from seqintent.train.windows import stride_windows
from tests.dataset_builders import build_dataset


def test_training_end_is_the_leading_run_of_training_events(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 5 + ["v"] * 2, item=list("abcdeab"))
    tokens = EventTokens.from_dataset(ds)
    assert training_end(tokens).tolist() == [
        3,
        7,
    ]  # u: 3 train events (then valid, test); v: too short to split


def test_windows_cover_every_training_target_once(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 12, item=[str(i) for i in range(12)])
    tokens = EventTokens.from_dataset(ds)
    plan = plan_training(tokens, window=5, stride=4, valid_fraction=0.1, seed=0)
    # 10 training events 0..9: windows end at 10, 6, 2 (newest first)
    assert plan.window_end.tolist() == [10, 6, 2]
    assert plan.valid_targets.tolist() == [10]


def test_overlapping_windows_train_each_target_once(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 32 + ["v"] * 7, item=[str(i % 9) for i in range(39)])
    base = {"model": {"hidden": 16, "heads": 2, "max_len": 8}, "train": {"epochs": 1, "threads": 1}}
    plain = train_next_item(ds, NextItemConfig.load(base))
    base["train"]["window_stride"] = 3
    overlapping = train_next_item(ds, NextItemConfig.load(base))
    # u: 30 training events → 29 targets; v: 5 → 4
    assert plain.metrics["history"][0]["targets"] == 29 + 4
    assert overlapping.metrics["history"][0]["targets"] == 29 + 4
    assert overlapping.metrics["train_windows"] > plain.metrics["train_windows"]


def test_without_a_valid_split_a_seeded_share_of_last_events_is_held_out(tmp_path):
    users = [f"s{k}" for k in range(20) for _ in range(4)]
    ds = build_dataset(tmp_path / "d", user=users, item=[str(i % 7) for i in range(80)], split=["train"] * 80)
    tokens = EventTokens.from_dataset(ds)
    plan = plan_training(tokens, window=5, stride=4, valid_fraction=0.25, seed=0)
    assert plan.valid_held_out and len(plan.valid_targets) == 5
    assert np.all(
        tokens.offsets[1:][np.searchsorted(tokens.offsets, plan.valid_targets, side="right") - 1]
        == plan.valid_targets + 1
    )  # each is the last event of its session
    again = plan_training(tokens, window=5, stride=4, valid_fraction=0.25, seed=0)
    assert np.array_equal(plan.valid_targets, again.valid_targets)
    # held-out events are no training targets: their windows end one event earlier
    assert set(plan.window_end.tolist()).isdisjoint(set((plan.valid_targets + 1).tolist()))


def test_newest_sequences_are_held_out_whole_every_position_a_target(tmp_path):
    # sessions listed oldest first, as the GCE-GNN files list them, but s0's last event comes last
    # of all: a session is as new as its last event, whatever the order of the user index
    lengths = [4, 3, 5, 2, 4, 6, 3, 4, 5, 4]
    users = [f"s{k}" for k, n in enumerate(lengths) for _ in range(n)]
    users = users[:3] + users[4:] + ["s0"]
    ds = build_dataset(
        tmp_path / "d", user=users, item=[str(i % 7) for i in range(len(users))], split=["train"] * len(users)
    )
    tokens = EventTokens.from_dataset(ds)
    recency = ds.sequence_recency()
    names = [ds.vocab("users").value_of(u) for u in np.argsort(recency)]
    assert names == [f"s{k}" for k in range(1, 10)] + ["s0"]
    # 9 sessions have at least 3 events (s3 has 2); the newest third of them: s8, s9, s0
    plan = plan_training(tokens, window=5, stride=4, valid_fraction=1 / 3, seed=0, newest=recency)
    held = [ds.vocab("users").index_of(f"s{k}") for k in (8, 9, 0)]
    want = np.concatenate([np.arange(tokens.offsets[u] + 1, tokens.offsets[u + 1]) for u in sorted(held)])
    assert plan.valid_held_out and plan.valid_targets.tolist() == want.tolist()
    trained = plan.trained_events(tokens)
    assert not trained[np.isin(tokens.user, held)].any()  # none of their events is trained on
    assert trained[~np.isin(tokens.user, held)].all()


def test_a_model_validated_on_the_newest_sessions_never_trains_on_them(tmp_path):
    users = [f"s{k}" for k in range(30) for _ in range(5)]
    ds = build_dataset(
        tmp_path / "d", user=users, item=[str(i % 11) for i in range(150)], split=["train"] * 150
    )
    base = {"model": {"hidden": 16, "heads": 2, "max_len": 8}, "train": {"epochs": 1, "threads": 1}}
    base["train"]["valid_holdout"] = "newest_sequences"
    model = train_next_item(ds, NextItemConfig.load(base))
    # 30 sessions of 5 events, the newest 3 held out: 27 · 4 targets trained, 3 · 4 validated
    assert model.metrics["history"][0]["targets"] == 27 * 4
    assert model.metrics["valid_examples"] == 12


def test_with_time_a_sequence_is_as_new_as_its_last_events_time(tmp_path):
    # u starts first but its last event is the newest of all
    users = ["u", "v", "v", "u", "w"]
    ts = [1_000, 2_000, 3_000, 9_000, 5_000]
    ds = build_dataset(tmp_path / "d", user=users, item=list("abcde"), ts_ms=ts)
    by_name = {ds.vocab("users").value_of(i): r for i, r in enumerate(ds.sequence_recency())}
    assert by_name == {"u": 9_000, "v": 3_000, "w": 5_000}


@pytest.mark.parametrize("stride", [1, 2, 3, 7])
def test_intent_windows_train_every_target_once_stride_apart(stride):
    # users of 7, 0, 1 and 5 events; targets marked by hand (the second user has none, the last
    # user's newest event is not a target)
    offsets = np.array([0, 7, 7, 8, 13])
    user = np.repeat(np.arange(4), np.diff(offsets))
    target = np.zeros(13, dtype=bool)
    target[[0, 2, 3, 6, 7, 8, 9, 11]] = True
    start, end, trained_from = stride_windows(offsets, user, target, stride)
    covered = np.zeros(13, dtype=int)
    for s, e, f in zip(start, end, trained_from, strict=True):
        assert s == offsets[user[e - 1]] and s <= f < e  # a window reads its user's events from the first
        assert e - f <= stride
        covered[f:e] += 1
    assert (covered[target] == 1).all()  # every target trained exactly once
    # windows end stride apart back from each user's newest target: 6 (user 0), 7 (user 2), 11 (user 3)
    newest = {0: 6, 2: 7, 3: 11}
    for u, last in newest.items():
        ends = sorted(end[user[end - 1] == u], reverse=True)
        assert ends[0] == last + 1 and all(a - b == stride for a, b in itertools.pairwise(ends))
    assert stride_windows(offsets, user, np.zeros(13, dtype=bool), stride)[0].size == 0
