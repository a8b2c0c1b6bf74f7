"""Full-catalogue ranking: the rank of each held-out item, and HR / NDCG / MRR at K.

Ties are ranked pessimistically (an item scoring the same as the target counts as ahead of it),
so a scorer gains nothing from giving many items the same score.

>>> scores = np.array([[-np.inf, 0.9, 0.5, 0.5], [-np.inf, 0.1, 0.2, 0.3]])
>>> target_ranks(scores, np.array([2, 1])).tolist()
[3, 3]
>>> {k: v.tolist() for k, v in per_example_metrics(np.array([1, 3]), ks=(2,)).items()}
{'HR@2': [1.0, 0.0], 'NDCG@2': [1.0, 0.0], 'MRR@2': [1.0, 0.0]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from seqintent.data import Dataset
from seqintent.models.features import EventTokens
from seqintent.schema.columns import Splits, Vocabularies

METRICS = ("HR", "NDCG", "MRR")
DEFAULT_KS = (5, 10, 20)


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of ``targets[b]`` among all columns of ``scores[b]`` (ties: pessimistic)."""
    at_or_above = scores >= scores[np.arange(len(targets)), targets][:, None]  # the target itself included
    return np.count_nonzero(at_or_above, axis=1).astype(np.int64)


def per_example_metrics(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, np.ndarray]:
    """HR@K (hit), NDCG@K (``1 / log2(rank + 1)``) and MRR@K (``1 / rank``) per example, 0 beyond K."""
    r = np.asarray(ranks, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        hit = r <= k
        out[f"HR@{k}"] = hit.astype(np.float64)
        out[f"NDCG@{k}"] = np.where(hit, 1.0 / np.log2(r + 1.0), 0.0)
        out[f"MRR@{k}"] = np.where(hit, 1.0 / r, 0.0)
    return out


def target_events(
    tokens: EventTokens,
    split: str,
    *,
    actions: Iterable[int] | None = None,
) -> np.ndarray:
    """Event indices that are ranking targets of ``split``: events of that split with an item and a history.

    Every such event is predicted from all events of its user before it (the leave-one-out and the
    all-prefix protocols alike). ``actions`` restricts targets to these action indices.
    """
    code = Splits.code(split)
    keep = (tokens.split == code) & (tokens.item > 0)
    keep &= np.arange(tokens.n_events) > tokens.user_start
    if actions is not None:
        keep &= np.isin(tokens.action, np.fromiter(actions, dtype=np.int64))
    return np.flatnonzero(keep)


def action_indices(dataset: Dataset, names: Iterable[str] | None) -> list[int] | None:
    """Indices of canonical action names in ``dataset``'s actions vocabulary (None → None)."""
    if names is None:
        return None
    vocab = dataset.vocab(Vocabularies.ACTIONS)
    return [vocab.index_of(n) for n in names if n in vocab]
