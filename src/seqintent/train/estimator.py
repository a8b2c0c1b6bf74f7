"""The Transformer as an estimator with the same shape as the baselines (``fit`` / ``score``)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from seqintent.data import Dataset
from seqintent.models.base import HistoryBatch, Recommender
from seqintent.models.config import NextItemConfig
from seqintent.models.model import NextItemModel
from seqintent.train.loop import train_next_item


class TransformerRecommender(Recommender):
    """The time-aware Transformer next-item recommender.

    Parameters
    ----------
    config:
        Hyper-parameters (defaults when None).
    progress:
        Show training progress bars.

    Examples
    --------
    >>> rec = TransformerRecommender(NextItemConfig.load({"train": {"epochs": 5}}))  # doctest: +SKIP
    >>> rec.fit(ds).recommend(ds, k=10)                                               # doctest: +SKIP
    """

    def __init__(self, config: NextItemConfig | None = None, progress: bool = False) -> None:
        self.config = config
        self.progress = progress

    def fit(self, dataset: Dataset) -> Self:
        self.model_ = train_next_item(dataset, self.config, progress=self.progress)
        self.n_items_ = self.model_.n_items
        return self

    def score(self, batch: HistoryBatch) -> np.ndarray:
        self._check_fitted()
        return self.model_.score(batch)

    def check_dataset(self, dataset: Dataset) -> None:
        self._check_fitted()
        self.model_.check_dataset(dataset)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the fitted model as a Model folder (see :class:`NextItemModel`)."""
        self._check_fitted()
        return self.model_.save_pretrained(path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> TransformerRecommender:
        """A fitted recommender from a Model folder."""
        model = NextItemModel.from_pretrained(path)
        rec = cls(model.config)
        rec.model_ = model
        rec.n_items_ = model.n_items
        return rec
