"""Evaluating parsed rules over sliding windows of each user's events.

Event conditions are computed once for all events (numpy masks). A rule is then checked at each
event that meets one of its positive conditions, over the window of the user's events in
``[t − window, t]``: a forward pass gives, for every step of a chain, the window positions where
the chain can have reached that step; a backward pass picks one witness event per step, for
the reasons. Semantics are documented in :mod:`seqintent.anomaly.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqintent.anomaly._events import EventFrame
from seqintent.anomaly._rule_lang import (
    FLAGS,
    WRAPPING_FIELDS,
    Alternatives,
    Chain,
    Compare,
    Const,
    Count,
    EvAnd,
    EventNode,
    EvNot,
    EvOr,
    Flag,
    InRange,
    InSet,
    Item,
    Scaled,
    UserStat,
    Value,
)
from seqintent.anomaly.features import Deviations
from seqintent.schema.actions import ACTION_FAMILY

_NUMERIC_SOURCES = {
    "amount_ratio": "amount_ratio",
    "amount_z": "amount_z",
    "hour_prob": "hour_prob",
    "hour_distance": "hour_distance_h",
    "device_share": "device_share",
}
_USER_STAT_SOURCES = {
    "user.median": "user_median",
    "user.mad": "user_mad",
    "user.p90": "user_p90",
    "user.p99": "user_p99",
    "user.max": "user_max",
}


class EventContext:
    """Per-event values and condition masks for one :class:`EventFrame` (computed once, cached)."""

    def __init__(
        self, frame: EventFrame, deviations: Deviations, *, payee_actions: list[str], min_history: int
    ) -> None:
        self.frame = frame
        self.dev = deviations
        self.payee_actions = payee_actions
        self.min_history = min_history
        self._masks: dict[int, np.ndarray] = {}

    # values
    def value(self, value: Value) -> np.ndarray:
        _f, n = self.frame, len(self.frame)
        if isinstance(value, Const):
            return np.full(n, value.value, dtype=object if isinstance(value.value, str) else np.float64)
        if isinstance(value, Scaled):
            return value.factor * self.value(value.value)
        if isinstance(value, UserStat):
            if value.name == "user.events":
                return self.dev.history.astype(np.float64)
            return self.dev.column(_USER_STAT_SOURCES[value.name])
        out = self._field(value.name)
        if value.scope is not None:
            # a scoped value exists only on events of that action / family
            keep = self.action_mask(value.scope)
            out = np.where(keep, out, np.nan if value.kind == "number" else None)
        return out

    def _field(self, name: str) -> np.ndarray:
        f = self.frame
        simple = {
            "amount": f.amount,
            "dwell": f.dwell,
            "gap": f.gap_s,
            "weekday": np.where(f.weekday < 0, np.nan, f.weekday.astype(np.float64)),
            "hour": np.floor(f.hour),
            "history": self.dev.history.astype(np.float64),
            "action": f.action,
            "family": f.family,
            "item": f.item,
            "category": f.category,
            "device": f.device,
            "location": f.location,
        }
        if name in simple:
            return simple[name]
        if name == "payee":
            return np.where(np.isin(f.action, self.payee_actions), f.item, None)
        return self.dev.column(_NUMERIC_SOURCES[name])

    def action_mask(self, name: str) -> np.ndarray:
        """Events of an action, or of a family when ``name`` is only a family (an action name wins)."""
        if name in ACTION_FAMILY:
            return self.frame.action == name
        return self.frame.family == name

    # conditions
    def mask(self, node: EventNode) -> np.ndarray:
        key = id(node)
        if key not in self._masks:
            self._masks[key] = self._compute(node)
        return self._masks[key]

    def _compute(self, node: EventNode) -> np.ndarray:
        if isinstance(node, Flag):
            if node.name == "new_user":
                return self.dev.history < self.min_history
            if node.name in FLAGS:
                return self.dev.column(node.name).astype(bool)
            return self.action_mask(node.name)
        if isinstance(node, EvAnd):
            return np.logical_and.reduce([self.mask(p) for p in node.parts])
        if isinstance(node, EvOr):
            return np.logical_or.reduce([self.mask(p) for p in node.parts])
        if isinstance(node, EvNot):
            return ~self.mask(node.part)
        if isinstance(node, Compare):
            return _compare(self.value(node.left), node.op, self.value(node.right))
        if isinstance(node, InRange):
            v = self.value(node.value)
            if node.low <= node.high:
                return (v >= node.low) & (v <= node.high)
            assert node.value.name in WRAPPING_FIELDS
            return (v >= node.low) | (v <= node.high)
        if isinstance(node, InSet):
            v = self.value(node.value)
            return np.isin(v, np.asarray(node.options, dtype=v.dtype)) & (v != None)  # noqa: E711
        if isinstance(node, Count):
            return self._count(node)
        raise TypeError(f"unknown condition node {node!r}")

    def _count(self, node: Count) -> np.ndarray:
        hits = self.mask(node.cond)
        f = self.frame
        out = np.zeros(len(f), dtype=bool)
        span = node.span_ms
        for _, lo, hi in f.user_slices():
            ts = f.ts[lo:hi]
            cum = np.concatenate([[0], np.cumsum(hits[lo:hi])])
            first = (
                np.zeros(hi - lo, dtype=np.int64) if span is None else np.searchsorted(ts, ts - span, "left")
            )
            counts = cum[np.arange(1, hi - lo + 1)] - cum[first]
            out[lo:hi] = _compare(counts.astype(np.float64), node.op, np.float64(node.n))
        return out


def _compare(left: np.ndarray, op: str, right: np.ndarray | np.float64) -> np.ndarray:
    if left.dtype.kind == "O" or getattr(right, "dtype", np.dtype(float)).kind == "O":
        result = (left == right) if op == "==" else (left != right)
        present = np.not_equal(left, None) & np.not_equal(right, None)
        return np.asarray(result & present, dtype=bool)
    with np.errstate(invalid="ignore"):
        result = {
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
            "==": np.equal,
            "!=": np.not_equal,
        }[op](left, right)
    return result & ~np.isnan(left) & ~np.isnan(right)  # a missing value meets no comparison


# --- window matching -----------------------------------------------------------------------------


@dataclass
class _Trace:
    prev: np.ndarray | None
    out: np.ndarray
    connector: str | None


class WindowMatcher:
    """Matches one rule expression on a window ``[lo, hi)`` of a user's events (frame positions)."""

    def __init__(self, expr: Alternatives, ctx: EventContext) -> None:
        self.expr = expr
        self.ctx = ctx

    def match(self, lo: int, hi: int) -> list[int] | None:
        """Frame positions of one witness event per matched step (time order), or None."""
        self.lo, self.ts = lo, self.ctx.frame.ts[lo:hi]
        self.trace: dict[int, _Trace] = {}
        out = self._alternatives(self.expr, None, None)
        if not out.any():
            return None
        end = int(np.flatnonzero(out)[-1])
        witnesses, _ = self._back_alternatives(self.expr, end)
        return sorted({self.lo + w for w in witnesses})

    # forward
    def _alternatives(self, alts: Alternatives, prev: np.ndarray | None, connector: str | None) -> np.ndarray:
        out = np.zeros(len(self.ts), dtype=bool)
        for chain in alts.chains:
            out |= self._chain(chain, prev, connector)
        self.trace[id(alts)] = _Trace(prev, out, connector)
        return out

    def _chain(self, chain: Chain, prev: np.ndarray | None, connector: str | None) -> np.ndarray:
        current = prev
        for k, item in enumerate(chain.items):
            current = self._item(item, current, connector if k == 0 else item.connector)
        assert current is not None
        self.trace[id(chain)] = _Trace(prev, current, connector)
        return current

    def _item(self, item: Item, prev: np.ndarray | None, connector: str | None) -> np.ndarray:
        if isinstance(item.node, Alternatives):
            out = self._alternatives(item.node, prev, connector)
        else:
            sat = self.ctx.mask(item.node)[self.lo : self.lo + len(self.ts)]
            out = (
                self._negated(sat, prev, connector, item.within_ms)
                if item.negated
                else self._linked(sat, prev, connector, item.within_ms)
            )
        self.trace[id(item)] = _Trace(prev, out, connector)
        return out

    def _linked(
        self, sat: np.ndarray, prev: np.ndarray | None, connector: str | None, within: int | None
    ) -> np.ndarray:
        if prev is None:
            return sat.copy()
        n = len(sat)
        cum = np.concatenate([[0], np.cumsum(prev)])
        if connector == "then":
            first = (
                np.zeros(n, np.int64)
                if within is None
                else np.searchsorted(self.ts, self.ts - within, "left")
            )
            return sat & (cum[np.arange(n)] - cum[np.minimum(first, np.arange(n))] > 0)
        if within is None:
            return sat & bool(prev.any())
        first = np.searchsorted(self.ts, self.ts - within, "left")
        last = np.searchsorted(self.ts, self.ts + within, "right")
        return sat & (cum[last] - cum[first] > 0)

    def _negated(
        self, sat: np.ndarray, prev: np.ndarray | None, connector: str | None, within: int | None
    ) -> np.ndarray:
        n = len(sat)
        if within is None:
            base = np.ones(n, dtype=bool) if prev is None else prev
            return np.zeros(n, dtype=bool) if sat.any() else base.copy()
        assert prev is not None  # the parser refuses `within` without a condition before it
        # absence is established only once the window reaches `within` past the event
        settled = self.ts + within <= self.ts[-1]
        cum = np.concatenate([[0], np.cumsum(sat)])
        last = np.searchsorted(self.ts, self.ts + within, "right")
        if connector == "then":  # no such event after p within the duration
            return prev & settled & (cum[last] - cum[np.arange(1, n + 1)] == 0)
        first = np.searchsorted(self.ts, self.ts - within, "left")
        return prev & settled & (cum[last] - cum[first] == 0)

    # backward: one witness per step
    def _back_alternatives(self, alts: Alternatives, end: int) -> tuple[list[int], int | None]:
        for chain in alts.chains:
            if self.trace[id(chain)].out[end]:
                return self._back_chain(chain, end)
        raise AssertionError("the end position is not reachable")

    def _back_chain(self, chain: Chain, end: int) -> tuple[list[int], int | None]:
        witnesses: list[int] = []
        position: int | None = end
        for item in reversed(chain.items):
            assert position is not None
            found, position = self._back_item(item, position)
            witnesses += found
            if position is None:
                break
        return witnesses, position

    def _back_item(self, item: Item, end: int) -> tuple[list[int], int | None]:
        trace = self.trace[id(item)]
        if isinstance(item.node, Alternatives):
            return self._back_alternatives(item.node, end)
        if item.negated:
            return [], (end if trace.prev is not None else None)
        if trace.prev is None:
            return [end], None
        return [end], self._predecessor(trace.prev, end, trace.connector, item.within_ms)

    def _predecessor(self, prev: np.ndarray, end: int, connector: str | None, within: int | None) -> int:
        candidates = np.flatnonzero(prev)
        if connector == "then":
            candidates = candidates[candidates < end]
        if within is not None:
            gap = np.abs(self.ts[candidates] - self.ts[end])
            candidates = candidates[gap <= within]
        if within is None:
            # unconstrained: the first event that met the step tells the story from its start
            return int(candidates[0])
        before = candidates[candidates <= end]
        # bounded by `within`: the closest earlier event, else the closest later one
        return int(before[-1]) if len(before) else int(candidates[0])


# --- rules over all users --------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleMatch:
    """A rule matched in a scoring unit; ``events`` are frame positions of the witnesses (time order)."""

    rule: Any  # seqintent.anomaly.rules.Rule
    unit: str
    events: tuple[int, ...]


def _positive_conditions(expr: Alternatives) -> list[EventNode]:
    found: list[EventNode] = []
    for chain in expr.chains:
        for item in chain.items:
            if isinstance(item.node, Alternatives):
                found += _positive_conditions(item.node)
            elif not item.negated:
                found.append(item.node)
    return found


def _negations(expr: Alternatives) -> list[Item]:
    found: list[Item] = []
    for chain in expr.chains:
        for item in chain.items:
            if isinstance(item.node, Alternatives):
                found += _negations(item.node)
            elif item.negated:
                found.append(item)
    return found


def _possible(
    expr: Alternatives, ctx: EventContext, lo: int, hi: int, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Windows ``[starts, ends)`` of one user where every positive step of some chain is met at
    least once: a necessary condition for a match, cheap to check for all windows at once."""
    possible = np.zeros(len(starts), dtype=bool)
    for chain in expr.chains:
        ok = np.ones(len(starts), dtype=bool)
        for item in chain.items:
            if item.negated:
                continue
            if isinstance(item.node, Alternatives):
                ok &= _possible(item.node, ctx, lo, hi, starts, ends)
                continue
            cum = np.concatenate([[0], np.cumsum(ctx.mask(item.node)[lo:hi])])
            ok &= cum[ends] > cum[starts]
        possible |= ok
    return possible


def evaluate_rules(rules: list[Any], ctx: EventContext) -> list[RuleMatch]:
    """The first match of every rule in every scoring unit (session or user) of ``ctx.frame``.

    A rule is checked at each event meeting one of its positive conditions (at every event when
    it has none, or has a ``NOT … within``, whose absence a later event confirms), over the
    window ending there. A match belongs to the unit of its latest witness event.
    """
    frame = ctx.frame
    matches: list[RuleMatch] = []
    for rule in rules:
        positives = _positive_conditions(rule.expr)
        negations = _negations(rule.expr)
        if positives and not any(item.within_ms is not None for item in negations):
            anchors = np.logical_or.reduce([ctx.mask(node) for node in positives])
        else:
            anchors = np.ones(len(frame), dtype=bool)
        matcher = WindowMatcher(rule.expr, ctx)
        for _, lo, hi in frame.user_slices():
            ts = frame.ts[lo:hi]
            candidates = np.flatnonzero(anchors[lo:hi])
            if len(candidates) == 0:
                continue
            starts = np.searchsorted(ts, ts[candidates] - rule.window_ms, "left")
            candidates = candidates[_possible(rule.expr, ctx, lo, hi, starts, candidates + 1)]
            done: set[str] = set()
            for anchor in candidates + lo:
                # without negations, a match whose latest witness is in a matched unit adds nothing,
                # and one in another unit is found at that witness, which is an anchor itself
                if not negations and frame.unit[anchor] in done:
                    continue
                start = lo + int(np.searchsorted(ts, frame.ts[anchor] - rule.window_ms, "left"))
                witnesses = matcher.match(start, int(anchor) + 1)
                if witnesses is None:
                    continue
                unit = str(frame.unit[witnesses[-1] if witnesses else anchor])
                if unit not in done:
                    done.add(unit)
                    matches.append(RuleMatch(rule, unit, tuple(witnesses)))
    return matches
