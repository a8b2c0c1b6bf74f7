"""The finance scenario: habitual banking, account takeovers, and benign sessions that look odd.

What it plants
--------------
Habits (truth ``users.parquet``, ``payees.parquet``)
    Each user logs in from one device (some from a second one now and then) at a habitual local
    hour (morning, lunch or evening, ± about 40 minutes), from their home city, checks the balance
    sometimes and sends transfers to 2–6 known payees with a typical amount each (log-normal).
Account takeovers (truth ``sessions.label`` = ``takeover``; ``positive`` = takeover)
    For ``takeover_share`` of the users, once after the warm-up: a login from a new device, at night
    (0–5 h local), from a foreign city → ``balance`` → ``add_payee`` → a ``transfer`` 10–50 × the
    user's typical amount to that new payee → ``delete_record`` → ``logout``, seconds apart.
    Truth signal ``takeover`` lists these events with their roles.
Benign sessions that look unusual (labels; ``positive`` false), so no single rule is enough
    ``new_device_day``: a new phone at the usual hour (it becomes the user's device from then on);
    ``large_known``: a large transfer to a known payee; ``night_usual``: a night login on the usual
    device; ``new_payee_day``: a new payee paid a normal amount by day; and ``lookalike``: **the same
    events as a takeover** — new device, night, foreign city, balance, new payee, large transfer,
    delete, the same pacing — **in another order**: the old record is deleted first and the balance
    checked after paying. Takeover and lookalike have identical counts, flags and gap distributions;
    only the order tells them apart (query → pay new payee → delete what was just done). Truth
    signals ``lookalike``, ``new_device``, ``large_transfer``, ``night_login`` and ``new_payee``
    name each decoy's unusual events. Normal sessions sometimes delete an old record too.

Truth tables (beside the common columns of :mod:`seqintent.simulate`)
    ``sessions``: ``local_hour``, ``new_device``, ``new_payee``, ``large_amount``, ``delete_record``
    (flags of what the session did); ``positive`` is defined for every session. ``signals``:
    instance = the session; roles ``login_new_device``, ``query_balance``, ``add_payee``,
    ``transfer_new_payee``, ``delete_record``, ``large_transfer_known_payee``, ``night_login``.
    ``users``: ``primary_device``, ``second_device``, ``habitual_hour``, ``home_location``,
    ``n_payees``, ``median_amount``, ``takeover``. ``payees``: ``user_id``, ``payee``, ``weight``,
    ``median_amount``.

No unusual session happens in the first ``warmup_days``, so every user has a habit to compare with.
Finance events carry no item: the ``simulator`` preset reads the payee as the item. Noise: exact
duplicates (double submissions), listed in ``noise.parquet``; no misclicks.

Example
-------
>>> from seqintent.simulate import generate
>>> sim = generate("finance", n_users=200, seed=1)
>>> sorted(set(sim.log.column("action").to_pylist()))
['add_payee', 'balance', 'delete_record', 'login', 'logout', 'transfer']
>>> labels = sim.truth["sessions"].column("label").to_pylist()
>>> labels.count("takeover") > 0 and labels.count("lookalike") > 0
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from seqintent.schema.columns import TruthColumns as T
from seqintent.simulate._clock import HOUR_MS, MINUTE_MS, Calendar, place_sessions
from seqintent.simulate._common import (
    NONE,
    Coded,
    GroupedSampler,
    NoiseSpec,
    RawEvents,
    ScenarioDraw,
    expand_blocks,
    last_of_each,
    lognormal,
    no_values,
    segment_cumsum,
    signal_table,
    strings,
)

HOME_CITIES = (
    "Berlin",
    "Hamburg",
    "Munich",
    "Cologne",
    "Frankfurt",
    "Stuttgart",
    "Leipzig",
    "Dresden",
    "Bremen",
)
FOREIGN_CITIES = ("Lagos", "Bucharest", "Manila", "Minsk", "Sao Paulo", "Jakarta")
RAW_ACTIONS = ("login", "logout", "balance", "transfer", "add_payee", "delete_record")
LABELS = ("normal", "takeover", "lookalike", "new_device_day", "large_known", "night_usual", "new_payee_day")
NORMAL, TAKEOVER, LOOKALIKE, NEW_DEVICE, LARGE_KNOWN, NIGHT_USUAL, NEW_PAYEE = range(len(LABELS))

# Roles of events; each maps to a raw action.
(
    R_LOGIN,
    R_LOGOUT,
    R_BALANCE,
    R_PAY_KNOWN,
    R_PAY_KNOWN_LARGE,
    R_ADD_PAYEE,
    R_PAY_NEW,
    R_PAY_NEW_LARGE,
    R_DELETE,
) = range(9)
_ROLE_ACTION = np.array([0, 1, 2, 3, 3, 4, 3, 3, 5])
_LAYOUT = np.array(
    [
        [R_LOGIN, R_BALANCE, R_PAY_KNOWN, R_BALANCE, R_DELETE, R_LOGOUT],  # normal
        [R_LOGIN, R_BALANCE, R_ADD_PAYEE, R_PAY_NEW_LARGE, R_DELETE, R_LOGOUT],  # takeover
        [R_LOGIN, R_DELETE, R_ADD_PAYEE, R_PAY_NEW_LARGE, R_BALANCE, R_LOGOUT],  # lookalike
        [R_LOGIN, R_BALANCE, R_PAY_KNOWN, R_BALANCE, R_DELETE, R_LOGOUT],  # new_device_day
        [R_LOGIN, R_BALANCE, R_PAY_KNOWN_LARGE, R_PAY_KNOWN, R_DELETE, R_LOGOUT],  # large_known
        [R_LOGIN, R_BALANCE, R_PAY_KNOWN, R_BALANCE, R_DELETE, R_LOGOUT],  # night_usual
        [R_LOGIN, R_BALANCE, R_ADD_PAYEE, R_PAY_NEW, R_DELETE, R_LOGOUT],  # new_payee_day
    ]
)
_HABIT_HOURS = ((7.0, 3.0, 0.45), (12.0, 2.0, 0.2), (18.0, 4.0, 0.35))  # (from, width, share of users)
WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.7])
SESSION_GAP_MS = 45 * MINUTE_MS


@dataclass(frozen=True)
class FinanceParams:
    """Knobs of the finance scenario (defaults give about 115 events per user)."""

    days: int = 60  # length of the window
    sessions_per_day: tuple[float, float] = (0.2, 0.9)  # range of a user's session rate
    warmup_days: int = 14  # no unusual session before this day
    takeover_share: float = 0.05  # users with one account takeover (after the warm-up)
    lookalike_rate: float = 0.02  # sessions after the warm-up that are a takeover's events in another order
    decoy_rate: float = 0.01  # sessions after the warm-up of each other benign-but-unusual kind
    duplicate_rate: float = 0.003  # chance an event is written twice (double submission)


def _names(prefix: str, codes: np.ndarray, width: int) -> list[str]:
    """Distinct, random-looking identifiers for codes 0..n-1 (a fixed odd multiplier permutes them)."""
    modulus = 16**width
    return [f"{prefix}{(int(c) * 2_654_435_761 + 97) % modulus:0{width}x}" for c in codes]


@dataclass(frozen=True)
class _Habits:
    """What each user does as a rule (0-based user and payee indices)."""

    hour: np.ndarray  # habitual local login hour (float)
    has_second: np.ndarray  # uses a second device now and then
    home: np.ndarray  # home city
    elsewhere: np.ndarray  # the other city they sometimes log in from
    payee_user: np.ndarray  # owner of each known payee (payees of a user are contiguous)
    payee_weight: np.ndarray  # how often each payee is paid (relative within the user)
    payee_median: np.ndarray  # typical amount per payee
    user_median: np.ndarray  # typical amount per user (payee medians weighted by use)

    @classmethod
    def draw(cls, rng: np.random.Generator, n_users: int) -> _Habits:
        band = rng.choice(len(_HABIT_HOURS), size=n_users, p=[b[2] for b in _HABIT_HOURS])
        starts = np.array([b[0] for b in _HABIT_HOURS])
        widths = np.array([b[1] for b in _HABIT_HOURS])
        home = rng.integers(len(HOME_CITIES), size=n_users)
        payee_user = np.repeat(np.arange(n_users), rng.integers(2, 7, size=n_users))
        weight = rng.gamma(1.0, size=len(payee_user))
        median = np.round(np.exp(np.log(60.0) + 0.9 * rng.standard_normal(len(payee_user))), 2)
        used = np.bincount(payee_user, weight, n_users)
        return cls(
            hour=starts[band] + rng.random(n_users) * widths[band],
            has_second=rng.random(n_users) < 0.3,
            home=home,
            elsewhere=(home + rng.integers(1, len(HOME_CITIES), size=n_users)) % len(HOME_CITIES),
            payee_user=payee_user,
            payee_weight=weight / used[payee_user],
            payee_median=median,
            user_median=np.bincount(payee_user, weight * median, n_users) / used,
        )


def generate_finance(
    rng: np.random.Generator, n_users: int, calendar: Calendar, params: FinanceParams
) -> ScenarioDraw:
    """Draw the finance log and its truth (see the module docstring)."""
    habits = _Habits.draw(rng, n_users)
    payees = GroupedSampler(habits.payee_user, habits.payee_weight)

    # --- sessions -------------------------------------------------------------------------------
    rate = rng.uniform(*params.sessions_per_day, size=n_users)
    n_own = 1 + rng.poisson(rate * calendar.days)
    takeover_user = np.flatnonzero(rng.random(n_users) < params.takeover_share)
    user = np.r_[np.repeat(np.arange(n_users, dtype=np.int64), n_own), takeover_user]
    n_sess = len(user)
    # takeovers fall on the days lookalikes and decoys may: after the warm-up
    first_late_day = min(params.warmup_days, calendar.days - 1)
    day = np.r_[calendar.sample_days(rng, n_sess - len(takeover_user), WEEKDAY_WEIGHTS),
                rng.integers(first_late_day, calendar.days, size=len(takeover_user))]  # fmt: skip
    label = np.r_[np.full(n_sess - len(takeover_user), NORMAL), np.full(len(takeover_user), TAKEOVER)]
    pick = rng.random(n_sess)
    late = day >= first_late_day
    cuts = np.cumsum([params.lookalike_rate] + [params.decoy_rate] * 4)
    unusual = np.searchsorted(cuts, pick, side="right")  # 0 lookalike, 1-4 decoys, 5 normal
    unusual_label = np.array([LOOKALIKE, NEW_DEVICE, LARGE_KNOWN, NIGHT_USUAL, NEW_PAYEE, NORMAL])[unusual]
    label = np.where((label == NORMAL) & late, unusual_label, label)
    night = np.isin(label, (TAKEOVER, LOOKALIKE, NIGHT_USUAL))
    hour = np.where(
        night,
        rng.uniform(0.0, 5.0, n_sess),
        np.clip(habits.hour[user] + 0.7 * rng.standard_normal(n_sess), 6.0, 23.0),
    )
    desired = calendar.to_utc_ms(calendar.local_ms(day, (hour * HOUR_MS).astype(np.int64)))
    order = np.lexsort((desired, user))
    user, desired, label = user[order], desired[order], label[order]

    # devices: the habitual one (or the second one), a switch on new_device_day, a stranger's in a takeover
    hijack = np.isin(label, (TAKEOVER, LOOKALIKE))
    n_dev_new = int(np.sum(hijack | (label == NEW_DEVICE)))
    new_code = np.full(n_sess, NONE, dtype=np.int64)
    new_code[hijack | (label == NEW_DEVICE)] = 2 * n_users + np.arange(n_dev_new)
    switch_at = np.maximum.accumulate(np.where(label == NEW_DEVICE, np.arange(n_sess), -1))
    switched = (switch_at >= 0) & (user[np.maximum(switch_at, 0)] == user)
    habitual = np.where(habits.has_second[user] & (rng.random(n_sess) < 0.2), n_users + user, user)
    habitual = np.where(switched, new_code[np.maximum(switch_at, 0)], habitual)
    session_device = np.where(hijack, new_code, habitual)
    session_city = np.where(rng.random(n_sess) < 0.95, habits.home[user], habits.elsewhere[user])
    session_city = np.where(
        hijack, len(HOME_CITIES) + rng.integers(len(FOREIGN_CITIES), size=n_sess), session_city
    )

    # --- events ---------------------------------------------------------------------------------
    counts = _block_counts(rng, label)
    e_session, role, _ = expand_blocks(_LAYOUT[label], counts)
    n = len(e_session)
    e_user = user[e_session]
    known = payees.draw(rng, e_user)
    new_payee = len(habits.payee_user) + e_session  # one fresh payee per session that adds one
    payee = np.where(np.isin(role, (R_PAY_KNOWN, R_PAY_KNOWN_LARGE)), known, NONE)
    payee = np.where(np.isin(role, (R_ADD_PAYEE, R_PAY_NEW, R_PAY_NEW_LARGE)), new_payee, payee)
    median = habits.user_median[e_user]
    amount = np.full(n, np.nan)
    amount = np.where(
        role == R_PAY_KNOWN,
        habits.payee_median[np.maximum(known, 0)] * np.exp(0.35 * rng.standard_normal(n)),
        amount,
    )
    amount = np.where(role == R_PAY_KNOWN_LARGE, median * rng.uniform(10.0, 40.0, n), amount)
    amount = np.where(role == R_PAY_NEW, median * np.exp(0.5 * rng.standard_normal(n)), amount)
    amount = np.where(role == R_PAY_NEW_LARGE, median * rng.uniform(10.0, 50.0, n), amount)
    amount = np.round(np.maximum(amount, 1.0), 2)
    # takeovers and lookalikes are hurried alike; habitual sessions at a human pace
    hurried = hijack[e_session]
    gap_s = np.where(
        hurried, lognormal(rng, 12.0, 0.5, n, 3.0, 60.0), lognormal(rng, 25.0, 0.6, n, 3.0, 300.0)
    )
    offset = segment_cumsum((gap_s * 1000.0).astype(np.int64), e_session)
    duration = offset[last_of_each(e_session, n_sess)]
    start = place_sessions(user, desired, duration, SESSION_GAP_MS)
    ts = start[e_session] + offset

    device_codes = np.arange(2 * n_users + n_dev_new)
    payee_codes = np.arange(len(habits.payee_user) + n_sess)
    used_payees, payee_index = np.unique(payee[payee >= 0], return_inverse=True)
    compact_payee = np.full(n, NONE, dtype=np.int64)
    compact_payee[payee >= 0] = payee_index
    events = RawEvents(
        user=e_user + 1,
        ts=ts,
        session=e_session + 1,
        action=Coded(_ROLE_ACTION[role].astype(np.int32), RAW_ACTIONS),
        item=np.full(n, NONE, dtype=np.int64),
        category=no_values(n),
        dwell=np.full(n, np.nan),
        amount=amount,
        device=Coded(session_device[e_session].astype(np.int32), _names("dev-", device_codes, 8)),
        payee=Coded(compact_payee.astype(np.int32), _names("ACC", payee_codes[used_payees], 10)),
        location=Coded(session_city[e_session].astype(np.int32), HOME_CITIES + FOREIGN_CITIES),
        text=no_values(n),
    )
    events.truth = _truth(events, e_session, role, user, label, calendar, habits, takeover_user)
    return ScenarioDraw(events, NoiseSpec(0.0, params.duplicate_rate))


def _block_counts(rng: np.random.Generator, label: np.ndarray) -> np.ndarray:
    n = len(label)
    one = np.ones(n, dtype=np.int64)
    balance = (rng.random(n) < 0.35).astype(np.int64)
    transfers = rng.choice([0, 1, 2], size=n, p=[0.15, 0.65, 0.2])
    balance_after = (rng.random(n) < 0.1).astype(np.int64)
    tidy = (rng.random(n) < 0.03).astype(np.int64)  # normal sessions sometimes delete an old record
    logout = (rng.random(n) < 0.75).astype(np.int64)
    habitual = np.stack([one, balance, transfers, balance_after, tidy, logout], 1)
    # takeovers and lookalikes both end with a logout, so the last event tells nothing
    hurried = np.stack([one, one, one, one, one, one], 1)
    large = np.stack([one, balance, one, np.maximum(transfers - 1, 0), tidy, logout], 1)
    new_payee = np.stack([one, balance, one, one, tidy, logout], 1)
    by_label = {
        NORMAL: habitual,
        TAKEOVER: hurried,
        LOOKALIKE: hurried,
        NEW_DEVICE: habitual,
        LARGE_KNOWN: large,
        NIGHT_USUAL: habitual,
        NEW_PAYEE: new_payee,
    }
    counts = np.zeros((n, _LAYOUT.shape[1]), dtype=np.int64)
    for code, table in by_label.items():
        rows = label == code
        counts[rows] = table[rows]
    return counts


# The events each kind of session is flagged by, and their role names in the truth.
_HIJACK_ROLES = {
    R_LOGIN: "login_new_device",
    R_BALANCE: "query_balance",
    R_ADD_PAYEE: "add_payee",
    R_PAY_NEW_LARGE: "transfer_new_payee",
    R_DELETE: "delete_record",
}
_SIGNAL_ROLES = {
    TAKEOVER: ("takeover", _HIJACK_ROLES),
    LOOKALIKE: ("lookalike", _HIJACK_ROLES),
    NEW_DEVICE: ("new_device", {R_LOGIN: "login_new_device"}),
    LARGE_KNOWN: ("large_transfer", {R_PAY_KNOWN_LARGE: "large_transfer_known_payee"}),
    NIGHT_USUAL: ("night_login", {R_LOGIN: "night_login"}),
    NEW_PAYEE: ("new_payee", {R_ADD_PAYEE: "add_payee", R_PAY_NEW: "transfer_new_payee"}),
}


def _truth(
    events: RawEvents,
    e_session: np.ndarray,
    role: np.ndarray,
    user: np.ndarray,
    label: np.ndarray,
    calendar: Calendar,
    habits: _Habits,
    takeover_user: np.ndarray,
) -> dict[str, pa.Table]:
    n_sess = len(user)
    n_users = len(habits.hour)
    first = np.searchsorted(e_session, np.arange(n_sess), side="left")
    last = np.searchsorted(e_session, np.arange(n_sess), side="right") - 1
    has_role = np.zeros((n_sess, 9), dtype=bool)
    has_role[e_session, role] = True
    sessions = pa.table(
        {
            T.SESSION: np.arange(1, n_sess + 1, dtype=np.int64),
            T.USER: user + 1,
            T.LABEL: strings(label, LABELS),
            T.POSITIVE: label == TAKEOVER,
            T.START: events.ts[first],
            T.END: events.ts[last],
            T.FIRST_EVENT_ID: first.astype(np.int64),
            T.LAST_EVENT_ID: last.astype(np.int64),
            T.N_EVENTS: (last - first + 1).astype(np.int64),
            "local_hour": calendar.local_hour(events.ts[first]).astype(np.int8),
            "new_device": np.isin(label, (TAKEOVER, LOOKALIKE, NEW_DEVICE)),
            "new_payee": has_role[:, R_ADD_PAYEE],
            "large_amount": has_role[:, R_PAY_NEW_LARGE] | has_role[:, R_PAY_KNOWN_LARGE],
            "delete_record": has_role[:, R_DELETE],
        }
    )
    signal_names = [signal for signal, _ in _SIGNAL_ROLES.values()]
    role_names = sorted({name for _, roles in _SIGNAL_ROLES.values() for name in roles.values()})
    # role code of each (session label, event role) pair that is a cause, -1 elsewhere
    cause_role = np.full((len(LABELS), _ROLE_ACTION.size), -1)
    signal_of_label = np.full(len(LABELS), -1)
    for k, (code, (_, roles)) in enumerate(_SIGNAL_ROLES.items()):
        signal_of_label[code] = k
        for r, name in roles.items():
            cause_role[code, r] = role_names.index(name)
    e_label = label[e_session]
    hit = np.flatnonzero(cause_role[e_label, role] >= 0)
    signals = signal_table(
        signal_of_label[e_label[hit]],
        signal_names,
        e_session[hit] + 1,
        hit,
        cause_role[e_label[hit], role[hit]],
        role_names,
        user[e_session[hit]] + 1,
    )
    device_names = np.array(events.device.names, dtype=object)
    second = np.where(habits.has_second, n_users + np.arange(n_users), -1)
    users = pa.table(
        {
            T.USER: np.arange(1, n_users + 1, dtype=np.int64),
            "primary_device": pa.array(device_names[:n_users], type=pa.string()),
            "second_device": strings(second, device_names),
            "habitual_hour": np.round(habits.hour, 2),
            "home_location": strings(habits.home, HOME_CITIES),
            "n_payees": np.bincount(habits.payee_user, minlength=n_users).astype(np.int64),
            "median_amount": np.round(habits.user_median, 2),
            "takeover": np.isin(np.arange(n_users), takeover_user),
        }
    )
    payees = pa.table(
        {
            T.USER: habits.payee_user.astype(np.int64) + 1,
            "payee": pa.array(_names("ACC", np.arange(len(habits.payee_user)), 10), type=pa.string()),
            "weight": np.round(habits.payee_weight, 4),
            "median_amount": habits.payee_median,
        }
    )
    return {"sessions": sessions, "signals": signals, "users": users, "payees": payees}
