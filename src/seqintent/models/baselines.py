"""Classic next-item baselines, with the same estimator shape as the Transformer.

Each learns from the ``train`` events (``learn_from`` names more splits: ``("train", "valid")``
stands beside a model refitted on its validation events, the same events for both) and scores
every item after a history. Items a
baseline cannot tell apart are ordered by training popularity (a tie-break worth at most 1e-6),
so no baseline is hurt by the pessimistic tie rule of :mod:`seqintent.models.ranking`.

- :class:`Popularity`: how often each item was interacted with in training.
- :class:`ItemKNN`: item-to-item cosine similarity of co-occurrence in training sequences,
  summed over the history's distinct items (Sarwar et al., WWW 2001; Linden et al., 2003).
- :class:`MarkovChain`: first-order transitions from the newest item of the history.
- :class:`RecentItems`: the history's distinct items, newest first (people come back to what
  they saw).

Example
-------
>>> from seqintent.models.baselines import Popularity   # doctest: +SKIP
>>> Popularity().fit(ds).recommend(ds, k=5)              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import scipy.sparse as sp

from seqintent.data import Dataset
from seqintent.errors import ConfigError, close_names
from seqintent.models.base import HistoryBatch, Recommender
from seqintent.models.features import EventTokens
from seqintent.models.neighbours import cosine_cooccurrence
from seqintent.schema.columns import Splits

TIE_BREAK = 1e-6


def _train_tokens(dataset: Dataset) -> EventTokens:
    return EventTokens.from_dataset(dataset)


def _learned(tokens: EventTokens, learn_from: Sequence[str]) -> np.ndarray:
    """Bool [n_events]: the events of the named splits."""
    if not learn_from or not set(learn_from) <= {"train", "valid"}:
        raise ConfigError(
            "a baseline learns from the train split, and may add the valid split (never the test split)",
            key="learn_from",
            value=list(learn_from),
            fix='use ["train"] or ["train", "valid"]',
        )
    return np.isin(tokens.split, [Splits.code(name) for name in learn_from])


def _popularity(tokens: EventTokens, n_items: int, learned: np.ndarray) -> np.ndarray:
    return np.bincount(tokens.item[learned & (tokens.item > 0)], minlength=n_items).astype(np.float64)


def _tie_break(pop: np.ndarray) -> np.ndarray:
    """Popularity scaled into [0, TIE_BREAK), -inf on padding."""
    out = TIE_BREAK * pop / (pop.max() + 1.0)
    out[0] = -np.inf
    return out


class Popularity(Recommender):
    """Score = number of training interactions with the item (the same list for everybody).

    Parameters
    ----------
    learn_from:
        The splits whose events it counts.
    """

    def __init__(self, learn_from: Sequence[str] = ("train",)) -> None:
        self.learn_from = tuple(learn_from)

    def fit(self, dataset: Dataset) -> Self:
        tokens = _train_tokens(dataset)
        self.n_items_ = len(dataset.vocab("items"))
        pop = _popularity(tokens, self.n_items_, _learned(tokens, self.learn_from))
        self.scores_ = pop.copy()
        self.scores_[0] = -np.inf
        return self

    def score(self, batch: HistoryBatch) -> np.ndarray:
        self._check_fitted()
        return np.broadcast_to(self.scores_, (len(batch), self.n_items_)).copy()


class ItemKNN(Recommender):
    """Item-based collaborative filtering with cosine similarity of co-occurrence.

    Parameters
    ----------
    neighbours:
        Similar items kept per item.
    history:
        Newest events of a history whose items vote.
    learn_from:
        The splits whose events it counts.
    """

    def __init__(
        self, neighbours: int = 200, history: int = 50, learn_from: Sequence[str] = ("train",)
    ) -> None:
        self.neighbours = neighbours
        self.history = history
        self.learn_from = tuple(learn_from)

    def fit(self, dataset: Dataset) -> Self:
        tokens = _train_tokens(dataset)
        n = len(dataset.vocab("items"))
        self.n_items_ = n
        learned = _learned(tokens, self.learn_from)
        train = learned & (tokens.item > 0)
        co = cosine_cooccurrence(tokens.user[train], tokens.item[train], len(tokens.offsets) - 1, n)
        self.similarity_ = _top_per_row(co, self.neighbours)
        self.tie_break_ = _tie_break(_popularity(tokens, n, learned))
        return self

    def score(self, batch: HistoryBatch) -> np.ndarray:
        self._check_fitted()
        rows, cols = [], []
        for b in range(len(batch)):
            lo = max(batch.starts[b], batch.ends[b] - self.history)
            items = np.unique(batch.tokens.item[lo : batch.ends[b]])
            items = items[(items > 0) & (items < self.n_items_)]
            rows.append(np.full(len(items), b))
            cols.append(items)
        r, c = np.concatenate(rows), np.concatenate(cols)
        h = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(batch), self.n_items_))
        return np.asarray((h @ self.similarity_).todense(), dtype=np.float64) + self.tie_break_


class MarkovChain(Recommender):
    """First-order Markov chain: P(next item | newest item of the history), from training transitions.

    Parameters
    ----------
    learn_from:
        The splits whose transitions it counts (both events in them).
    """

    def __init__(self, learn_from: Sequence[str] = ("train",)) -> None:
        self.learn_from = tuple(learn_from)

    def fit(self, dataset: Dataset) -> Self:
        tokens = _train_tokens(dataset)
        n = len(dataset.vocab("items"))
        self.n_items_ = n
        learned = _learned(tokens, self.learn_from)
        idx = np.flatnonzero(tokens.item > 0)
        # consecutive item events of the same user, both learned from
        same_user = tokens.user[idx[1:]] == tokens.user[idx[:-1]]
        keep = same_user & learned[idx[1:]] & learned[idx[:-1]]
        src, dst = tokens.item[idx[:-1]][keep], tokens.item[idx[1:]][keep]
        counts = sp.csr_matrix((np.ones(len(src), np.float32), (src, dst)), shape=(n, n))
        totals = np.asarray(counts.sum(axis=1)).ravel()
        totals[totals == 0] = 1.0
        self.transitions_ = (sp.diags(1.0 / totals) @ counts).tocsr()
        self.tie_break_ = _tie_break(_popularity(tokens, n, learned))
        return self

    def score(self, batch: HistoryBatch) -> np.ndarray:
        self._check_fitted()
        last = np.zeros(len(batch), dtype=np.int64)
        for b in range(len(batch)):
            items = batch.tokens.item[batch.starts[b] : batch.ends[b]]
            items = items[items > 0]
            last[b] = items[-1] if len(items) else 0
        last[last >= self.n_items_] = 0
        return np.asarray(self.transitions_[last].todense(), dtype=np.float64) + self.tie_break_


class RecentItems(Recommender):
    """The history's distinct items, newest first; other items by popularity.

    Parameters
    ----------
    history:
        Newest events of a history considered.
    learn_from:
        The splits whose events its popularity tie-break counts.
    """

    def __init__(self, history: int = 200, learn_from: Sequence[str] = ("train",)) -> None:
        self.history = history
        self.learn_from = tuple(learn_from)

    def fit(self, dataset: Dataset) -> Self:
        tokens = _train_tokens(dataset)
        self.n_items_ = len(dataset.vocab("items"))
        self.tie_break_ = _tie_break(_popularity(tokens, self.n_items_, _learned(tokens, self.learn_from)))
        return self

    def score(self, batch: HistoryBatch) -> np.ndarray:
        self._check_fitted()
        out = np.broadcast_to(self.tie_break_, (len(batch), self.n_items_)).copy()
        for b in range(len(batch)):
            lo = max(batch.starts[b], batch.ends[b] - self.history)
            items = batch.tokens.item[lo : batch.ends[b]]
            order = np.arange(1, len(items) + 1, dtype=np.float64)  # later occurrences overwrite earlier
            valid = (items > 0) & (items < self.n_items_)
            out[b, items[valid]] = order[valid]
        return out


BASELINES: dict[str, type[Recommender]] = {
    "pop": Popularity,
    "itemknn": ItemKNN,
    "markov": MarkovChain,
    "recent": RecentItems,
}


def make_baseline(name: str, learn_from: Sequence[str] = ("train",)) -> Recommender:
    """A baseline by its short name (``pop``, ``itemknn``, ``markov``, ``recent``), with default settings,
    learning from the ``learn_from`` splits.

    Raises
    ------
    ConfigError
        If the name is unknown; the message lists the valid ones.
    """
    try:
        cls = BASELINES[name]
    except KeyError:
        raise ConfigError(
            "unknown baseline", key="baselines", value=name, candidates=close_names(name, BASELINES)
        ) from None
    return cls(learn_from=learn_from)


def _top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row."""
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    keep = np.zeros(len(data), dtype=bool)
    for r in range(matrix.shape[0]):
        lo, hi = indptr[r], indptr[r + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            keep[lo + np.argpartition(-data[lo:hi], k)[:k]] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(indptr))
    return sp.csr_matrix((data[keep], (rows[keep], indices[keep])), shape=matrix.shape)
