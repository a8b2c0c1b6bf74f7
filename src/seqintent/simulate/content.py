"""The content scenario: a feed of plays with interests, rejected themes, fatigue and cold starts.

What it plants
--------------
Interests (truth ``users.parquet`` and ``interests.parquet``)
    Each user has a dominant theme (``dominant_share`` of their plays, 50–80 %) and smaller shares
    of others (``interests.parquet``: user × theme → share). The feed also pushes one *rejected*
    theme (``rejected_theme``, 8–20 % of plays) that the user always skips fast: a ``play`` with
    1.2–2.9 s of dwell (above the 1 s misclick rule, below the 3 s skip line). Other themes are
    skipped fast only now and then (``stray_skip_rate``), so one skip is not an exclusion; long
    plays are sometimes followed by ``like``, ``share`` or ``follow``. Truth signal
    ``rejected_skip`` lists every fast skip of the rejected theme.
Fatigue before churn (truth ``sessions.label`` = ``churn`` / ``continue``; ``positive`` = churn)
    At every session a user may leave for good (``churn_hazard``, the same at every session, so
    the number of past sessions says nothing). Every regular session holds one planted pair: a
    long play the user likes and a fast skip of another item of the same theme, side by side at a
    random place. In the last session of a leaving user the like comes first and the skip right
    after it (liked one, then tired of the theme); in every other session the skip comes first and
    the liked play right after it (the feed won the user back). The last two plays of every session
    are drawn like any other and come after the pair, so neither the last play nor the gap before it
    differs, and every other play sits in random order.
    **Both have the same multiset of plays, dwell times, likes and themes and the same length
    distribution**; only which of the two neighbours comes first tells them apart (truth signals
    ``fatigue_churn`` and ``fatigue_recovery``, instance = the session; roles ``liked_play``,
    ``like``, ``tired_skip``). A small share of sessions (``order_flip_rate``, flagged
    ``order_flipped``) is laid out in the other class's order, so a perfect score means a leak. A
    regular session has at least 7 plays.
Cold start (truth ``users.cold_start``)
    A share of users (``cold_start_share``) have a single session of at most 5 events (clean log).

Truth tables (beside the common columns of :mod:`seqintent.simulate`)
    ``sessions``: ``n_plays``, ``is_last``, ``order_flipped``; ``label`` ``churn`` / ``continue`` /
    ``cold_start``. ``signals``: ``fatigue_churn`` and ``fatigue_recovery`` (instance = the session;
    roles ``liked_play``, ``like``, ``tired_skip``) and ``rejected_skip`` (instance = the **user**;
    role ``fast_skip``). ``users``: ``dominant_theme``, ``dominant_share``, ``rejected_theme``,
    ``skip_share``, ``cold_start``, ``churned``, ``n_sessions``, ``n_events``. ``interests``:
    ``user_id``, ``theme``, ``share`` (sums to 1 per user; the rejected theme has none). ``items``:
    ``item_id``, ``category`` (theme), ``popularity``.

Marginals: power-law item popularity within themes, evening peaks in local time, log-normal dwell
of watched plays, sessions at least 45 minutes apart. Noise: misclicks (sub-second plays) and
exact duplicates, listed in ``noise.parquet``.

Example
-------
>>> from seqintent.simulate import generate
>>> sim = generate("content", n_users=40, seed=3)
>>> sorted(set(sim.log.column("action").to_pylist()))
['follow', 'like', 'play', 'share']
>>> users = sim.truth["users"].to_pylist()
>>> all(u["dominant_theme"] != u["rejected_theme"] for u in users)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from seqintent.schema.columns import TruthColumns as T
from seqintent.simulate._clock import MINUTE_MS, Calendar, place_sessions, sample_ms_of_day
from seqintent.simulate._common import (
    Coded,
    GroupedSampler,
    NoiseSpec,
    RawEvents,
    ScenarioDraw,
    last_of_each,
    lognormal,
    no_values,
    position_in_segment,
    segment_cumsum,
    signal_table,
    strings,
    zipf_weights,
)

THEMES = (
    "sci-fi",
    "cooking",
    "sports",
    "news",
    "music",
    "gaming",
    "travel",
    "comedy",
    "science",
    "pets",
    "fashion",
)
RAW_ACTIONS = ("play", "like", "share", "follow")
PLAY, LIKE, SHARE, FOLLOW = range(len(RAW_ACTIONS))
DEVICES = ("mobile", "tv", "web")
LABELS = ("continue", "churn", "cold_start")
CONTINUE, CHURN, COLD = range(len(LABELS))

HOUR_WEIGHTS = np.array(
    [0.6, 0.35, 0.2, 0.1, 0.08, 0.1, 0.3, 0.7, 0.8, 0.6, 0.6, 0.7,
     1.0, 0.9, 0.7, 0.7, 0.9, 1.2, 1.6, 2.0, 2.4, 2.6, 2.2, 1.2]
)  # fmt: skip
WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.3])
SESSION_GAP_MS = 45 * MINUTE_MS
SKIP_DWELL = (1.2, 2.9)  # a fast skip: above the misclick line, below 3 s


@dataclass(frozen=True)
class ContentParams:
    """Knobs of the content scenario (defaults give about 120 events per user)."""

    days: int = 28  # length of the window
    cold_start_share: float = 0.1  # users with one short session (≤ 5 events)
    sessions_per_day: float = 0.8  # median session rate of a regular user
    churn_hazard: float = 0.1  # chance that a session is the user's last (its pair: like, then skip)
    order_flip_rate: float = 0.01  # regular sessions whose pair comes in the other class's order
    dominant_share: tuple[float, float] = (0.5, 0.8)  # range of the dominant theme's share of interest
    skip_share: tuple[float, float] = (0.08, 0.2)  # range of the share of plays pushing the rejected theme
    stray_skip_rate: float = 0.05  # fast skips of themes the user does not reject
    items_per_user: float = 1.0  # catalogue size relative to users (clipped to 1,000 … 60,000)
    misclick_rate: float = 0.02  # chance a play is followed by a misclick
    duplicate_rate: float = 0.005  # chance an event is written twice


def generate_content(
    rng: np.random.Generator, n_users: int, calendar: Calendar, params: ContentParams
) -> ScenarioDraw:
    """Draw the content log and its truth (see the module docstring)."""
    n_themes = len(THEMES)
    theme_pop = zipf_weights(n_themes, 0.6)
    n_items = int(np.clip(n_users * params.items_per_user, 1_000, 60_000))
    size = np.maximum(20, np.round(n_items * theme_pop**0.5 / (theme_pop**0.5).sum())).astype(np.int64)
    item_theme = np.repeat(np.arange(n_themes), size)
    item_within = np.concatenate([zipf_weights(int(k), 1.0) for k in size])
    item_id = rng.permutation(len(item_theme)).astype(np.int64) + 1
    items = GroupedSampler(item_theme, item_within)

    # --- users: interests, rejected theme, activity -----------------------------------------------
    dominant = rng.choice(n_themes, size=n_users, p=theme_pop)
    rejected = (dominant + rng.integers(1, n_themes, size=n_users)) % n_themes
    dominant_share = rng.uniform(*params.dominant_share, size=n_users)
    rest = rng.gamma(0.6, size=(n_users, n_themes))
    rest[np.arange(n_users), dominant] = 0.0
    rest[np.arange(n_users), rejected] = 0.0
    rest *= ((1.0 - dominant_share) / np.maximum(rest.sum(axis=1), 1e-12))[:, None]
    share = rest
    share[np.arange(n_users), dominant] = dominant_share
    skip_share = rng.uniform(*params.skip_share, size=n_users)
    cold = rng.random(n_users) < params.cold_start_share
    device = rng.choice(len(DEVICES), size=n_users, p=[0.6, 0.25, 0.15])
    rate = np.clip(params.sessions_per_day * np.exp(0.5 * rng.standard_normal(n_users)), 0.15, 4.0)
    planned = 1 + rng.poisson(rate * calendar.days)
    leave_at = rng.geometric(params.churn_hazard, size=n_users)  # 1-based index of the last session
    churned = ~cold & (leave_at <= planned)
    n_sessions = np.where(cold, 1, np.minimum(planned, leave_at))

    # --- sessions: a Poisson schedule cut at the leaving session ----------------------------------
    p_user = np.repeat(np.arange(n_users, dtype=np.int64), planned)
    p_day = calendar.sample_days(rng, len(p_user), WEEKDAY_WEIGHTS)
    p_start = calendar.to_utc_ms(calendar.local_ms(p_day, sample_ms_of_day(rng, len(p_user), HOUR_WEIGHTS)))
    order = np.lexsort((p_start, p_user))
    keep = order[position_in_segment(planned) < n_sessions[p_user]]
    user, desired = p_user[keep], p_start[keep]
    n_sess = len(user)
    is_last = np.r_[user[1:] != user[:-1], True]
    label = np.where(cold[user], COLD, np.where(is_last & churned[user], CHURN, CONTINUE))

    # --- plays (units: a play and what follows it) -----------------------------------------------
    n_plays = np.where(label == COLD, rng.integers(1, 6, size=n_sess), 6 + rng.geometric(0.15, size=n_sess))
    p_session = np.repeat(np.arange(n_sess, dtype=np.int64), n_plays)
    p_user = user[p_session]
    n = len(p_session)
    pushed = rng.random(n) < skip_share[p_user]
    interest = GroupedSampler(np.repeat(np.arange(n_users), n_themes), share.ravel())
    theme = np.where(pushed, rejected[p_user], interest.draw(rng, p_user) - p_user * n_themes)
    item = items.draw(rng, theme)
    fast = pushed | (rng.random(n) < params.stray_skip_rate)
    dwell = np.where(
        fast,
        np.round(rng.uniform(*SKIP_DWELL, size=n), 1),
        np.round(lognormal(rng, 35.0, 0.8, n, 3.5, 1200.0), 1),
    )
    engaged = ~fast & (dwell > 60.0) & ~cold[p_user]
    like = engaged & (rng.random(n) < 0.3)
    shared = like & (rng.random(n) < 0.1)
    follow = like & (rng.random(n) < 0.05)

    # Per session, by a random rank of its units: the two tail units (ranks 0, 1) and, in a regular
    # session, the planted pair (rank 2: the liked play, rank 3: the skip of the same theme).
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((rng.random(n), p_session))] = position_in_segment(n_plays)
    is_tail = rank < 2
    regular_unit = label[p_session] != COLD
    liked_unit = np.flatnonzero(regular_unit & (rank == 2))  # one per regular session, in session order
    skip_unit = np.flatnonzero(regular_unit & (rank == 3))
    k = len(liked_unit)
    pushed[liked_unit] = pushed[skip_unit] = False
    pair_theme = interest.draw(rng, p_user[liked_unit]) - p_user[liked_unit] * n_themes
    theme[liked_unit] = theme[skip_unit] = pair_theme
    item[liked_unit] = items.draw(rng, pair_theme)
    item[skip_unit] = _other_items(rng, items, pair_theme, item[liked_unit])
    dwell[liked_unit] = _engaged_dwell(rng, k)
    dwell[skip_unit] = np.round(rng.uniform(*SKIP_DWELL, size=k), 1)
    like[liked_unit], like[skip_unit] = True, False
    shared[liked_unit], shared[skip_unit] = rng.random(k) < 0.1, False
    follow[liked_unit], follow[skip_unit] = rng.random(k) < 0.05, False

    # Order units: the tails after every other unit, the rest at random, the pair side by side
    # (one shared key), the like first in a churn session, the skip first in any other.
    regular = label != COLD
    flipped = regular & (rng.random(n_sess) < params.order_flip_rate)
    like_first = (label == CHURN) ^ flipped
    key = rng.random(n)
    key[skip_unit] = key[liked_unit]
    second = np.zeros(n, dtype=bool)  # within the pair, the unit that comes second
    second[skip_unit] = like_first[p_session[skip_unit]]
    second[liked_unit] = ~like_first[p_session[liked_unit]]
    key[is_tail] = n + rng.random(int(is_tail.sum()))
    pair_role = np.zeros(n, dtype=np.int64)  # 1: the pair's liked play, 2: its skip
    pair_role[liked_unit], pair_role[skip_unit] = 1, 2
    unit_order = np.lexsort((second, key, p_session))
    p_user, theme, item, dwell, like, shared, follow, pushed, p_session, pair_role = (
        a[unit_order]
        for a in (p_user, theme, item, dwell, like, shared, follow, pushed, p_session, pair_role)
    )

    # --- events: play, then like / share / follow during it -------------------------------------
    per_unit = 1 + like.astype(np.int64) + shared + follow
    unit = np.repeat(np.arange(n, dtype=np.int64), per_unit)
    within = position_in_segment(per_unit)
    # the reactions a unit has, in the order like, share, follow (absent ones sorted to the end)
    reactions = np.sort(
        np.stack([np.where(like, LIKE, 99), np.where(shared, SHARE, 99), np.where(follow, FOLLOW, 99)], 1), 1
    )
    kind = np.where(within == 0, PLAY, reactions[unit, np.maximum(within - 1, 0)])
    think = lognormal(rng, 3.0, 0.6, n, 0.5, 60.0)
    unit_ms = ((dwell + think) * 1000.0).astype(np.int64)
    unit_start = segment_cumsum(unit_ms, p_session)
    fraction = np.array([0.0, 0.6, 0.8, 0.9])[kind]
    offset = unit_start[unit] + (fraction * dwell[unit] * 1000.0).astype(np.int64)
    e_session = p_session[unit]
    duration = offset[last_of_each(e_session, n_sess)]
    start = place_sessions(user, desired, duration, SESSION_GAP_MS)
    ts = start[e_session] + offset
    is_play = kind == PLAY
    e_item = item[unit]
    n_events = len(unit)

    events = RawEvents(
        user=user[e_session] + 1,
        ts=ts,
        session=e_session + 1,
        action=Coded(kind.astype(np.int32), RAW_ACTIONS),
        item=item_id[e_item],
        category=Coded(theme[unit].astype(np.int32), THEMES),
        dwell=np.where(is_play, dwell[unit], np.nan),
        amount=np.full(n_events, np.nan),
        device=Coded(device[user[e_session]].astype(np.int32), DEVICES),
        payee=no_values(n_events),
        location=no_values(n_events),
        text=no_values(n_events),
    )

    # --- truth ----------------------------------------------------------------------------------
    play_event = np.flatnonzero(is_play)  # one per unit, in unit order
    first = np.searchsorted(e_session, np.arange(n_sess), side="left")
    last = np.searchsorted(e_session, np.arange(n_sess), side="right") - 1
    user_id = np.arange(1, n_users + 1, dtype=np.int64)
    sessions = pa.table(
        {
            T.SESSION: np.arange(1, n_sess + 1, dtype=np.int64),
            T.USER: user + 1,
            T.LABEL: strings(label, LABELS),
            T.POSITIVE: pa.array(label == CHURN, mask=label == COLD),
            T.START: ts[first],
            T.END: ts[last],
            T.FIRST_EVENT_ID: first.astype(np.int64),
            T.LAST_EVENT_ID: last.astype(np.int64),
            T.N_EVENTS: (last - first + 1).astype(np.int64),
            "n_plays": n_plays.astype(np.int64),
            "is_last": is_last,
            "order_flipped": flipped,
        }
    )
    # the pair's events, in event order: its liked play, the like right after that play, its skip
    pair_play = play_event[np.flatnonzero(pair_role)]
    play_role = pair_role[unit[pair_play]]
    pair_events = np.concatenate([pair_play, pair_play[play_role == 1] + 1])
    pair_roles = np.concatenate(
        [np.where(play_role == 1, 0, 2), np.ones(int((play_role == 1).sum()), np.int64)]
    )
    by_event = np.argsort(pair_events, kind="stable")
    pair_events, pair_roles = pair_events[by_event], pair_roles[by_event]
    pair_session = e_session[pair_events]
    skip = np.flatnonzero(pushed)
    signals = signal_table(
        np.r_[np.where(label[pair_session] == CHURN, 0, 1), np.full(len(skip), 2)],
        ("fatigue_churn", "fatigue_recovery", "rejected_skip"),
        np.r_[pair_session, p_user[skip]] + 1,
        np.r_[pair_events, play_event[skip]],
        np.r_[pair_roles, np.full(len(skip), 3)],
        ("liked_play", "like", "tired_skip", "fast_skip"),
        np.r_[user[pair_session], p_user[skip]] + 1,
    )
    users = pa.table(
        {
            T.USER: user_id,
            "dominant_theme": strings(dominant, THEMES),
            "dominant_share": np.round(dominant_share, 4),
            "rejected_theme": strings(rejected, THEMES),
            "skip_share": np.round(skip_share, 4),
            "cold_start": cold,
            "churned": churned,
            "n_sessions": n_sessions.astype(np.int64),
            "n_events": np.bincount(user[e_session], minlength=n_users).astype(np.int64),
        }
    )
    u_idx, t_idx = np.nonzero(share > 0)
    interests = pa.table(
        {
            T.USER: user_id[u_idx],
            "theme": strings(t_idx, THEMES),
            "share": np.round(share[u_idx, t_idx], 4),
        }
    )
    catalogue = pa.table(
        {
            T.ITEM: item_id,
            T.CATEGORY: strings(item_theme, THEMES),
            "popularity": theme_pop[item_theme] * item_within,
        }
    ).sort_by(T.ITEM)
    events.truth = {
        "sessions": sessions,
        "signals": signals,
        "users": users,
        "interests": interests,
        "items": catalogue,
    }

    def draw_misclick(r: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        t = r.choice(n_themes, size=k, p=theme_pop)
        return item_id[items.draw(r, t)], t.astype(np.int32)

    return ScenarioDraw(
        events,
        NoiseSpec(params.misclick_rate, params.duplicate_rate, misclick_action=PLAY),
        misclick_after=is_play,
        draw_item=draw_misclick,
    )


def _engaged_dwell(rng: np.random.Generator, k: int) -> np.ndarray:
    """Dwell of ``k`` plays the user likes: the watched-play law conditioned on more than a minute,
    as for the likes that arise on their own."""
    dwell = np.round(lognormal(rng, 35.0, 0.8, k, 3.5, 1200.0), 1)
    short = dwell <= 60.0
    while short.any():
        dwell[short] = np.round(lognormal(rng, 35.0, 0.8, int(short.sum()), 3.5, 1200.0), 1)
        short = dwell <= 60.0
    return dwell


def _other_items(
    rng: np.random.Generator, items: GroupedSampler, theme: np.ndarray, avoid: np.ndarray
) -> np.ndarray:
    """An item of each ``theme`` other than ``avoid`` (every theme has at least 20 items)."""
    out = items.draw(rng, theme)
    same = out == avoid
    while same.any():
        out[same] = items.draw(rng, theme[same])
        same = out == avoid
    return out
