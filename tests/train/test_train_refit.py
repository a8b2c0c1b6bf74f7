"""train.refit: after selection, train again on every event validation held out of training (the
newest sessions, or a leave-one-out valid split)."""

import numpy as np
import pytest

from seqintent.errors import ConfigError
from seqintent.evaluate import evaluate_model
from seqintent.evaluate.ranking import evaluate_ranking
from seqintent.models import MarkovChain, NextItemConfig
from seqintent.models.base import HistoryBatch
from seqintent.models.features import EventTokens
from seqintent.train import add_transition_prior, train_next_item
from tests.dataset_builders import build_dataset, sequences_dataset

OLD, NEW, LENGTH = 60, 20, 5


@pytest.fixture(scope="module")
def drifting(tmp_path_factory):
    """Sessions listed oldest first: the old ones walk a chain over items 0..19; only the newest
    quarter (the sessions a newest-sequence hold-out validates on) shows items x and y, and there x
    is always followed by y."""
    rng = np.random.default_rng(0)
    user, item = [], []
    for s in range(OLD):
        start = int(rng.integers(20))
        user += [f"s{s:03d}"] * LENGTH
        item += [str((start + k) % 20) for k in range(LENGTH)]
    for s in range(OLD, OLD + NEW):
        user += [f"s{s:03d}"] * LENGTH
        item += [str(int(rng.integers(20))), "x", "y", "x", "y"]
    split = ["train"] * len(user)
    return build_dataset(tmp_path_factory.mktemp("drift") / "d", user=user, item=item, split=split)


def _config(refit: bool) -> NextItemConfig:
    return NextItemConfig.load(
        {
            "model": {
                "hidden": 16,
                "layers": 1,
                "heads": 2,
                "max_len": 8,
                "dropout": 0.0,
                "transition_prior": 4,
            },
            "train": {
                "epochs": 40,
                "patience": 40,
                "lr": 0.01,
                "batch_size": 16,
                "threads": 1,
                "valid_holdout": "newest_sequences",
                "valid_fraction": 0.25,
                "refit": refit,
            },
        }
    )


@pytest.fixture(scope="module")
def selected(drifting):
    return train_next_item(drifting, _config(refit=False))


@pytest.fixture(scope="module")
def refitted(drifting):
    return train_next_item(drifting, _config(refit=True))


def _rank_of_y_after_x(model, dataset) -> int:
    """Rank (1 = first) of y after the history "0, x"."""
    tokens = EventTokens.from_dataset(dataset)
    items = dataset.vocab("items")
    session = dataset.vocab("users").index_of(f"s{OLD:03d}")  # its events: ?, x, y, x, y
    start = tokens.offsets[session]
    scores = model.score(HistoryBatch(tokens, np.array([start]), np.array([start + 2]), None))[0]
    return int((scores > scores[items.index_of("y")]).sum()) + 1


def test_the_refit_learns_what_only_the_held_out_sessions_show(drifting, selected, refitted):
    # selection never trained on the newest sessions: x and y are strangers to it
    assert _rank_of_y_after_x(selected, drifting) > 1
    assert _rank_of_y_after_x(refitted, drifting) == 1
    refit = refitted.metrics["refit"]
    assert refit["epochs"] == refitted.metrics["best_epoch"] >= 1
    # every session trains: LENGTH - 1 targets each, against the selection's old sessions only
    assert refit["history"][0]["targets"] == (OLD + NEW) * (LENGTH - 1)
    assert selected.metrics["history"][0]["targets"] == OLD * (LENGTH - 1)


def test_the_refit_recounts_the_priors_at_the_weights_validation_chose(drifting, selected, refitted):
    chosen = refitted.metrics["transition_prior"]
    assert refitted.metrics["refit"]["priors_counted_at"]["transition_prior"] == {
        "weight": chosen["weight"],
        "epsilon": chosen["epsilon"],
    }

    def fit(record):
        return {k: v for k, v in record.items() if k != "seconds"}

    assert fit(chosen) == fit(selected.metrics["transition_prior"])  # selection ran the same either way
    items = drifting.vocab("items")
    x, y = items.index_of("x"), items.index_of("y")
    head = refitted.network.next_item
    assert head.prior_items[x, 0] == y  # counted on the held-out sessions too
    assert selected.network.next_item.prior_items[x].eq(0).all()  # never counted without the refit
    # every x of the log is followed by y: P(y | x) = 1, at the chosen weight and epsilon
    want = chosen["weight"] * np.log1p(1.0 / chosen["epsilon"])
    assert float(head.prior_bonus[x, 0]) == pytest.approx(want, rel=1e-6)


@pytest.fixture(scope="module")
def leave_one_out(tmp_path_factory):
    """Leave-one-out users: 30 walk a chain over items 0..19 (what selection learns and weighs the
    prior on), 10 read ``c1 c2 c3 x y z``: x is their last training event, so the transition x → y is
    seen only by what learns from the valid split (y is their validation target)."""
    rng = np.random.default_rng(1)
    sequences = []
    for u in range(40):
        start = int(rng.integers(20))
        chain = [str((start + k) % 20) for k in range(6)]
        sequences.append(chain if u < 30 else [*chain[:3], "x", "y", str(int(rng.integers(20)))])
    return sequences_dataset(tmp_path_factory.mktemp("loo") / "d", sequences)


def _leave_one_out_config(refit: bool) -> NextItemConfig:
    config = _config(refit).model_dump()
    config["train"].update(valid_holdout="last_event", epochs=15, patience=15)
    return NextItemConfig.load(config)


@pytest.fixture(scope="module")
def refitted_on_valid(leave_one_out):
    return train_next_item(leave_one_out, _leave_one_out_config(refit=True))


def test_a_refit_on_a_leave_one_out_split_learns_the_validation_events(leave_one_out, refitted_on_valid):
    selected = train_next_item(leave_one_out, _leave_one_out_config(refit=False))
    refitted = refitted_on_valid
    refit = refitted.metrics["refit"]
    assert refit["trained_on"] == ["train", "valid"]
    assert selected.metrics["history"][0]["targets"] == 40 * 3  # the second to fourth events
    assert refit["history"][0]["targets"] == 40 * 4  # and the fifth, the validation target
    items = leave_one_out.vocab("items")
    x, y = items.index_of("x"), items.index_of("y")
    assert refitted.network.next_item.prior_items[x, 0] == y
    assert selected.network.next_item.prior_items[x].eq(0).all()
    tokens = EventTokens.from_dataset(leave_one_out)
    start = int(tokens.offsets[leave_one_out.vocab("users").index_of("u39")])
    after_x = HistoryBatch(tokens, np.array([start]), np.array([start + 4]), None)  # c1 c2 c3 x
    for model, first in ((refitted, True), (selected, False)):
        scores = model.score(after_x)[0]
        assert (int((scores > scores[y]).sum()) == 0) is first


def test_baselines_beside_a_refitted_model_learn_from_the_same_events(leave_one_out, refitted_on_valid):
    refitted = refitted_on_valid
    report = evaluate_model(refitted, leave_one_out, baselines=["markov"], intents=False, bootstrap=10)
    assert report["baselines_learned_from"] == ["train", "valid"]
    both, train_only = (
        evaluate_ranking(leave_one_out, {"markov": MarkovChain(learn_from=splits).fit(leave_one_out)})
        for splits in (("train", "valid"), ("train",))
    )
    assert report["baselines"]["markov"] == both["markov"].metrics != train_only["markov"].metrics
    with pytest.raises(ConfigError, match="refitted on the valid split") as err:
        evaluate_model(refitted, leave_one_out, split="valid", baselines=["markov"], intents=False)
    assert err.value.key == "split"


def test_a_refitted_model_refuses_a_prior_weighed_on_its_validation_targets(leave_one_out, refitted_on_valid):
    with pytest.raises(ConfigError, match="refitted") as err:
        add_transition_prior(refitted_on_valid, leave_one_out)
    assert err.value.key == "train.refit"
