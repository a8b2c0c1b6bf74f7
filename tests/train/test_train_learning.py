"""The Transformer learns, deterministically, with and without time; training resumes exactly."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import seqintent.train.loop as loop
from seqintent.errors import ArtifactError, DataError
from seqintent.evaluate import evaluate_ranking
from seqintent.models import ItemKNN, MarkovChain, NextItemConfig, NextItemModel, Popularity
from seqintent.train import TransformerRecommender, checkpoint_dir, train_next_item
from tests.dataset_builders import build_dataset, walk_dataset

TINY = {
    "model": {"hidden": 32, "layers": 2, "heads": 2, "dropout": 0.0, "max_len": 12},
    "train": {"epochs": 40, "batch_size": 32, "lr": 3e-3, "warmup_steps": 5, "patience": 40, "threads": 1},
}


def _config(**train):
    data = {"model": dict(TINY["model"]), "train": dict(TINY["train"]) | train}
    return NextItemConfig.load(data)


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return walk_dataset(tmp_path_factory.mktemp("walk") / "d", users=240, groups=6, length=10, seed=0)


@pytest.fixture(scope="module")
def fitted(walk):
    return TransformerRecommender(_config()).fit(walk)


def test_learns_an_order_dependent_pattern_baselines_cannot(walk, fitted):
    scorers = {
        "model": fitted,
        "pop": Popularity().fit(walk),
        "itemknn": ItemKNN().fit(walk),
        "markov": MarkovChain().fit(walk),
    }
    res = evaluate_ranking(walk, scorers, split="test", ks=(1, 10), bootstrap=0)
    assert res["model"].metrics["HR@1"] >= 0.95
    assert res["pop"].metrics["HR@1"] <= 0.25
    # a group's items always co-occur: item-kNN gets only B, the group's most frequent item (half the targets)
    assert res["itemknn"].metrics["HR@1"] <= 0.6
    # first-order Markov is right after A and C, a coin flip after B
    assert res["markov"].metrics["HR@1"] <= 0.85
    assert res["model"].metrics["NDCG@10"] > res["markov"].metrics["NDCG@10"] + 0.05
    assert fitted.model_.metrics["best_valid"]["NDCG@10"] >= 0.9


def test_save_then_load_gives_identical_scores(walk, fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = NextItemModel.from_pretrained(path)
    res = evaluate_ranking(walk, {"a": fitted, "b": loaded}, split="test", bootstrap=0)
    assert np.array_equal(res["a"].ranks, res["b"].ranks)
    ours = fitted.recommend(walk, k=5)
    theirs = loaded.recommend(walk, k=5)
    assert ours.equals(theirs)
    assert loaded.config == fitted.model_.config
    assert loaded.dataset_manifest["name"] == "walk"
    assert loaded.metrics["best_epoch"] >= 1
    assert {p.name for p in path.iterdir()} == {
        "manifest.json",
        "config.json",
        "model.safetensors",
        "vocab",
        "dataset_manifest.json",
        "metrics.json",
    }


def test_same_seed_same_model_and_other_seed_differs(tmp_path):
    ds = walk_dataset(tmp_path / "d", users=60, groups=3, length=8, seed=1)
    cfg = _config(epochs=2)
    a = train_next_item(ds, cfg).network.state_dict()
    b = train_next_item(ds, cfg).network.state_dict()
    c = train_next_item(ds, _config(epochs=2, seed=7)).network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_dataset_without_time_trains(tmp_path):
    ds = walk_dataset(tmp_path / "d", users=120, groups=3, length=10, seed=2, with_time=False)
    assert not ds.has_time
    model = train_next_item(ds, _config(epochs=15))
    assert not model.network.encoder.use_time
    assert model.metrics["best_valid"]["HR@10"] == 1.0  # 9 items: everything is in the top 10
    assert model.metrics["best_valid"]["NDCG@10"] > 0.8


def test_time_bias_repeat_head_and_importance_truncation_train(tmp_path):
    ds = walk_dataset(tmp_path / "d", users=120, groups=3, length=14, seed=3)
    data = {
        "model": dict(
            TINY["model"],
            time_bias=True,
            repeat_head=True,
            truncation="importance",
            important_slots=2,
            max_len=6,
        ),
        "train": dict(TINY["train"], epochs=15),
    }
    model = train_next_item(ds, NextItemConfig.load(data))
    assert model.metrics["best_valid"]["NDCG@10"] > 0.8


@pytest.mark.parametrize("repeat_head", [False, True])
def test_sampled_softmax_trains(tmp_path, repeat_head):
    ds = walk_dataset(tmp_path / "d", users=120, groups=3, length=10, seed=4)
    config = _config(epochs=15, loss="sampled_softmax", negatives=6)
    config = NextItemConfig.load(
        {**config.to_dict(), "model": {**config.to_dict()["model"], "repeat_head": repeat_head}}
    )
    model = train_next_item(ds, config)
    assert model.metrics["best_valid"]["NDCG@10"] > 0.7


def _interrupted(ds, cfg, out, monkeypatch, at_epoch: int) -> Path:
    """Train until epoch ``at_epoch`` raises KeyboardInterrupt; the checkpoint folder is left behind."""
    original = loop._Training._train_epoch

    def interrupted(self, epoch):
        if epoch == at_epoch:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(loop._Training, "_train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_next_item(ds, cfg, out=out)
    monkeypatch.setattr(loop._Training, "_train_epoch", original)
    return checkpoint_dir(out)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_after_interruption_gives_the_uninterrupted_model(tmp_path, monkeypatch, schedule):
    ds = walk_dataset(tmp_path / "d", users=60, groups=3, length=8, seed=5)
    cfg = _config(epochs=4, lr_schedule=schedule)
    straight = train_next_item(ds, cfg, out=tmp_path / "straight")
    folder = _interrupted(ds, cfg, tmp_path / "resumed", monkeypatch, at_epoch=3)
    assert (folder / "state.pt").is_file()
    assert not (tmp_path / "resumed").exists()
    resumed = train_next_item(ds, cfg, out=tmp_path / "resumed", resume=True)
    a, b = straight.network.state_dict(), resumed.network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in straight.metrics["history"]] == [r["loss"] for r in resumed.metrics["history"]]
    assert not checkpoint_dir(tmp_path / "resumed").exists()


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_schedule_over_the_whole_run(tmp_path, monkeypatch, schedule):
    ds = walk_dataset(tmp_path / "d", users=60, groups=3, length=8, seed=6)
    cfg = _config(epochs=3, lr=2e-3, warmup_steps=2, lr_schedule=schedule, min_lr_ratio=0.1)
    rates, totals = [], set()
    original = loop.learning_rate

    def spy(train, step, total_steps):
        rate = original(train, step, total_steps)
        rates.append(rate)
        totals.add(total_steps)
        return rate

    monkeypatch.setattr(loop, "learning_rate", spy)
    model = train_next_item(ds, cfg, out=tmp_path / "m")
    assert totals == {len(rates)}  # every planned step ran: the schedule is sized to the run
    assert rates[0] == pytest.approx(2e-3 / 2)  # warm-up
    after_warmup = rates[1:]
    if schedule == "constant":
        assert after_warmup == [2e-3] * len(after_warmup)
    else:
        assert rates[-1] == pytest.approx(0.1 * 2e-3, rel=1e-6)
        assert all(a > b for a, b in itertools.pairwise(after_warmup))
    assert NextItemModel.from_pretrained(tmp_path / "m").config.train.lr_schedule == schedule
    assert model.config.train.min_lr_ratio == 0.1


def test_a_checkpoint_from_before_newer_keys_resumes_and_another_config_is_named(tmp_path, monkeypatch):
    ds = walk_dataset(tmp_path / "d", users=40, groups=2, length=6, seed=6)
    cfg = _config(epochs=3)
    folder = _interrupted(ds, cfg, tmp_path / "m", monkeypatch, at_epoch=2)
    saved = json.loads((folder / "config.json").read_text())
    # as an older version wrote it: without the keys added since (their defaults are the old behaviour)
    for key in ("item_scores", "cosine_scale"):
        del saved["config"]["model"][key]
    (folder / "config.json").write_text(json.dumps(saved))
    changed = NextItemConfig.load({**cfg.to_dict(), "model": {**cfg.to_dict()["model"], "hidden": 16}})
    with pytest.raises(ArtifactError, match=r"another config \(checkpoint vs now: model\.hidden: 32 vs 16\)"):
        train_next_item(ds, changed, out=tmp_path / "m", resume=True)
    model = train_next_item(ds, cfg, out=tmp_path / "m", resume=True)
    assert len(model.metrics["history"]) == 3


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    ds = walk_dataset(tmp_path / "d", users=40, groups=2, length=6, seed=6)
    monkeypatch.setattr(
        loop._Training, "_train_epoch", lambda self, epoch: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    monkeypatch.setattr(loop._Training, "_save_checkpoint", loop._Training._save_checkpoint)
    with pytest.raises(ArtifactError, match="no checkpoint to resume from"):
        train_next_item(ds, _config(epochs=2), out=tmp_path / "m", resume=True)


def test_nothing_to_learn_is_a_clear_error(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["a", "b"], item=["x", "y"])
    with pytest.raises(DataError, match="no training sequence has 2 events"):
        train_next_item(ds, _config(epochs=1))


def test_targets_restricted_to_chosen_actions(tmp_path):
    # u1: view buy view buy | view buy (valid/test are the last two); u2: view view buy view view
    users = ["u1"] * 6 + ["u2"] * 5
    actions = ["view", "buy", "view", "buy", "view", "buy", "view", "view", "buy", "view", "view"]
    items = ["a", "b", "a", "b", "c", "d", "a", "c", "d", "a", "c"]
    ds = build_dataset(tmp_path / "d", user=users, item=items, action=actions)
    every = train_next_item(ds, _config(epochs=1))
    buys = train_next_item(ds, _config(epochs=1, target_actions=["buy"]))
    # training events: u1 positions 0-3, u2 positions 0-2; targets are positions 1.. of each
    assert every.metrics["history"][0]["targets"] == 3 + 2
    assert buys.metrics["history"][0]["targets"] == 2 + 1  # u1: b, b; u2: d


def test_cosine_item_scores_learn_and_stay_within_the_scale(tmp_path):
    ds = walk_dataset(tmp_path / "d", users=120, groups=3, length=10, seed=5)
    data = {
        "model": dict(TINY["model"], item_scores="cosine", cosine_scale=8.0),
        "train": dict(TINY["train"], epochs=15),
    }
    model = train_next_item(ds, NextItemConfig.load(data))
    assert model.metrics["best_valid"]["NDCG@10"] > 0.7
    head = model.network.next_item
    query, table = head.scoring(torch.randn(4, 32))
    scores = (query @ table.T)[:, 1:]
    assert scores.abs().max() <= 8.0 + 1e-4
    assert torch.allclose(query.norm(dim=-1), torch.full((4,), 8.0))


def test_item_readout_learns_and_mixes_only_the_items_read_so_far(tmp_path):
    ds = walk_dataset(tmp_path / "d", users=120, groups=3, length=10, seed=5)
    data = {
        "model": dict(TINY["model"], readout="items", item_scores="cosine", cosine_scale=8.0),
        "train": dict(TINY["train"], epochs=15),
    }
    model = train_next_item(ds, NextItemConfig.load(data))
    assert model.metrics["best_valid"]["NDCG@10"] > 0.7
    encoder = model.network.encoder.eval()
    zeros = torch.zeros(1, 4, dtype=torch.long)
    inputs = {name: zeros for name in ("family", "category", "gap", "hour", "weekday", "dwell", "next_gap")}
    inputs["time_s"] = torch.zeros(1, 4)
    one = torch.tensor([[0, 3, 3, 3]])  # padding, then one item three times: its own vector, exactly
    with torch.no_grad():
        state = encoder(item=one, action=torch.ones_like(one), **inputs)
        assert torch.allclose(state[0, 1:], encoder.item_emb.weight[3].expand(3, -1), atol=1e-5)
        # a later item never reaches an earlier column
        other = encoder(item=torch.tensor([[0, 3, 3, 5]]), action=torch.ones_like(one), **inputs)
        assert torch.allclose(other[0, :3], state[0, :3], atol=1e-6)
        assert not torch.allclose(other[0, 3], state[0, 3])
