import numpy as np
import pytest

from seqintent.errors import ConfigError, NotFittedError
from seqintent.models import (
    EventTokens,
    HistoryBatch,
    ItemKNN,
    MarkovChain,
    Popularity,
    RecentItems,
    make_baseline,
)
from tests.dataset_builders import build_dataset


@pytest.fixture
def ds(tmp_path):
    # leave-one-out: the last event of each user is test, the one before valid
    users = ["u1"] * 5 + ["u2"] * 4 + ["u3"] * 4
    items = ["a", "b", "c", "a", "b", "a", "b", "d", "c", "c", "a", "b", "d"]
    return build_dataset(tmp_path / "d", user=users, item=items)


def _last_history(ds, user):
    tokens = EventTokens.from_dataset(ds)
    lo, hi = tokens.offsets[user], tokens.offsets[user + 1]
    return HistoryBatch(tokens, np.array([lo]), np.array([hi - 1]))  # everything but the test event


def _ranked(scores, ds):
    vocab = ds.vocab("items")
    order = np.argsort(-scores, kind="stable")
    return [vocab.value_of(i) for i in order if np.isfinite(scores[i])]


def test_popularity_counts_training_events_only(ds):
    # train: u1 a b c, u2 a b, u3 c a → a:3, b:2, c:2, d:0
    pop = Popularity().fit(ds)
    scores = pop.score(_last_history(ds, 0))[0]
    assert scores[1:].tolist() == [3.0, 2.0, 2.0, 0.0]  # items in order of appearance: a b c d
    assert np.isneginf(scores[0])


def test_markov_follows_the_newest_item(ds):
    # training transitions: a→b (u1, u2), b→c (u1), c→a (u1, u3)
    markov = MarkovChain().fit(ds)
    scores = markov.score(_last_history(ds, 1))[0]  # u2 history a b d: newest d has no transitions
    assert _ranked(scores, ds)[:1] == ["a"]  # falls back to popularity
    tokens = EventTokens.from_dataset(ds)
    after_a = markov.score(HistoryBatch(tokens, np.array([0]), np.array([1])))[0]  # history "a"
    assert after_a[2] == pytest.approx(1.0, abs=1e-5)  # P(b | a) = 1
    assert _ranked(after_a, ds)[0] == "b"


def test_baselines_learn_from_the_valid_split_when_told(ds):
    # valid events: u1 a, u2 d, u3 b; their transitions c→a (u1), b→d (u2), a→b (u3)
    pop = Popularity(learn_from=("train", "valid")).fit(ds)
    assert pop.score(_last_history(ds, 0))[0][1:].tolist() == [4.0, 3.0, 2.0, 1.0]
    markov = make_baseline("markov", learn_from=["train", "valid"]).fit(ds)
    tokens = EventTokens.from_dataset(ds)
    after_b = markov.score(HistoryBatch(tokens, np.array([0]), np.array([2])))[0]  # history "a b"
    assert after_b[4] == pytest.approx(0.5, abs=1e-5)  # P(d | b): b→c (u1), b→d (u2, valid)
    assert MarkovChain().fit(ds).score(HistoryBatch(tokens, np.array([0]), np.array([2])))[0][4] < 1e-5
    with pytest.raises(ConfigError, match="never the test split") as err:
        Popularity(learn_from=("train", "test")).fit(ds)
    assert err.value.key == "learn_from"


def test_recent_items_newest_first_then_popularity(ds):
    recent = RecentItems().fit(ds)
    scores = recent.score(_last_history(ds, 0))[0]  # u1 history a b c a → a, c, b, then d
    assert _ranked(scores, ds) == ["a", "c", "b", "d"]


def test_itemknn_scores_items_that_co_occur(ds):
    knn = ItemKNN().fit(ds)
    tokens = EventTokens.from_dataset(ds)
    scores = knn.score(HistoryBatch(tokens, np.array([0]), np.array([1])))[0]  # history "a"
    # users' training sets: {a,b,c}, {a,b}, {c,a}: cos(a,b) = 2/sqrt(3*2), cos(a,c) = 2/sqrt(3*2), a itself 0
    assert scores[2] == pytest.approx(2 / np.sqrt(6), abs=1e-5)
    assert scores[3] == pytest.approx(2 / np.sqrt(6), abs=1e-5)
    assert scores[1] < 1e-5 and scores[4] < 1e-5


def test_estimator_contract(ds):
    knn = ItemKNN(neighbours=5)
    assert knn.get_params() == {"neighbours": 5, "history": 50, "learn_from": ("train",)}
    with pytest.raises(NotFittedError, match="ItemKNN is not fitted yet"):
        knn.score(_last_history(ds, 0))
    before = np.asarray(ds.sequences["item"]).copy()
    assert knn.fit(ds) is knn
    first = knn.score(_last_history(ds, 0))
    assert np.array_equal(
        first, ItemKNN(neighbours=5).fit(ds).score(_last_history(ds, 0))
    )  # refit, same answer
    assert np.array_equal(before, ds.sequences["item"])  # input not mutated


def test_recommend_table(ds):
    table = RecentItems().fit(ds).recommend(ds, users=np.array([0]), k=2)
    assert table.column_names == ["user", "item", "score", "rank"]
    assert table.column("user").to_pylist() == ["u1", "u1"]
    assert table.column("item").to_pylist() == ["b", "a"]  # u1's whole history a b c a b: newest first
    assert table.column("rank").to_pylist() == [1, 2]


def test_unknown_baseline_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown baseline") as err:
        make_baseline("itemnn")
    assert "itemknn" in err.value.candidates
