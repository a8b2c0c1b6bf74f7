"""Sequence surprise: how improbable each event was under a trained next-item model.

For every event ``t`` of a user with at least one event before it, the model reads the events
before ``t`` (its own truncation, at most ``max_len``) and gives a distribution over the next item;
the surprise of ``t`` is its negative log-likelihood ``nll = −log p(item_t | events < t)`` (nats,
0 = certain, higher = more surprising) and its ``rank`` among all items (1 = the model's first
choice). The DeepLog check (Du et al., CCS 2017) flags an event whose item is not among the
model's ``top_g`` predictions. Events without an item, and each user's first event, are not scored
(NaN / rank 0). An item the model's vocabulary does not know gets ``UNKNOWN_NLL`` and the last rank.

A session's surprise is summarised by its max and mean NLL, the number of events over a threshold
and the number outside the top-g, with the events that drove it. As a risk signal
(:class:`~seqintent.anomaly.AnomalyDetector`) an event's strength rises from 0 at ``nll_low`` to the
``surprise`` weight at ``nll_high``; both are learned from normal events by :meth:`calibrate`
(``nll_low`` is their ``quantile``; ``nll_high`` adds ``log(100)``: a hundred times less likely).

Departure from DeepLog: DeepLog reads a fixed window of the last h = 10 keys with an LSTM; here
the model is the project's time-aware Transformer (issue 3) reading up to ``max_len`` events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqintent.anomaly._events import EventFrame
from seqintent.data.artifact import read_json, write_json
from seqintent.schema.actions import FAMILIES
from seqintent.schema.columns import AnomalyFiles, Vocabularies

UNKNOWN_NLL = 50.0  # nats given to an item the model's vocabulary does not know


@dataclass(frozen=True)
class EventSurprise:
    """Per-event surprise, aligned with an :class:`EventFrame` (NaN / 0 where not scored)."""

    nll: np.ndarray  # float64, −log p(item | history), nats
    rank: np.ndarray  # int64, 1 = the model's first choice, 0 = not scored

    @property
    def scored(self) -> np.ndarray:
        return self.rank > 0


@dataclass(frozen=True)
class SurpriseCalibration:
    """Where the surprise signal starts and saturates (nats), learned from normal events."""

    nll_low: float
    nll_high: float
    top_g: int
    quantile: float
    n_events: int

    def strength(self, nll: np.ndarray) -> np.ndarray:
        """0 below ``nll_low``, 1 from ``nll_high`` on, linear between (NaN → 0)."""
        x = (np.nan_to_num(nll, nan=-np.inf) - self.nll_low) / max(self.nll_high - self.nll_low, 1e-9)
        return np.clip(x, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nll_low": self.nll_low,
            "nll_high": self.nll_high,
            "top_g": self.top_g,
            "quantile": self.quantile,
            "n_events": self.n_events,
        }


class SequenceSurprise:
    """Scores events with a trained next-item model (a :class:`~seqintent.models.NextItemModel`).

    Parameters
    ----------
    model:
        The trained model (``seqintent train`` writes its folder; load it with
        :meth:`from_model_folder`).
    top_g:
        DeepLog's g: an event is "unexpected" when its item is not among the g most likely.
    batch_size:
        Histories scored per forward pass.
    """

    def __init__(self, model: Any, *, top_g: int = 9, batch_size: int = 512) -> None:
        self.model = model
        self.top_g = top_g
        self.batch_size = batch_size

    @classmethod
    def from_model_folder(cls, path: str | Path, *, top_g: int = 9) -> SequenceSurprise:
        from seqintent.models import NextItemModel

        return cls(NextItemModel.from_pretrained(path), top_g=top_g)

    # --- tokens ------------------------------------------------------------------------------------

    def tokens(self, frame: EventFrame) -> Any:
        """The frame's events as the model's :class:`~seqintent.models.EventTokens` (its vocabularies)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from seqintent.models.features import DWELL_BUCKETS, GAP_BUCKETS, EventTokens, log_bucket

        spec = self.model.spec
        vocabs = self.model.vocabs
        n = len(frame)
        action = vocabs[Vocabularies.ACTIONS].indices_of(frame.action.astype(str), default=0)
        family_code = {name: k + 1 for k, name in enumerate(FAMILIES)}
        family = np.array([family_code.get(f, 0) for f in frame.family], dtype=np.int64)
        zeros = np.zeros(n, dtype=np.int64)
        hour = weekday = gap = zeros
        time_s = np.zeros(n)
        if spec.has_time and frame.has_time:
            time_s = frame.ts / 1000.0
            local = (
                pa.array(frame.ts)
                .cast(pa.timestamp("ms", tz="UTC"))
                .cast(pa.timestamp("ms", tz=spec.timezone))
            )
            hour = pc.hour(local).to_numpy().astype(np.int64) + 1
            weekday = pc.day_of_week(local).to_numpy().astype(np.int64) + 1
            gap = log_bucket(frame.gap_s, GAP_BUCKETS)
        categories = vocabs[Vocabularies.CATEGORIES]
        return EventTokens(
            offsets=frame.offsets.astype(np.int64),
            item=self.item_index(frame),
            action=action,
            family=family,
            category=np.array(
                [0 if c is None else categories.index_of(c, 0) for c in frame.category], np.int64
            ),
            gap=gap,
            hour=hour,
            weekday=weekday,
            dwell=log_bucket(frame.dwell, DWELL_BUCKETS) if spec.has_dwell else zeros,
            time_s=time_s,
            split=np.zeros(n, dtype=np.int8),
        )

    def item_index(self, frame: EventFrame) -> np.ndarray:
        """Items vocabulary index of each event (0: no item, -1: an item the model does not know)."""
        items = self.model.vocabs[Vocabularies.ITEMS]
        return np.array([0 if i is None else items.index_of(i, -1) for i in frame.item], dtype=np.int64)

    # --- scoring -----------------------------------------------------------------------------------

    def events(self, frame: EventFrame) -> EventSurprise:
        """NLL and rank of every event's item given the user's events before it in ``frame``."""
        from seqintent.models.base import HistoryBatch

        tokens = self.tokens(frame)
        item = self.item_index(frame)
        tokens.item = np.maximum(item, 0)  # an unknown item reads as "no item" in the history
        user_start = np.repeat(frame.offsets[:-1], np.diff(frame.offsets))
        positions = np.flatnonzero((item != 0) & (np.arange(len(frame)) > user_start))
        nll = np.full(len(frame), np.nan)
        rank = np.zeros(len(frame), dtype=np.int64)
        n_items = self.model.n_items
        for lo in range(0, len(positions), self.batch_size):
            chunk = positions[lo : lo + self.batch_size]
            batch = HistoryBatch(tokens, user_start[chunk], chunk, tokens.time_s[chunk])
            logits = self.model.score(batch).astype(np.float64)  # [B, n_items], column 0 is -inf
            top = logits.max(axis=1, keepdims=True)
            log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            target = item[chunk]
            known = target > 0
            chosen = logits[np.arange(len(chunk)), np.maximum(target, 0)]
            nll[chunk] = np.where(known, log_z - chosen, UNKNOWN_NLL)
            # rank: 1 + items scored strictly higher (ties in the target's favour)
            higher = (logits > chosen[:, None]).sum(axis=1)
            rank[chunk] = np.where(known, 1 + higher, n_items - 1)
        return EventSurprise(nll, rank)

    def calibrate(self, frame: EventFrame, *, quantile: float = 0.99) -> SurpriseCalibration:
        """Thresholds from events taken as normal: ``nll_low`` = their ``quantile``."""
        found = self.events(frame)
        values = found.nll[found.scored]
        if len(values) == 0:
            from seqintent.errors import DataError

            raise DataError("no event to calibrate the surprise on (events need an item and a history)")
        low = float(np.quantile(values, quantile))
        return SurpriseCalibration(low, low + math.log(100.0), self.top_g, quantile, len(values))

    # --- save / load (inside an anomaly model folder) ----------------------------------------------

    def save(self, folder: Path, calibration: SurpriseCalibration | None) -> None:
        self.model.save_pretrained(folder / AnomalyFiles.SEQUENCE_MODEL_DIR)
        body = {"top_g": self.top_g, "calibration": calibration.to_dict() if calibration else None}
        write_json(folder / AnomalyFiles.SURPRISE, body)

    @classmethod
    def load(cls, folder: Path) -> tuple[SequenceSurprise, SurpriseCalibration | None]:
        body = read_json(folder / AnomalyFiles.SURPRISE)
        surprise = cls.from_model_folder(folder / AnomalyFiles.SEQUENCE_MODEL_DIR, top_g=int(body["top_g"]))
        cal = body.get("calibration")
        return surprise, (SurpriseCalibration(**cal) if cal else None)


def session_surprise(
    frame: EventFrame, found: EventSurprise, *, nll_threshold: float, top_g: int
) -> dict[str, Any]:
    """Per-unit aggregates: ``units``, ``max_nll``, ``mean_nll``, ``n_over`` (NLL above the threshold),
    ``n_outside_top_g``, ``n_scored`` and ``driver`` (frame position of the most surprising event, -1)."""
    from seqintent.anomaly.risk import unit_positions

    groups = unit_positions(frame)
    out: dict[str, Any] = {"units": list(groups)}
    max_nll, mean_nll, n_over, n_out, n_scored, driver = [], [], [], [], [], []
    for positions in groups.values():
        scored = positions[found.rank[positions] > 0]
        values = found.nll[scored]
        n_scored.append(len(scored))
        if len(scored) == 0:
            max_nll.append(0.0)
            mean_nll.append(0.0)
            n_over.append(0)
            n_out.append(0)
            driver.append(-1)
            continue
        best = int(np.argmax(values))
        max_nll.append(float(values[best]))
        mean_nll.append(float(values.mean()))
        n_over.append(int((values > nll_threshold).sum()))
        n_out.append(int((found.rank[scored] > top_g).sum()))
        driver.append(int(scored[best]))
    for name, values in (
        ("max_nll", max_nll),
        ("mean_nll", mean_nll),
        ("n_over", n_over),
        ("n_outside_top_g", n_out),
        ("n_scored", n_scored),
        ("driver", driver),
    ):
        out[name] = np.asarray(values)
    return out


def surprise_text(frame: EventFrame, position: int, nll: float, rank: int, top_g: int) -> str:
    """``event order unlike any seen: "5" → "17" (p = 3e-04, rank 12; expected within the top 9)``."""

    def name(p: int) -> str:
        item = frame.item[p]
        return f'"{item}"' if item is not None else str(frame.action[p])

    previous = position - 1
    chain = (
        f"{name(previous)} → {name(position)}"
        if previous >= 0 and frame.user[previous] == frame.user[position]
        else name(position)
    )
    p = math.exp(-nll)
    where = f"rank {rank}" + (f", outside the top {top_g}" if rank > top_g else "")
    return f"event order unlike any seen: {chain} (p = {p:.1g}, {where})"
