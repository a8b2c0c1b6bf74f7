import numpy as np

from seqintent.models import EventTokens, NextItemConfig
from seqintent.train import plan_training, train_next_item, training_end
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
