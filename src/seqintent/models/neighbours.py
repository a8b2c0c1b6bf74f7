"""Item-to-item cosine similarity of co-occurrence in users' histories: the item-kNN baseline's
neighbourhoods, and the next-item head's neighbour prior.

The head adds ``weight · Σ sim(h, item)`` over the distinct items ``h`` of the history's newest
events (the item-kNN baseline's votes) to its scores, with the weight chosen on validation after
training (:mod:`seqintent.train.neighbour_prior`). On session logs (GCE-GNN's Nowplaying) item-kNN
finds co-occurrences anywhere in a session that a Transformer trained there misses; the two err on
different targets. This module needs numpy and scipy only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cosine_cooccurrence(user: np.ndarray, item: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Cosine similarity [n_items, n_items] of the items' user sets (each user counted once per item,
    however often the item appears in its history); the diagonal is left out."""
    x = sp.csr_matrix(
        (np.ones(len(item), np.float32), (np.asarray(user), np.asarray(item))), shape=(n_users, n_items)
    )
    x.data[:] = 1.0  # duplicates were summed: binarise
    co = (x.T @ x).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    norm[norm == 0] = 1.0
    return (sp.diags(1.0 / norm) @ co @ sp.diags(1.0 / norm)).tocsr()


def top_neighbours(similarity: sp.csr_matrix, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``top`` most similar items, as dense arrays.

    Returns
    -------
    (items, similarities):
        int32 and float32 arrays [n_items, top], most similar first; a row is padded with item 0
        at similarity 0. Ties keep the smaller item id.
    """
    n = similarity.shape[0]
    items = np.zeros((n, top), dtype=np.int32)
    sims = np.zeros((n, top), dtype=np.float32)
    if similarity.nnz == 0 or top == 0:
        return items, sims
    similarity = similarity.tocsr()
    similarity.sort_indices()
    row = np.repeat(np.arange(n), np.diff(similarity.indptr))
    order = np.lexsort((similarity.indices, -similarity.data, row))
    row, col, value = row[order], similarity.indices[order], similarity.data[order]
    rank = np.arange(len(row)) - similarity.indptr[row]
    keep = rank < top
    items[row[keep], rank[keep]] = col[keep]
    sims[row[keep], rank[keep]] = value[keep]
    return items, sims


def item_neighbours(
    item: np.ndarray, user: np.ndarray, counted: np.ndarray, n_items: int, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_neighbours` of the cosine co-occurrence of the events where ``counted`` is true
    (the events a model trained on, so no held-out event joins a neighbourhood)."""
    keep = counted & (item > 0)
    n_users = int(user.max()) + 1 if len(user) else 0
    return top_neighbours(cosine_cooccurrence(user[keep], item[keep], n_users, n_items), top)
