"""SequenceNovelty: signals learnt from normal sessions only."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.anomaly.novelty import SIGNALS, SequenceNovelty
from seqintent.errors import DataError

# a tiny workflow: open, 1-3 writes each acknowledged, close
NORMAL = [
    ("open", "write", "ack", "close"),
    ("open", "write", "ack", "write", "ack", "close"),
    ("open", "write", "ack", "write", "ack", "write", "ack", "close"),
]


def test_a_session_seen_in_normal_data_or_a_reordering_within_it_scores_zero() -> None:
    model = SequenceNovelty().fit(NORMAL)
    scores = model.score([NORMAL[1], ("open", "write", "ack", "write", "ack", "close")])
    for name in SIGNALS:
        assert scores[name].tolist() == [0.0, 0.0], name


def test_an_interrupted_workflow_breaks_counts_and_transitions() -> None:
    model = SequenceNovelty().fit(NORMAL)
    truncated = ("open", "write", "ack", "write")  # never closed, a write never acknowledged
    scores = model.score([truncated])
    assert scores["novel_keys"][0] == 0
    assert scores["novel_transitions"][0] == 1  # write → end
    assert scores["count_distance"][0] >= 1
    assert scores["invariant_violation"][0] > 0  # writes = acks = 1 per close, broken
    assert scores["novelty"][0] >= 2


def test_unseen_key_is_counted_by_every_signal() -> None:
    model = SequenceNovelty().fit(NORMAL)
    scores = model.score([("open", "write", "ack", "panic", "close")])
    assert scores["novel_keys"][0] == 1
    assert scores["count_distance"][0] >= 1
    assert scores["invariant_violation"][0] >= 1


def test_more_of_a_consistent_workflow_keeps_the_invariants_but_not_the_exact_counts() -> None:
    model = SequenceNovelty().fit(NORMAL)
    longer = ("open", *("write", "ack") * 5, "close")
    scores = model.score([longer])
    assert scores["invariant_violation"][0] == 0
    assert scores["count_distance"][0] == 4  # two more (write, ack) pairs than the nearest normal


def test_scores_are_deterministic_and_need_a_fit() -> None:
    with pytest.raises(DataError, match="before fit"):
        SequenceNovelty().score([("open",)])
    with pytest.raises(DataError, match="at least one"):
        SequenceNovelty().fit([])
    probes = [("open", "ack"), ("close",)]
    a = SequenceNovelty().fit(NORMAL).score(probes)
    again = SequenceNovelty().fit(NORMAL).score(probes)
    reordered = SequenceNovelty().fit(list(reversed(NORMAL))).score(probes)
    for name in SIGNALS:
        np.testing.assert_array_equal(a[name], again[name])
        np.testing.assert_allclose(a[name], reordered[name], rtol=1e-9)  # up to rounding
