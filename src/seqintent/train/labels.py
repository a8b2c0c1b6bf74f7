"""Labels cut from the log itself: which cuts exist, which split each belongs to, and their answers.

A *cut* is the moment right after one of a user's events; its history is every event up to it, and
its labels come from what the log shows after it (kinds in :mod:`seqintent.models.intent_config`).
A cut never falls between two events of the same user at the same instant (KuaiRand writes an
exposure and its like at one millisecond: the cut comes after both).

Protocol (which cuts train, validate and test, and how far each may look ahead):

``time`` (the log has timestamps; every split kind but ``by_user``)
    Test cuts are those at or after ``T_test``; their labels may look to the end of the log.
    Every other cut may look only up to ``T_test``, so no training label ever sees the test
    period. ``T_test`` is ``protocol.test_start`` if given, else the log's end minus the longest
    horizon minus the test window. A seeded share of users (``valid_users``) validates: their
    pre-test cuts are kept out of training and calibrate the probabilities.
``by_user`` (a ``by_user`` split)
    A cut's split is its user's; every label may look to the end of the log.
``order`` (no timestamps)
    A cut's split is the split of the event after it (leave-one-out: the cut before the test
    event tests); only next-action labels exist.

A label whose window the log (or the split's look-ahead) does not cover is missing — never
guessed: ``NaN`` for yes/no labels, ``-1`` for classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqintent.data import Dataset
from seqintent.errors import ConfigError
from seqintent.models.features import FAMILY_NAMES, EventTokens
from seqintent.models.hand_features import user_time_key
from seqintent.models.intent_config import LabelSpec, ProtocolConfig, parse_horizon
from seqintent.schema.actions import FAMILIES
from seqintent.schema.columns import Splits, Vocabularies

NO_SPLIT = -1
DAY_S = 86400.0


@dataclass(frozen=True)
class CutPlan:
    """Cuts of every event: whether one exists, its split and how far its labels may look.

    Arrays are aligned with the Dataset's events (a cut is "right after event ``e``").
    """

    is_cut: np.ndarray  # bool [n_events]
    split: np.ndarray  # int8 [n_events]: Splits code, NO_SPLIT where there is no cut
    look_until: np.ndarray  # float64 [n_events]: labels may use events up to this time (seconds)
    protocol: str  # "time" | "by_user" | "order"
    test_start_s: float | None = None
    log_end_s: float | None = None
    valid_users: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def cuts(self, split: str) -> np.ndarray:
        """Event indices of the cuts of one split."""
        return np.flatnonzero(self.split == Splits.code(split))

    def describe(self) -> dict[str, object]:
        return {
            "protocol": self.protocol,
            "test_start_s": self.test_start_s,
            "log_end_s": self.log_end_s,
            "cuts": {name: int((self.split == Splits.code(name)).sum()) for name in Splits.NAMES},
        }


@dataclass(frozen=True)
class CutLabels:
    """Label values at every event's cut.

    ``values[name]`` is float32 (0 / 1, NaN when missing) or, for classes, int64 (-1 when missing).
    """

    specs: list[LabelSpec]
    values: dict[str, np.ndarray]

    def known(self, name: str) -> np.ndarray:
        """Bool mask of events whose cut has this label."""
        v = self.values[name]
        return v >= 0 if v.dtype.kind == "i" else ~np.isnan(v)


# --- cuts and the protocol ---------------------------------------------------------------------


def moment_ends(tokens: EventTokens, has_time: bool) -> np.ndarray:
    """Events after which a cut may fall: the user's last event, or one followed by a later instant."""
    n = tokens.n_events
    last = np.zeros(n, dtype=bool)
    ends = tokens.offsets[1:][np.diff(tokens.offsets) > 0] - 1
    last[ends] = True
    if not has_time:
        return np.ones(n, dtype=bool)
    later = np.zeros(n, dtype=bool)
    later[:-1] = tokens.time_s[1:] > tokens.time_s[:-1]
    return last | later


def plan_cuts(
    dataset: Dataset, tokens: EventTokens, protocol: ProtocolConfig, longest_horizon_s: float | None
) -> CutPlan:
    """Decide every cut's split and look-ahead (see the module docstring).

    Parameters
    ----------
    longest_horizon_s:
        The longest horizon among the labels (seconds), which sets ``T_test``; None when no label
        has a duration.
    """
    is_cut = moment_ends(tokens, dataset.has_time)
    n = tokens.n_events
    split = np.full(n, NO_SPLIT, dtype=np.int8)
    if not dataset.has_time:
        nxt = np.minimum(np.arange(n) + 1, n - 1)
        same_user = (np.arange(n) + 1 < tokens.offsets[tokens.user + 1]) & (np.arange(n) + 1 < n)
        split[is_cut & same_user] = tokens.split[nxt][is_cut & same_user]
        return CutPlan(is_cut, split, np.full(n, np.inf), "order")
    time = tokens.time_s
    log_end = float(time.max()) if n else 0.0
    if dataset.split_kind == "by_user":
        split[is_cut] = tokens.split[is_cut]
        return CutPlan(is_cut, split, np.full(n, log_end), "by_user", log_end_s=log_end)
    log_start = float(time.min()) if n else 0.0
    if protocol.test_start is not None:
        test_start = float(protocol.test_start)
    else:
        window = parse_horizon(protocol.test_window)
        if window is None:
            window = max(DAY_S, 0.1 * (log_end - log_start))
        test_start = log_end - (longest_horizon_s or 0.0) - window
    if test_start <= log_start:
        raise ConfigError(
            f"the log spans {(log_end - log_start) / DAY_S:.1f} days: too short for the longest horizon "
            f"({(longest_horizon_s or 0) / DAY_S:.1f} days) plus a test window",
            key="intents.labels",
            fix="use shorter horizons, or set intents.protocol.test_window / test_start",
        )
    rng = np.random.default_rng(protocol.seed)
    n_users = len(tokens.offsets) - 1
    valid_users = np.flatnonzero(rng.random(n_users) < protocol.valid_users)
    is_valid_user = np.zeros(n_users, dtype=bool)
    is_valid_user[valid_users] = True
    test = is_cut & (time >= test_start)
    before = is_cut & (time < test_start)
    split[test] = Splits.TEST
    split[before & is_valid_user[tokens.user]] = Splits.VALID
    split[before & ~is_valid_user[tokens.user]] = Splits.TRAIN
    look_until = np.where(time >= test_start, log_end, test_start)
    return CutPlan(is_cut, split, look_until, "time", test_start, log_end, valid_users)


def next_item_cuts(
    tokens: EventTokens, plan: CutPlan, split: str, max_events: int | None = None
) -> np.ndarray:
    """Cuts of ``split`` whose next event names an item within the labels' look-ahead: the next-item
    examples of the intent protocol (with ``max_events``: only cuts after at most that many events,
    the short histories of the cold-start blend)."""
    cuts = plan.cuts(split)
    cuts = cuts[cuts + 1 < tokens.offsets[tokens.user[cuts] + 1]]
    cuts = cuts[(tokens.item[cuts + 1] > 0) & (tokens.time_s[cuts + 1] <= plan.look_until[cuts])]
    if max_events is not None:
        cuts = cuts[(cuts - tokens.user_start[cuts] + 1) <= max_events]
    return cuts


# --- label values --------------------------------------------------------------------------------


def compute_labels(dataset: Dataset, tokens: EventTokens, specs: list[LabelSpec], plan: CutPlan) -> CutLabels:
    """Every label's value at every cut of ``plan`` (missing elsewhere).

    Raises
    ------
    ConfigError
        If a label needs time and the Dataset has none.
    """
    ctx = _Context(dataset, tokens, plan)
    values = {}
    for spec in specs:
        if spec.kind not in ("next_action", "next_family") and not dataset.has_time:
            raise ConfigError(
                f"label {spec.name!r} ({spec.kind}) needs timestamps and the Dataset has none",
                key="intents.labels",
                fix="keep only next_action / next_family labels for logs without time",
            )
        values[spec.name] = getattr(ctx, spec.kind)(spec)
    return CutLabels(list(specs), values)


class _Context:
    """Shared per-event facts for label computation (vectorised; events sorted by user and time)."""

    def __init__(self, dataset: Dataset, tokens: EventTokens, plan: CutPlan) -> None:
        self.tokens, self.plan = tokens, plan
        n = tokens.n_events
        self.n = n
        self.idx = np.arange(n)
        self.user_end = tokens.offsets[tokens.user + 1]  # one past the user's last event
        self.time = tokens.time_s
        self.actions = dataset.vocab(Vocabularies.ACTIONS)
        self.gap_s = dataset.config.sessions.gap_s
        # the next event after the cut (the first of the next instant)
        nxt = _next_true(~_same_instant_as_previous(tokens, dataset.has_time))
        self.next_event = np.where(nxt < self.user_end, nxt, -1)
        self.cut = plan.split != NO_SPLIT

    def _action_mask(self, names: set[str]) -> np.ndarray:
        codes = [self.actions.index_of(a) for a in names if a in self.actions]
        return np.isin(self.tokens.action, codes)

    def _window_end(self, horizon_s: float) -> np.ndarray:
        """One past the last event of the user at or before ``time + horizon``."""
        key = user_time_key(self.tokens)
        bound = user_time_key(self.tokens, self.time + horizon_s)
        return np.minimum(np.searchsorted(key, bound, side="right"), self.user_end)

    def _binary(self, positive: np.ndarray, known: np.ndarray) -> np.ndarray:
        out = np.full(self.n, np.nan, dtype=np.float32)
        ok = known & self.cut
        out[ok] = positive[ok]
        return out

    # --- kinds -----------------------------------------------------------------------------------

    def next_action(self, spec: LabelSpec) -> np.ndarray:
        return self._next_class(self.tokens.action)

    def next_family(self, spec: LabelSpec) -> np.ndarray:
        return self._next_class(self.tokens.family)

    def _next_class(self, codes: np.ndarray) -> np.ndarray:
        nxt = self.next_event
        known = self.cut & (nxt >= 0)
        known[known] &= self.time[nxt[known]] <= self.plan.look_until[known]
        out = np.full(self.n, -1, dtype=np.int64)
        out[known] = codes[nxt[known]]
        return out

    def within(self, spec: LabelSpec) -> np.ndarray:
        watched = self._action_mask(spec.watched_actions)
        count = np.concatenate([[0], np.cumsum(watched)])  # count[i] = watched events before i
        if spec.horizon_s is None:  # until the session ends
            end = self._session_end()
            session_last = self.time[end - 1]
            known = session_last + self.gap_s <= self.plan.look_until
        else:
            end = self._window_end(spec.horizon_s)
            known = self.time + spec.horizon_s <= self.plan.look_until
        positive = count[end] - count[self.idx + 1] > 0
        return self._binary(positive, known)

    def churn(self, spec: LabelSpec) -> np.ndarray:
        horizon = float(spec.horizon_s)  # type: ignore[arg-type]
        nxt = self.next_event
        quiet = (nxt < 0) | (self.time[np.maximum(nxt, 0)] > self.time + horizon)
        return self._binary(quiet, self.time + horizon <= self.plan.look_until)

    def repurchase(self, spec: LabelSpec) -> np.ndarray:
        horizon = float(spec.horizon_s) if spec.horizon_s is not None else np.inf
        buys = np.flatnonzero(self._action_mask(spec.watched_actions) & (self.tokens.item > 0))
        item, user = self.tokens.item[buys], self.tokens.user[buys]
        order = np.lexsort((buys, item, user))  # buys grouped by (user, item), in time order
        b = buys[order]
        repeat = np.zeros(len(b), dtype=bool)
        repeat[1:] = (user[order][1:] == user[order][:-1]) & (item[order][1:] == item[order][:-1])
        # a repeat buy j of an earlier buy p makes cuts e with p <= e < j and time[e] >= time[j] - H positive
        j, p = b[repeat], b[np.flatnonzero(repeat) - 1]
        key = user_time_key(self.tokens)
        lo = np.maximum(
            p, np.searchsorted(key, user_time_key(self.tokens, self.time[j] - horizon, self.tokens.user[j]))
        )
        diff = np.zeros(self.n + 1, dtype=np.int64)
        ok = lo < j
        np.add.at(diff, lo[ok], 1)
        np.add.at(diff, j[ok], -1)
        positive = np.cumsum(diff[:-1]) > 0
        bought = np.zeros(self.n, dtype=np.int64)
        bought[buys] = 1
        count = np.cumsum(bought)
        before_user = np.concatenate([[0], count])[self.tokens.user_start]
        has_bought = count - before_user > 0
        known = has_bought
        if spec.horizon_s is not None:
            known = known & (self.time + horizon <= self.plan.look_until)
        return self._binary(positive, known)

    def next_outcome(self, spec: LabelSpec) -> np.ndarray:
        anchor = self._action_mask(set(spec.anchor or []))
        outcome = self._action_mask(set(spec.actions or []))
        hit = _anchor_outcomes(self.tokens, anchor, outcome)
        nxt = _next_true(anchor, start_after=True)
        nxt = np.where(nxt < self.user_end, nxt, -1)
        known = nxt >= 0
        known[known] &= self.time[nxt[known]] <= self.plan.look_until[known]
        return self._binary(hit[np.maximum(nxt, 0)], known)

    def _session_end(self) -> np.ndarray:
        """One past the last event of each event's session (events of a user; sessions by the gap rule)."""
        new = np.ones(self.n, dtype=bool)
        new[1:] = (self.tokens.user[1:] != self.tokens.user[:-1]) | (
            self.time[1:] - self.time[:-1] > self.gap_s
        )
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], self.n)
        return np.repeat(ends, ends - starts)


def _same_instant_as_previous(tokens: EventTokens, has_time: bool) -> np.ndarray:
    same = np.zeros(tokens.n_events, dtype=bool)
    if has_time and tokens.n_events:
        same[1:] = (tokens.user[1:] == tokens.user[:-1]) & (tokens.time_s[1:] == tokens.time_s[:-1])
    return same


def _next_true(mask: np.ndarray, start_after: bool = True) -> np.ndarray:
    """For each i, the smallest j > i with ``mask[j]`` (len(mask) when none)."""
    n = len(mask)
    pos = np.where(mask, np.arange(n), n)
    following = np.minimum.accumulate(pos[::-1])[::-1]  # smallest j >= i
    return np.append(following[1:], n) if start_after else following


def _anchor_outcomes(tokens: EventTokens, anchor: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Whether each anchor event has an outcome event of the same user, instant and item."""
    hit = np.zeros(tokens.n_events, dtype=bool)
    a, o = np.flatnonzero(anchor), np.flatnonzero(outcome)
    if len(a) == 0 or len(o) == 0:
        return hit
    key_a = np.rec.fromarrays([tokens.user[a], tokens.time_s[a], tokens.item[a]])
    key_o = np.rec.fromarrays([tokens.user[o], tokens.time_s[o], tokens.item[o]])
    order = np.argsort(key_a, kind="stable")
    pos = np.searchsorted(key_a[order], key_o)
    pos = np.minimum(pos, len(a) - 1)
    match = key_a[order][pos] == key_o
    hit[a[order][pos[match]]] = True
    return hit


# --- defaults ------------------------------------------------------------------------------------


def default_labels(dataset: Dataset) -> list[LabelSpec]:
    """The labels a Dataset supports by default.

    Next action and next family (with several actions / families); with timestamps: purchase
    (any ``convert`` action) within the session, 24 h and 3 days, repurchase within 3 days (with
    ``buy``), churn (no activity within 2 days), and the outcome of the next exposure (``expose``
    with ``long_view`` / ``like`` / ``click``) — each only where the log is at least three times as
    long as the horizon.
    """
    vocab = dataset.vocab(Vocabularies.ACTIONS)
    present = {v for v in vocab.values if v is not None}
    families = {f for f, acts in FAMILIES.items() if present & set(acts)}
    specs = []
    if len(present) > 1:
        specs.append(LabelSpec(name="next_action", kind="next_action"))
    if len(families) > 1:
        specs.append(LabelSpec(name="next_family", kind="next_family"))
    if not dataset.has_time:
        return specs
    stats_time = dataset.sequences.fields.get("ts")
    span = 0.0
    if stats_time is not None and len(stats_time):
        span = (float(np.max(stats_time)) - float(np.min(stats_time))) / 1000.0

    def fits(horizon: str) -> bool:
        h = parse_horizon(horizon)
        return h is None or 3 * h <= span

    if "convert" in families:
        for h, name in (("session", "purchase_session"), ("24h", "purchase_24h"), ("3d", "purchase_3d")):
            if fits(h):
                specs.append(LabelSpec(name=name, kind="within", families=["convert"], horizon=h))
    if "buy" in present and fits("3d"):
        specs.append(LabelSpec(name="repurchase_3d", kind="repurchase", actions=["buy"], horizon="3d"))
    if fits("2d"):
        specs.append(LabelSpec(name="churn_2d", kind="churn", horizon="2d"))
    if "expose" in present:
        for outcome in ("long_view", "like", "click"):
            if outcome in present:
                specs.append(
                    LabelSpec(
                        name=f"next_{outcome}", kind="next_outcome", anchor=["expose"], actions=[outcome]
                    )
                )
    return specs


def family_classes() -> int:
    """Number of family classes (codes 1..9 as in event tokens; 0 unused)."""
    return len(FAMILY_NAMES) + 1
