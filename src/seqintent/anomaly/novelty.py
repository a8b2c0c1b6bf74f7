"""Sequence novelty against normal sessions: unseen keys, unseen transitions, unseen key counts.

Cheap, strong signals for log-key sessions (HDFS-like workflows), learnt from normal sessions only:

- ``novel_keys``: events whose key no normal session contains;
- ``novel_transitions``: key bigrams (with a start and an end marker, so "starts with" and
  "stops after" count) that no normal session contains;
- ``count_distance``: the L1 distance between the session's vector of key counts and the nearest
  count vector of a normal session (0 = this exact mix of keys was seen). This is the
  quantitative-pattern idea of LogAnomaly (Meng et al., IJCAI 2019): a normal workflow writes
  its keys in fixed proportions (a block allocated once, received as often as replicated, …), an
  interrupted one breaks them, whatever the order;
- ``invariant_violation``: how far the key counts break the linear count invariants of the
  normal sessions (vectors ``v`` with ``counts · v ≈ const`` on every normal session; Lou et al.,
  USENIX ATC 2010), as the length of ``[counts | 1]`` projected on them: a looser form of the
  count check that also accepts unseen mixes that keep the proportions.

``novelty`` sums the first three: 0 for a session every part of which was seen in normal data.

>>> normal = [("a", "b", "c"), ("a", "b", "b", "c")]
>>> model = SequenceNovelty().fit(normal)
>>> s = model.score([("a", "b", "c"), ("a", "c"), ("a", "b", "x")])
>>> s["novel_keys"].tolist(), s["novel_transitions"].tolist(), s["count_distance"].tolist()
([0.0, 0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

from seqintent.errors import DataError

START, END = "\x00start", "\x00end"
SIGNALS = ("novel_keys", "novel_transitions", "count_distance", "invariant_violation", "novelty")


class SequenceNovelty:
    """Learns which keys, transitions and key-count mixes normal sessions have (:meth:`fit`), then
    measures how far a session departs from them (:meth:`score`; higher = more anomalous)."""

    def __init__(self, invariant_tolerance: float = 1e-6) -> None:
        self.invariant_tolerance = invariant_tolerance
        self.keys: dict[str, int] = {}
        self.transitions: set[tuple[str, str]] = set()
        self.count_vectors = np.zeros((0, 0))
        self.invariants = np.zeros((0, 1))

    def fit(self, normal_sessions: Iterable[Sequence[str]]) -> SequenceNovelty:
        sessions = [tuple(map(str, s)) for s in normal_sessions]
        if not sessions:
            raise DataError("SequenceNovelty.fit needs at least one normal session")
        self.keys = {k: i for i, k in enumerate(sorted({k for s in sessions for k in s}))}
        self.transitions = {pair for s in sessions for pair in _pairs(s)}
        counts = self._counts(sessions)
        self.count_vectors = np.unique(counts, axis=0)
        # invariants: the null space of [counts | 1] over the normal sessions
        with_constant = np.hstack([counts, np.ones((len(counts), 1))])
        _, singular, vt = np.linalg.svd(with_constant, full_matrices=True)
        singular = np.r_[singular, np.zeros(vt.shape[0] - len(singular))]
        self.invariants = vt[singular <= self.invariant_tolerance * max(singular[0], 1.0)]
        return self

    def _counts(self, sessions: Sequence[Sequence[str]]) -> np.ndarray:
        out = np.zeros((len(sessions), len(self.keys)))
        for row, session in enumerate(sessions):
            for key in session:
                column = self.keys.get(key)
                if column is not None:
                    out[row, column] += 1
        return out

    def score(self, sessions: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
        """Every signal of :data:`SIGNALS`, one value per session."""
        if not self.keys:
            raise DataError("SequenceNovelty.score before fit", fix="call fit(normal_sessions) first")
        sessions = [tuple(map(str, s)) for s in sessions]
        novel_keys = np.array([sum(k not in self.keys for k in s) for s in sessions], dtype=float)
        novel_transitions = np.array(
            [sum(p not in self.transitions for p in _pairs(s)) for s in sessions], dtype=float
        )
        counts = self._counts(sessions)
        distance = np.empty(len(sessions))
        for start in range(0, len(sessions), 1024):  # bounded memory: chunk × normal mixes × keys
            block = counts[start : start + 1024]
            distance[start : start + 1024] = (
                np.abs(block[:, None, :] - self.count_vectors[None, :, :]).sum(axis=2).min(axis=1)
            )
        distance += novel_keys  # a key never seen is a count the normal vectors do not have
        with_constant = np.hstack([counts, np.ones((len(counts), 1))])
        # the length of the part of [counts | 1] in the invariants' span: the same whatever
        # orthonormal basis the SVD picked
        violation = (
            np.linalg.norm(with_constant @ self.invariants.T, axis=1)
            if len(self.invariants)
            else np.zeros(len(counts))
        )
        violation = np.where(violation <= 1e-6, 0.0, violation) + novel_keys
        return {
            "novel_keys": novel_keys,
            "novel_transitions": novel_transitions,
            "count_distance": distance,
            "invariant_violation": violation,
            "novelty": novel_keys + novel_transitions + distance,
        }


def _pairs(session: Sequence[str]) -> list[tuple[str, str]]:
    padded = (START, *session, END)
    return list(itertools.pairwise(padded))
