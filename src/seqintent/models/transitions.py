"""First-order item transitions of the training data: each item's most frequent next items.

The next-item head adds ``log1p(P(next | newest item) / epsilon)`` of these to its scores, with a
weight chosen on validation after training (:mod:`seqintent.train.transition_prior`). On sparse
catalogues (the Amazon files) a Markov chain on the newest item alone beats a Transformer trained
there; the two err on different targets, so the sum beats both. This module needs numpy and scipy
only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def item_transitions(
    item: np.ndarray, user: np.ndarray, counted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(source, next)`` item pairs: each event with an item where ``counted`` is true, after the
    previous event of the same user that has an item (events without one are passed over).

    ``counted`` marks the events a model trained on as next-item targets, so that a transition is
    counted exactly when the network learnt from it (never one into a held-out event).
    """
    index = np.flatnonzero(item > 0)
    same_user = user[index[1:]] == user[index[:-1]]
    keep = same_user & counted[index[1:]]
    return item[index[:-1][keep]], item[index[1:][keep]]


def top_transitions(
    source: np.ndarray, target: np.ndarray, n_items: int, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's ``top`` most frequent next items and their probabilities.

    Returns
    -------
    (items, probabilities):
        int32 and float32 arrays [n_items, top]; a row is padded with item 0 at probability 0,
        and the probabilities are shares of all the item's transitions (a truncated row sums to
        less than 1). Ties keep the smaller item id.
    """
    items = np.zeros((n_items, top), dtype=np.int32)
    probs = np.zeros((n_items, top), dtype=np.float32)
    if len(source) == 0 or top == 0:
        return items, probs
    counts = sp.csr_matrix(
        (np.ones(len(source), np.float64), (np.asarray(source), np.asarray(target))), shape=(n_items, n_items)
    )
    counts.sum_duplicates()
    row = np.repeat(np.arange(n_items), np.diff(counts.indptr))
    totals = np.asarray(counts.sum(axis=1)).ravel()
    order = np.lexsort((counts.indices, -counts.data, row))
    row, col, count = row[order], counts.indices[order], counts.data[order]
    rank = np.arange(len(row)) - counts.indptr[row]
    keep = rank < top
    items[row[keep], rank[keep]] = col[keep]
    probs[row[keep], rank[keep]] = count[keep] / totals[row[keep]]
    return items, probs
