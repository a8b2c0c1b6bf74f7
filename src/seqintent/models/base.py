"""One estimator shape for the Transformer and every baseline, so evaluation treats them alike.

- The constructor stores its arguments and nothing else.
- ``fit(dataset)`` learns from the events of the ``train`` split only and returns ``self``;
  learned state (names ending in ``_``) is set only there.
- ``score(batch)`` gives a score for every item after each history of a :class:`HistoryBatch`
  (higher is better; column 0, the padding index, is ``-inf``); it raises
  :class:`~seqintent.errors.NotFittedError` before ``fit``.
- ``recommend(dataset, ...)`` gives the top-K table (``user``, ``item``, ``score``, ``rank``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pyarrow as pa

from seqintent.data import Dataset
from seqintent.errors import ArtifactError, NotFittedError
from seqintent.models.features import EventTokens
from seqintent.schema.columns import Vocabularies

# Column names of recommendation tables.
USER_COLUMN = "user"
ITEM_COLUMN = "item"
SCORE_COLUMN = "score"
RANK_COLUMN = "rank"


@dataclass(frozen=True)
class HistoryBatch:
    """Histories to score: events ``starts[b] .. ends[b] - 1`` of ``tokens``, oldest first.

    ``query_time_s`` is the time of the request (epoch seconds; for evaluation, the time of the
    held-out event), or None when unknown.
    """

    tokens: EventTokens
    starts: np.ndarray
    ends: np.ndarray
    query_time_s: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, index: slice | np.ndarray) -> HistoryBatch:
        q = None if self.query_time_s is None else self.query_time_s[index]
        return HistoryBatch(self.tokens, self.starts[index], self.ends[index], q)


class Scorer(ABC):
    """Anything that scores every item after a history (a fitted recommender, a loaded Model)."""

    @property
    @abstractmethod
    def n_items(self) -> int:
        """Items vocabulary size (padding included): the number of score columns."""

    @abstractmethod
    def score(self, batch: HistoryBatch) -> np.ndarray:
        """Scores [B, n_items] (higher is better; column 0 is ``-inf``)."""

    def check_dataset(self, dataset: Dataset) -> None:
        """Raise if ``dataset``'s items do not match the ones this scorer learned."""
        n = len(dataset.vocab(Vocabularies.ITEMS))
        if n != self.n_items:
            raise ArtifactError(
                f"the Dataset has {n - 1} items but {type(self).__name__} was fitted on {self.n_items - 1}",
                file=str(dataset.path),
                fix="evaluate on the Dataset the model was trained on (same ingest, same vocabularies)",
            )

    def recommend(
        self,
        dataset: Dataset,
        users: np.ndarray | None = None,
        k: int = 10,
        *,
        exclude_seen: bool = False,
        batch_size: int = 512,
    ) -> pa.Table:
        """Top-``k`` next items after each user's whole history.

        Parameters
        ----------
        dataset:
            The Dataset whose histories are read (items must match the fitted ones).
        users:
            User indices (rows of the Dataset's sequences); all users when None.
        k:
            Items per user.
        exclude_seen:
            Leave out items already in the user's history.

        Returns
        -------
        pa.Table
            Columns ``user`` (raw id), ``item`` (raw id), ``score`` (float, higher is better),
            ``rank`` (1-based), ``k`` rows per user with a history.
        """
        self.check_dataset(dataset)
        tokens = EventTokens.from_dataset(dataset)
        users = np.arange(dataset.n_users) if users is None else np.asarray(users, dtype=np.int64)
        users = users[tokens.offsets[users + 1] > tokens.offsets[users]]
        out_u, out_i, out_s = [], [], []
        for lo in range(0, len(users), batch_size):
            chunk = users[lo : lo + batch_size]
            batch = HistoryBatch(tokens, tokens.offsets[chunk], tokens.offsets[chunk + 1], None)
            scores = self.score(batch)
            if exclude_seen:
                mask_history(scores, batch)
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            out_u.append(np.repeat(chunk, top.shape[1]))
            out_i.append(top.ravel())
            out_s.append(np.take_along_axis(scores, top, axis=1).ravel())
        u = np.concatenate(out_u) if out_u else np.zeros(0, np.int64)
        i = np.concatenate(out_i) if out_i else np.zeros(0, np.int64)
        s = np.concatenate(out_s) if out_s else np.zeros(0)
        user_vocab, item_vocab = dataset.vocab(Vocabularies.USERS), dataset.vocab(Vocabularies.ITEMS)
        return pa.table(
            {
                USER_COLUMN: pa.array([user_vocab.value_of(x) for x in u.tolist()], pa.string()),
                ITEM_COLUMN: pa.array([item_vocab.value_of(x) for x in i.tolist()], pa.string()),
                SCORE_COLUMN: pa.array(s.astype(np.float64)),
                RANK_COLUMN: pa.array(np.tile(np.arange(1, k + 1), len(u) // k if k else 0).astype(np.int32)),
            }
        )


class Recommender(Scorer):
    """A scorer that learns from a Dataset with ``fit``; see the module docstring for the contract."""

    @abstractmethod
    def fit(self, dataset: Dataset) -> Self:
        """Learn from the ``train`` events of ``dataset`` and return self."""

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (what ``type(self)(**params)`` rebuilds, unfitted)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and not k.startswith("_")}

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet", fix="call fit(dataset) first")

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return self.n_items_

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def mask_history(scores: np.ndarray, batch: HistoryBatch) -> None:
    """Set the scores of items in each history to ``-inf`` (in place)."""
    for b in range(len(batch)):
        items = batch.tokens.item[batch.starts[b] : batch.ends[b]]
        scores[b, items[items > 0]] = -np.inf
