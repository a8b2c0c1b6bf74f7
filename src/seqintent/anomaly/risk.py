"""Combining signals into a risk score (0–100), a level, reasons and a recommended action.

Each signal kind ``k`` gives every event a strength ``s_k`` in [0, 1] (at most its weight in
:class:`~seqintent.anomaly.config.SignalWeights`; a matched rule gives ``risk / 100``). A scoring
unit (session or user) takes the strongest event of each kind, and the kinds combine as a
noisy-OR, so independent evidence adds up without ever passing 100::

    score = 100 · (1 − Π_k (1 − max_{events} s_k))

A new device alone (0.35) scores 35 (medium: step-up verification); a new device at an unusual
hour sending 40× the median to a new payee scores 100 · (1 − .65 · .75 · .70 · .50) = 82.9 (high);
a matched critical rule (0.95) on top of it brings it to 99.1 (critical). Higher means riskier.
Levels start at ``risk.levels`` and map to ``risk.actions``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqintent.anomaly._events import EventFrame
from seqintent.anomaly._rule_eval import RuleMatch
from seqintent.anomaly.config import RiskConfig
from seqintent.anomaly.features import Deviations
from seqintent.anomaly.profile import ProfileStore
from seqintent.anomaly.reasons import (
    large_amount_text,
    new_device_text,
    new_location_text,
    new_payee_text,
    rule_text,
    unusual_hour_text,
)

PROFILE_SIGNALS = ("new_device", "new_payee", "new_location", "unusual_hour", "large_amount")


@dataclass(frozen=True)
class Reason:
    """One signal behind a result: its kind, the phrase, its strength (0–1) and the input rows."""

    kind: str
    text: str
    weight: float
    rows: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "weight": round(self.weight, 4),
            "rows": list(self.rows),
        }


@dataclass(frozen=True)
class RiskResult:
    """The risk of one session (or user). ``score`` is 0–100, higher is riskier."""

    user_id: str
    unit: str
    score: float
    level: str
    action: str
    reasons: tuple[Reason, ...]
    n_events: int
    start_ts: int
    end_ts: int
    rows: tuple[int, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``user_id``, ``session``, ``score``, ``level``, ``reasons`` (words), ``action`` …"""
        return {
            "user_id": self.user_id,
            "session": self.unit,
            "score": self.score,
            "level": self.level,
            "reasons": [r.text for r in self.reasons],
            "action": self.action,
            "n_events": self.n_events,
            "start_ts": self.start_ts,
            "end_ts": self.end_ts,
            "evidence": [r.to_dict() for r in self.reasons],
        }


def _ramp(ratio: np.ndarray, low: float, high: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(ratio / low) / math.log(high / low)
    return np.clip(np.nan_to_num(x, nan=0.0, neginf=0.0), 0.0, 1.0)


def signal_strengths(dev: Deviations, risk: RiskConfig) -> dict[str, np.ndarray]:
    """Per-event strength (0–1) of each profile signal."""
    w = risk.weights
    return {
        "new_device": w.new_device * dev.new_device,
        "new_payee": w.new_payee * dev.new_payee,
        "new_location": w.new_location * dev.new_location,
        "unusual_hour": w.unusual_hour * dev.unusual_hour,
        "large_amount": w.large_amount
        * _ramp(dev.amount_ratio, risk.amount_ratio_low, risk.amount_ratio_high),
    }


def combine(
    frame: EventFrame,
    dev: Deviations,
    store: ProfileStore,
    risk: RiskConfig,
    rule_matches: list[RuleMatch],
    extra: dict[str, tuple[np.ndarray, Callable[[int], str]]] | None = None,
) -> list[RiskResult]:
    """One :class:`RiskResult` per scoring unit of ``frame``, in order of user then time.

    ``extra`` adds signals computed elsewhere (sequence surprise): kind → (per-event strength,
    a function giving the phrase for the strongest event's frame position).
    """
    strengths = signal_strengths(dev, risk)
    by_unit: dict[str, list[Reason]] = {}
    for m in rule_matches:
        by_unit.setdefault(m.unit, []).append(
            Reason(
                f"rule:{m.rule.name}",
                rule_text(m.rule.reason, m.rule.name, frame, m.events, store.config.payee_actions),
                m.rule.risk_of(risk.severity_risk) / 100.0,
                tuple(int(frame.row[p]) for p in m.events),
            )
        )
    results: list[RiskResult] = []
    for unit, positions in unit_positions(frame).items():
        reasons = list(by_unit.get(unit, []))
        for kind, values in strengths.items():
            reason = _profile_reason(kind, values, positions, frame, dev, store)
            if reason is not None:
                reasons.append(reason)
        for kind, (values, phrase) in (extra or {}).items():
            part = values[positions]
            if part.max(initial=0.0) > 0:
                best = int(positions[np.argmax(part)])
                rows = tuple(int(r) for r in frame.row[positions[part > 0]])
                reasons.append(Reason(kind, phrase(best), float(values[best]), rows))
        results.append(_result(frame, positions, unit, reasons, risk))
    return results


def unit_positions(frame: EventFrame) -> dict[str, np.ndarray]:
    """Frame positions of each scoring unit, units in order of user then first event."""
    units, first, inverse = np.unique(frame.unit.astype(str), return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(units)))])
    groups = {int(u): order[bounds[u] : bounds[u + 1]] for u in range(len(units))}
    return {str(units[u]): groups[u] for u in np.argsort(first, kind="stable")}


def _profile_reason(
    kind: str,
    values: np.ndarray,
    positions: np.ndarray,
    frame: EventFrame,
    dev: Deviations,
    store: ProfileStore,
) -> Reason | None:
    part = values[positions]
    if part.max(initial=0.0) <= 0:
        return None
    best = int(positions[np.argmax(part)])  # the first of the strongest events
    profile = store.get(str(frame.user[best]))
    if kind == "new_device":
        text = new_device_text(str(frame.device[best]), profile)
    elif kind == "new_payee":
        text = new_payee_text(str(frame.item[best]))
    elif kind == "new_location":
        text = new_location_text(str(frame.location[best]), profile)
    elif kind == "unusual_hour":
        text = unusual_hour_text(float(frame.hour[best]), profile)
    else:
        text = large_amount_text(
            float(frame.amount[best]), float(dev.amount_ratio[best]), float(dev.user_median[best])
        )
    rows = tuple(int(r) for r in frame.row[positions[part > 0]])
    return Reason(kind, text, float(values[best]), rows)


def _result(
    frame: EventFrame, positions: np.ndarray, unit: str, reasons: list[Reason], risk: RiskConfig
) -> RiskResult:
    survive = 1.0
    for reason in reasons:
        survive *= 1.0 - reason.weight
    score = round(100.0 * (1.0 - survive), 1)
    level = risk.level_of(score)
    order = {kind: i for i, kind in enumerate(PROFILE_SIGNALS)}
    reasons.sort(key=lambda r: (-r.weight, order.get(r.kind, -1), r.kind))
    return RiskResult(
        user_id=str(frame.user[positions[0]]),
        unit=unit,
        score=score,
        level=level,
        action=risk.action_of(level),
        reasons=tuple(reasons[: risk.max_reasons]),
        n_events=len(positions),
        start_ts=int(frame.ts[positions[0]]),
        end_ts=int(frame.ts[positions[-1]]),
        rows=tuple(int(r) for r in frame.row[positions]),
    )
