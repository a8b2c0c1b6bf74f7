"""train.refit: after selection on the newest sessions, train again on every training event."""

import numpy as np
import pytest

from seqintent.errors import ConfigError
from seqintent.models import NextItemConfig
from seqintent.models.base import HistoryBatch
from seqintent.models.features import EventTokens
from seqintent.train import train_next_item
from tests.dataset_builders import build_dataset

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


def test_a_refit_needs_validation_held_out_of_training(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 6 + ["v"] * 6, item=list("abcdefabcdef"))  # leave-one-out
    with pytest.raises(ConfigError, match=r"train\.refit"):
        train_next_item(ds, _config(refit=True))
