import numpy as np
import pytest

from seqintent.evaluate import bootstrap_interval, evaluate_ranking, session_metrics, summarize
from seqintent.models import HistoryBatch, Scorer, per_example_metrics, target_ranks
from tests.dataset_builders import build_dataset


def test_metrics_agree_with_a_hand_computed_example():
    # 4 items (+ padding); targets ranked 1, 2, 4 and 5 (the last one tied with two items)
    scores = np.array(
        [
            [-np.inf, 0.9, 0.1, 0.2, 0.3],  # target 1 → rank 1
            [-np.inf, 0.9, 0.8, 0.2, 0.3],  # target 2 → rank 2
            [-np.inf, 0.9, 0.8, 0.7, 0.3],  # target 4 → rank 4
            [-np.inf, 0.5, 0.5, 0.5, 0.9],  # target 1, tied with 2 and 3 → pessimistic rank 4
        ]
    )
    ranks = target_ranks(scores, np.array([1, 2, 4, 1]))
    assert ranks.tolist() == [1, 2, 4, 4]
    m = {k: float(v.mean()) for k, v in per_example_metrics(ranks, ks=(1, 3, 5)).items()}
    assert m["HR@1"] == 0.25
    assert m["HR@3"] == 0.5
    assert m["HR@5"] == 1.0
    assert m["NDCG@3"] == pytest.approx((1 + 1 / np.log2(3)) / 4)
    assert m["NDCG@5"] == pytest.approx((1 + 1 / np.log2(3) + 2 / np.log2(5)) / 4)
    assert m["MRR@3"] == pytest.approx((1 + 1 / 2) / 4)
    assert m["MRR@5"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 4) / 4)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = np.r_[np.ones(30), np.zeros(70)]
    lo, hi = bootstrap_interval(values, resamples=2000, seed=1)
    assert (lo, hi) == bootstrap_interval(values, resamples=2000, seed=1)
    assert lo < 0.3 < hi
    # binomial standard error sqrt(.3 * .7 / 100) = .046: the 95% interval is about ± 1.96 of it
    assert hi - lo == pytest.approx(2 * 1.96 * 0.0458, abs=0.03)
    means, intervals = summarize({"HR@10": values}, resamples=0)
    assert means == {"HR@10": 0.3} and intervals == {}


class _Oracle(Scorer):
    """Scores the true next item of a hand-made dataset first (test double)."""

    def __init__(self, n_items, answer):
        self._n, self.answer = n_items, answer

    @property
    def n_items(self):
        return self._n

    def score(self, batch: HistoryBatch) -> np.ndarray:
        out = np.zeros((len(batch), self._n))
        out[:, 0] = -np.inf
        for b, end in enumerate(batch.ends):
            out[b, self.answer(batch.tokens.item[batch.starts[b] : end])] = 1.0
        return out


def test_leave_one_out_targets_and_histories(tmp_path):
    ds = build_dataset(tmp_path / "d", user=["u"] * 4 + ["v"] * 3, item=["a", "b", "c", "d", "a", "b", "c"])
    seen = []

    def answer(history):
        seen.append(history.tolist())
        return history[-1] + 1  # items are indexed in order of appearance: a=1, b=2, ...

    res = evaluate_ranking(ds, {"oracle": _Oracle(5, answer)}, split="test", bootstrap=0)["oracle"]
    # all events before the test event, valid included (scored shortest first: order is not a contract)
    assert sorted(seen) == [[1, 2], [1, 2, 3]]
    assert res.metrics["HR@5"] == 1.0 and res.metrics["NDCG@10"] == 1.0


def test_given_split_uses_every_prefix_of_test_sessions(tmp_path):
    users = ["s1"] * 3 + ["s2"] * 2 + ["t1"] * 4
    items = ["a", "b", "c", "b", "c", "a", "b", "c", "a"]
    split = ["train"] * 5 + ["test"] * 4
    ds = build_dataset(tmp_path / "d", user=users, item=items, split=split)
    seen = []

    def answer(history):
        seen.append(history.tolist())
        return 1

    res = evaluate_ranking(ds, {"o": _Oracle(4, answer)}, split="test", bootstrap=0)["o"]
    assert seen == [[1], [1, 2], [1, 2, 3]]  # test session a b c a: prefixes of length 1, 2, 3
    # targets b, c, a; the oracle puts a first and ties b with c (pessimistic: rank 3)
    assert res.ranks.tolist() == [3, 3, 1]
    assert session_metrics(res.metrics) == {
        "P@20": 100.0,
        "MRR@20": pytest.approx(100 * (1 / 3 + 1 / 3 + 1) / 3, abs=0.01),
    }
