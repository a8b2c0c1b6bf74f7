"""What the model learns from: training windows and validation targets of a Dataset.

One training sample is a window of a user's training events, and every position of the window is
a target at once (not one sample per prefix, as RecBole builds them): an epoch costs events, not
events × length. Long sequences are cut into windows ``stride`` events apart, newest first, so every
training event is a target exactly once per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from seqintent.data import Dataset
from seqintent.models.config import NextItemConfig
from seqintent.models.features import EventTokens
from seqintent.models.ranking import target_events
from seqintent.schema.columns import Splits


@dataclass(frozen=True)
class TrainingPlan:
    """Training windows ``[window_start, window_end)`` and validation target events."""

    window_start: np.ndarray
    window_end: np.ndarray
    valid_targets: np.ndarray
    valid_held_out: bool  # True when validation targets were taken from the training events

    @property
    def n_windows(self) -> int:
        return len(self.window_start)

    def trained_events(self, tokens: EventTokens) -> np.ndarray:
        """Bool [n_events]: the events training reads (each user's range up to its newest window
        end; none for users without a window)."""
        ends = np.zeros(len(tokens.offsets) - 1, dtype=np.int64)
        np.maximum.at(ends, tokens.user[self.window_start], self.window_end)
        return np.arange(tokens.n_events) < ends[tokens.user]


def learned_events(tokens: EventTokens, *, through_valid: bool = False) -> np.ndarray:
    """Bool [n_events]: the training split's events, and the validation split's given
    ``through_valid`` (what a refit trains on)."""
    splits = [Splits.TRAIN, Splits.VALID] if through_valid else [Splits.TRAIN]
    return np.isin(tokens.split, splits)


def training_end(tokens: EventTokens, *, through_valid: bool = False) -> np.ndarray:
    """For each user, one past the last event of the leading run of :func:`learned_events`."""
    n_users = len(tokens.offsets) - 1
    idx = np.arange(tokens.n_events, dtype=np.int64)
    learned = learned_events(tokens, through_valid=through_valid)
    not_train = np.where(~learned, idx, np.iinfo(np.int64).max)
    end = tokens.offsets[1:].copy()
    nonempty = np.flatnonzero(np.diff(tokens.offsets) > 0)
    if len(nonempty):
        first_other = np.minimum.reduceat(not_train, tokens.offsets[nonempty])
        end[nonempty] = np.minimum(end[nonempty], first_other)
    return end[:n_users]


def plan_training(
    tokens: EventTokens,
    window: int,
    stride: int,
    *,
    valid_fraction: float,
    seed: int,
    actions: list[int] | None = None,
    newest: np.ndarray | None = None,
    through_valid: bool = False,
) -> TrainingPlan:
    """Cut training sequences into windows ``stride`` events apart and find validation targets.

    A window is ``[window_start, window_end)``; the model reads up to ``window`` of its events
    (by its truncation rule), every one of which is the target of the one before it.

    Validation targets are the ``valid`` split's events; when the Dataset has none (a ``given``
    split with only train and test), the last training event of a seeded ``valid_fraction`` of
    the users with at least 3 training events is held out instead; or, given ``newest`` (a key per
    user that orders sequences from oldest to newest), the newest ``valid_fraction`` of those
    users are held out whole: every event after their first is a target and none is trained on.
    ``actions`` (action indices) restricts validation targets as training targets are restricted.
    ``through_valid`` (a refit) trains on the ``valid`` split's events as well: no validation
    targets then.
    """
    starts = tokens.offsets[:-1]
    ends = training_end(tokens, through_valid=through_valid)
    valid = np.zeros(0, np.int64) if through_valid else target_events(tokens, "valid", actions=actions)
    held_out = False
    if len(valid) == 0:
        eligible = np.flatnonzero(ends - starts >= 3)
        size = round(valid_fraction * len(eligible))
        ends = ends.copy()
        if newest is not None:
            chosen = np.sort(eligible[np.argsort(newest[eligible], kind="stable")[len(eligible) - size :]])
            held = np.zeros(len(starts), dtype=bool)
            held[chosen] = True
            index = np.arange(tokens.n_events)
            user = tokens.user
            valid = np.flatnonzero(held[user] & (index > starts[user]) & (index < ends[user]))
            ends[chosen] = starts[chosen]
        else:
            rng = np.random.default_rng(seed)
            chosen = np.sort(rng.choice(eligible, size=size, replace=False))
            valid = ends[chosen] - 1
            ends[chosen] -= 1
        valid = valid[tokens.item[valid] > 0]
        if actions is not None:
            valid = valid[np.isin(tokens.action[valid], actions)]
        held_out = True
    # the model's truncation rule picks the events of a window
    window_start, window_end = _cut_back(starts, ends, stride, min_length=2)
    return TrainingPlan(
        window_start=window_start, window_end=window_end, valid_targets=valid, valid_held_out=held_out
    )


def _cut_back(
    starts: np.ndarray, ends: np.ndarray, stride: int, *, min_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``(start, end)`` of each sequence ``[starts[i], ends[i])``: ends ``stride`` apart back
    from ``ends[i]``, each window from the sequence's start, while it holds ``min_length`` events;
    all sequences' newest windows first, then their second newest, and so on."""
    w_start, w_end = [], []
    k = 0
    while len(starts):
        end = ends - k * stride
        keep = end - starts >= min_length
        starts, ends, end = starts[keep], ends[keep], end[keep]
        w_start.append(starts)
        w_end.append(end)
        k += 1
    if not w_start:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(w_start), np.concatenate(w_end)


def next_item_plan(
    tokens: EventTokens, config: NextItemConfig, actions: list[int] | None, dataset: Dataset
) -> TrainingPlan:
    """The next-item loop's plan: windows of its model's length and stride, and the validation
    targets it scores (a seeded subset of at most ``train.valid_max_examples``); ``dataset`` (the
    one ``tokens`` come from) orders its sequences for ``train.valid_holdout: newest_sequences``."""
    mcfg, tcfg = config.model, config.train
    plan = plan_training(
        tokens,
        mcfg.max_len + 1,
        window_stride(config),
        valid_fraction=tcfg.valid_fraction,
        seed=tcfg.seed,
        actions=actions,
        newest=dataset.sequence_recency() if tcfg.valid_holdout == "newest_sequences" else None,
    )
    valid = plan.valid_targets
    if tcfg.valid_max_examples and len(valid) > tcfg.valid_max_examples:
        rng = np.random.default_rng(tcfg.seed)
        valid = np.sort(rng.choice(valid, tcfg.valid_max_examples, replace=False))
    return replace(plan, valid_targets=valid)


def window_stride(config: NextItemConfig) -> int:
    """Events between consecutive training windows of a user (the config's, else a full window)."""
    mcfg = config.model
    return config.train.window_stride or (
        mcfg.max_len - (mcfg.important_slots if mcfg.truncation == "importance" else 0)
    )


def stride_windows(
    offsets: np.ndarray, user: np.ndarray, target: np.ndarray, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows ``(start, end, trained_from)`` that train every ``target`` event once.

    Per user, windows end ``stride`` events apart back from the user's newest target; a window
    reads the user's events before ``end`` (the model keeps its newest ``max_len``) and trains
    the targets in ``[trained_from, end)``, so a target has at least ``max_len - stride`` events
    of context unless the history is shorter. ``offsets`` [users + 1] and ``user`` [events] are
    the token arrays' user bounds and user of each event; ``target`` marks the events to train.
    """
    last = np.full(len(offsets) - 1, -1, dtype=np.int64)
    idx = np.flatnonzero(target)
    np.maximum.at(last, user[idx], idx)
    users = np.flatnonzero(last >= 0)
    start, end = _cut_back(offsets[users], last[users] + 1, stride, min_length=1)
    return start, end, np.maximum(start, end - stride)
