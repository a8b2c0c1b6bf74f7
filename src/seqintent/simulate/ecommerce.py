"""The ecommerce scenario: browsing, carts, reviews, returns on the weekend, complementary buys.

What it plants
--------------
Every session has a true intent (truth ``sessions.label``):

``browse``
    Page views (``pv``) in one or two categories, sometimes a search or a review; no cart.
``buy_now``
    Views, the target item, perhaps its reviews, ``cart`` and ``buy`` in the same session.
``research_then_leave`` and ``return_later`` (weekdays only)
    Views, the target item X, views, ``review`` × r of X, ``cart`` of X, views — and the user never
    buys X; or views, X, views, ``cart`` of X, ``review`` × r of X, views — and the user comes back
    on the following weekend (a ``return_purchase`` session: view X, ``buy`` X).
    **The two differ only in order**: the same counts of every action, the cart at the same
    position, the same dwell and gap distributions, the same categories, hours and weekdays; only
    whether the reviews of the carted item come *before* or *after* the cart tells them apart
    (``positive`` = ``return_later``). A small share of sessions (``order_flip_rate``, flagged
    ``order_flipped``) breaks the rule, so a perfect score means a leak.
``return_purchase``
    The weekend return of a ``return_later`` session.
``complement_purchase``
    After buying an item of a source category (phones, laptops, cameras, consoles, coffee machines,
    printers), most users come back 2–72 h later for its complement: the one matching item of the
    paired category (``complements.parquet``: phone → its case). A next-item signal only the
    order (bought P, then …) reveals.

Intents are drawn independently per session, so a user's history says nothing about the intent
of the next session; only the events of that session do.

Truth tables (beside the common columns of :mod:`seqintent.simulate`)
    ``sessions``: ``category``, ``target_item`` (the item viewed / carted / bought), ``local_weekday``
    (0 = Monday), ``local_hour``, ``order_flipped``, ``follow_up_session_id`` (the weekend return of
    a ``return_later``, the complement purchase after a buy). ``signals``: ``return_later`` (roles
    ``cart``, ``review``, ``return_buy``) and ``research_then_leave`` (``review``, ``cart``), instance =
    the cart session; ``complement`` (``trigger_buy``, ``complement_view``, ``complement_buy``),
    instance = the complement session. ``users``: ``favourite_category``, ``second_category``,
    ``device``, ``n_sessions``. ``items``: ``item_id``, ``category``, ``price``, ``popularity``.
    ``complements``: ``source_item``, ``source_category``, ``target_item``, ``target_category``.

Marginals: power-law category and item popularity; one or two favourite categories per user;
evening and weekend peaks in local time; log-normal dwell on views and reviews; sessions at least
45 minutes apart (an inactivity threshold of 30 minutes recovers them exactly). Noise: misclicks
(sub-second views) and exact duplicates, listed in ``noise.parquet``.

Example
-------
>>> from seqintent.simulate import generate
>>> sim = generate("ecommerce", n_users=50, seed=7)
>>> sorted(set(sim.log.column("action").to_pylist()))
['buy', 'cart', 'pv', 'review', 'search']
>>> labels = set(sim.truth["sessions"].column("label").to_pylist())
>>> {"research_then_leave", "return_later", "return_purchase"} <= labels
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from seqintent.schema.columns import TruthColumns as T
from seqintent.simulate._catalogue import CATEGORIES, catalogue
from seqintent.simulate._clock import HOUR_MS, MINUTE_MS, Calendar, place_sessions, sample_ms_of_day
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

INTENTS = (
    "browse",
    "buy_now",
    "research_then_leave",
    "return_later",
    "return_purchase",
    "complement_purchase",
)
BROWSE, BUY_NOW, RESEARCH, RETURN_LATER, RETURN_PURCHASE, COMPLEMENT = range(len(INTENTS))
RAW_ACTIONS = ("pv", "search", "review", "cart", "buy")
DEVICES = ("android", "ios", "web")

# Roles of events within a session; each maps to a raw action.
R_SEARCH, R_VIEW, R_VIEW_TARGET, R_REVIEW_TARGET, R_REVIEW_OTHER, R_CART, R_BUY = range(7)
_ROLE_ACTION = np.array([1, 0, 0, 2, 2, 3, 4])  # index into RAW_ACTIONS
_ROLE_HAS_DWELL = np.array([False, True, True, True, True, False, False])
_ROLE_ON_TARGET = np.array([False, False, True, True, False, True, True])

# Block layout of each intent (roles in event order); counts come from _block_counts.
_LAYOUT = np.array(
    [
        [R_SEARCH, R_VIEW, R_REVIEW_OTHER, R_VIEW, 0, 0, 0],  # browse
        [R_SEARCH, R_VIEW, R_VIEW_TARGET, R_REVIEW_TARGET, R_CART, R_BUY, R_VIEW],  # buy_now
        [R_SEARCH, R_VIEW, R_VIEW_TARGET, R_VIEW, R_REVIEW_TARGET, R_CART, R_VIEW],  # research_then_leave
        [R_SEARCH, R_VIEW, R_VIEW_TARGET, R_VIEW, R_CART, R_REVIEW_TARGET, R_VIEW],  # return_later
        [0, R_VIEW, R_VIEW_TARGET, R_BUY, 0, 0, 0],  # return_purchase
        [R_SEARCH, R_VIEW, R_VIEW_TARGET, R_CART, R_BUY, 0, 0],  # complement_purchase
    ]
)

# Local rhythm: evening peak, quiet nights, busier weekends.
HOUR_WEIGHTS = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 0.8, 1.0, 1.0, 1.0, 1.1,
     1.3, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 2.0, 2.3, 2.2, 1.6, 0.8]
)  # fmt: skip
WEEKEND_RETURN_HOURS = np.array([0.0] * 9 + [1.0] * 13 + [0.0, 0.0])  # weekend returns between 9:00 and 22:00
WEEKDAY_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.05, 1.25, 1.3])
SESSION_GAP_MS = 45 * MINUTE_MS


@dataclass(frozen=True)
class EcommerceParams:
    """Knobs of the ecommerce scenario (defaults give about 40 events per user)."""

    days: int = 28  # length of the window; weekend returns may fall up to a week after it
    sessions_per_user: float = 5.5  # mean number of a user's own sessions (returns, follow-ups on top)
    weekday_mix: tuple[float, float, float, float] = (0.52, 0.16, 0.16, 0.16)  # browse, buy, research, return
    weekend_buy_share: float = 0.2  # share of buy_now among weekend sessions (the rest browse)
    complement_rate: float = 0.7  # chance a buy in a source category brings the complement's purchase
    order_flip_rate: float = 0.01  # research/return sessions laid out in the other class's order
    items_per_user: float = 0.5  # catalogue size relative to users (clipped to 2,000 … 100,000)
    misclick_rate: float = 0.02  # chance a page view is followed by a misclick
    duplicate_rate: float = 0.005  # chance an event is written twice


def _block_counts(rng: np.random.Generator, layout_intent: np.ndarray) -> np.ndarray:
    """Events per block for each session, drawn once and arranged by the layout of its intent."""
    n = len(layout_intent)
    search = (rng.random(n) < 0.35).astype(np.int64)
    browse_views = rng.geometric(0.3, n)  # ≥ 1
    lead_views = rng.geometric(0.35, n) - 1
    trail_views = rng.geometric(0.45, n) - 1
    maybe_review = (rng.random(n) < 0.3).astype(np.int64)
    reviews = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.2])
    mid = reviews + rng.geometric(0.5, n) - 1  # views between the target and the cart in return_later (≥ r)
    tail = rng.geometric(0.5, n)  # ≥ 1 view after the last review or cart: no class ends on its cue
    one = np.ones(n, dtype=np.int64)
    zero = np.zeros(n, dtype=np.int64)
    by_intent = [
        [search, browse_views, maybe_review, trail_views, zero, zero, zero],
        [search, lead_views, one, maybe_review, one, one, np.minimum(trail_views, 2)],
        # the same draws as return_later, with the r reviews moved from after the cart to before it
        [search, lead_views, one, mid - reviews, reviews, one, reviews + tail],
        [search, lead_views, one, mid, one, reviews, tail],
        [zero, np.minimum(lead_views, 2), one, one, zero, zero, zero],
        [(rng.random(n) < 0.5).astype(np.int64), lead_views, one, one, one, zero, zero],
    ]
    counts = np.zeros((n, _LAYOUT.shape[1]), dtype=np.int64)
    for intent, columns in enumerate(by_intent):
        rows = layout_intent == intent
        counts[rows] = np.stack(columns, axis=1)[rows]
    return counts


def generate_ecommerce(
    rng: np.random.Generator, n_users: int, calendar: Calendar, params: EcommerceParams
) -> ScenarioDraw:
    """Draw the ecommerce log and its truth (see the module docstring)."""
    n_items = int(np.clip(n_users * params.items_per_user, 2_000, 100_000))
    cat = catalogue(rng, n_items)
    item_sampler = GroupedSampler(cat["category"], cat["within"])
    n_cat = len(CATEGORIES)

    # --- users --------------------------------------------------------------------------------
    fav1 = rng.choice(n_cat, size=n_users, p=cat["cat_pop"])
    fav2 = rng.choice(n_cat, size=n_users, p=cat["cat_pop"])
    device = rng.choice(len(DEVICES), size=n_users, p=[0.5, 0.35, 0.15])
    mean_extra = max(params.sessions_per_user - 1.0, 1e-6)
    n_base = 1 + rng.negative_binomial(2, 2 / (2 + mean_extra), size=n_users)

    # --- the users' own sessions ----------------------------------------------------------------
    s_user = np.repeat(np.arange(n_users, dtype=np.int64), n_base)
    s_day = calendar.sample_days(rng, len(s_user), WEEKDAY_WEIGHTS)
    s_start = calendar.to_utc_ms(calendar.local_ms(s_day, sample_ms_of_day(rng, len(s_user), HOUR_WEIGHTS)))
    order = np.lexsort((s_start, s_user))
    s_user, s_day, s_start = s_user[order], s_day[order], s_start[order]
    weekend = calendar.weekday(s_day) >= 5
    weekday_pick = rng.choice(4, size=len(s_user), p=np.array(params.weekday_mix) / sum(params.weekday_mix))
    weekend_pick = np.where(rng.random(len(s_user)) < params.weekend_buy_share, BUY_NOW, BROWSE)
    s_intent = np.where(weekend, weekend_pick, weekday_pick)
    u = rng.random(len(s_user))
    s_cat = np.where(
        u < 0.5,
        fav1[s_user],
        np.where(u < 0.7, fav2[s_user], rng.choice(n_cat, len(s_user), p=cat["cat_pop"])),
    )
    s_target = np.where(s_intent == BROWSE, NONE, item_sampler.draw(rng, s_cat))

    # --- weekend returns of return_later sessions -----------------------------------------------
    src_r = np.flatnonzero(s_intent == RETURN_LATER)
    wd = calendar.weekday(s_day[src_r])
    r_day = s_day[src_r] + (5 - wd) + (rng.random(len(src_r)) < 0.5)
    r_start = calendar.to_utc_ms(
        calendar.local_ms(r_day, sample_ms_of_day(rng, len(src_r), WEEKEND_RETURN_HOURS))
    )

    # --- complementary purchases after buys in a source category --------------------------------
    buy_user = np.r_[s_user[s_intent == BUY_NOW], s_user[src_r]]
    buy_item = np.r_[s_target[s_intent == BUY_NOW], s_target[src_r]]
    buy_start = np.r_[s_start[s_intent == BUY_NOW], r_start]
    buy_from = np.r_[np.flatnonzero(s_intent == BUY_NOW), len(s_user) + np.arange(len(src_r))]
    chosen = np.flatnonzero(
        (cat["complement"][buy_item] >= 0) & (rng.random(len(buy_item)) < params.complement_rate)
    )
    c_start = buy_start[chosen] + rng.integers(2 * HOUR_MS, 72 * HOUR_MS, size=len(chosen))
    c_target = cat["complement"][buy_item[chosen]]

    # --- all sessions, in user then time order --------------------------------------------------
    user = np.r_[s_user, s_user[src_r], buy_user[chosen]]
    desired = np.r_[s_start, r_start, c_start]
    intent = np.r_[s_intent, np.full(len(src_r), RETURN_PURCHASE), np.full(len(chosen), COMPLEMENT)]
    target = np.r_[s_target, s_target[src_r], c_target]
    planned_cat = np.r_[s_cat, s_cat[src_r], np.zeros(len(chosen), dtype=s_cat.dtype)]
    category = np.where(target >= 0, cat["category"][np.maximum(target, 0)], planned_cat)
    # the session each extra session follows up (row in the combined table before sorting)
    follows = np.r_[np.full(len(s_user), NONE), src_r, buy_from[chosen]]
    order = np.lexsort((desired, user))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    user, desired, intent, target, category = (
        user[order],
        desired[order],
        intent[order],
        target[order],
        category[order],
    )
    follows = np.where(follows[order] >= 0, rank[np.maximum(follows[order], 0)], NONE)
    n_sessions = len(user)
    _avoid_later_purchase(user, desired, intent, target, cat)

    flipped = np.isin(intent, (RESEARCH, RETURN_LATER)) & (rng.random(n_sessions) < params.order_flip_rate)
    layout_intent = np.where(flipped, RESEARCH + RETURN_LATER - intent, intent)
    counts = _block_counts(rng, layout_intent)
    e_session, role, _ = expand_blocks(_LAYOUT[layout_intent], counts)
    n = len(e_session)

    # --- event fields ---------------------------------------------------------------------------
    item_index = np.full(n, NONE, dtype=np.int64)
    on_target = _ROLE_ON_TARGET[role]
    item_index[on_target] = target[e_session[on_target]]
    browsing = np.flatnonzero(role == R_VIEW)  # mostly the session's category, some strays
    browse_cat = category[e_session[browsing]]
    stray = rng.random(len(browsing)) >= 0.85
    browse_cat[stray] = rng.choice(n_cat, int(stray.sum()), p=cat["cat_pop"])
    item_index[browsing] = item_sampler.draw(rng, browse_cat)
    other = np.flatnonzero(role == R_REVIEW_OTHER)
    item_index[other] = item_sampler.draw(rng, category[e_session[other]])
    has_dwell = _ROLE_HAS_DWELL[role]
    n_dwell = int(has_dwell.sum())
    dwell = np.full(n, np.nan)
    dwell[has_dwell] = np.round(lognormal(rng, 25.0, 0.9, n_dwell, 1.5, 900.0), 1)
    # the next event comes after the page is read and a moment of thought, or a click's delay
    gap_ms = np.empty(n, dtype=np.int64)
    gap_ms[has_dwell] = ((dwell[has_dwell] + lognormal(rng, 6.0, 0.7, n_dwell, 1.0, 240.0)) * 1000.0).astype(
        np.int64
    )
    gap_ms[~has_dwell] = (lognormal(rng, 10.0, 0.6, n - n_dwell, 1.0, 240.0) * 1000.0).astype(np.int64)
    offset = segment_cumsum(gap_ms, e_session)
    duration = offset[last_of_each(e_session, n_sessions)]
    start = place_sessions(user, desired, duration, SESSION_GAP_MS)
    ts = start[e_session] + offset

    session_device = np.where(
        rng.random(n_sessions) < 0.85, device[user], rng.choice(len(DEVICES), n_sessions)
    )
    safe_item = np.maximum(item_index, 0)
    events = RawEvents(
        user=user[e_session] + 1,
        ts=ts,
        session=e_session + 1,
        action=Coded(_ROLE_ACTION[role], RAW_ACTIONS),
        item=np.where(item_index >= 0, cat["item_id"][safe_item], NONE),
        category=Coded(
            np.where(item_index >= 0, cat["category"][safe_item], NONE), [c[0] for c in CATEGORIES]
        ),
        dwell=dwell,
        amount=np.where((role == R_CART) | (role == R_BUY), cat["price"][safe_item], np.nan),
        device=Coded(session_device[e_session], DEVICES),
        payee=no_values(n),
        location=no_values(n),
        text=Coded(np.where(role == R_SEARCH, category[e_session], NONE), [c[1] for c in CATEGORIES]),
    )
    sessions = _Sessions(user, intent, target, category, follows, flipped)
    events.truth = _truth(events, cat, e_session, role, sessions, calendar, fav1, fav2, device)

    def draw_misclick(r: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = item_sampler.draw(r, r.choice(n_cat, k, p=cat["cat_pop"]))
        return cat["item_id"][index], cat["category"][index].astype(np.int32)

    noise = NoiseSpec(params.misclick_rate, params.duplicate_rate, misclick_action=RAW_ACTIONS.index("pv"))
    return ScenarioDraw(events, noise, misclick_after=_ROLE_HAS_DWELL[role], draw_item=draw_misclick)


def _avoid_later_purchase(
    user: np.ndarray, desired: np.ndarray, intent: np.ndarray, target: np.ndarray, cat: dict[str, np.ndarray]
) -> None:
    """Move research targets the same user happens to buy later to a neighbour item (in place).

    "Research then leave" promises the carted item is never bought afterwards; a later buy_now of
    the same popular item would break it.
    """
    n_items = len(cat["category"])
    lo = np.searchsorted(cat["category"], cat["category"], side="left")
    hi = np.searchsorted(cat["category"], cat["category"], side="right")
    buys = np.flatnonzero(np.isin(intent, (BUY_NOW, RETURN_PURCHASE, COMPLEMENT)))
    buy_key = user[buys] * n_items + target[buys]
    by_key = np.lexsort((desired[buys], buy_key))
    buy_key, buy_time = buy_key[by_key], desired[buys][by_key]
    research = np.flatnonzero(intent == RESEARCH)
    for _ in range(10):
        key = user[research] * n_items + target[research]
        last = np.searchsorted(buy_key, key, side="right") - 1  # the latest buy of that user and item
        found = (last >= 0) & (buy_key[np.maximum(last, 0)] == key)
        conflict = found & (buy_time[np.maximum(last, 0)] > desired[research])
        if not conflict.any():
            return
        moved = target[research[conflict]] + 1
        target[research[conflict]] = np.where(moved < hi[moved - 1], moved, lo[moved - 1])


@dataclass(frozen=True)
class _Sessions:
    user: np.ndarray  # 0-based user index
    intent: np.ndarray
    target: np.ndarray  # catalogue index of the target item, NONE for browse
    category: np.ndarray
    follows: np.ndarray  # the session this one follows up (return, complement), NONE otherwise
    flipped: np.ndarray


_SIGNALS = ("research_then_leave", "return_later", "complement")
_SIGNAL_ROLES = ("cart", "review", "return_buy", "trigger_buy", "complement_view", "complement_buy")


def _truth(
    events: RawEvents,
    cat: dict[str, np.ndarray],
    e_session: np.ndarray,
    role: np.ndarray,
    s: _Sessions,
    calendar: Calendar,
    fav1: np.ndarray,
    fav2: np.ndarray,
    device: np.ndarray,
) -> dict[str, pa.Table]:
    n_sessions = len(s.user)
    first = np.searchsorted(e_session, np.arange(n_sessions), side="left")
    last = np.searchsorted(e_session, np.arange(n_sessions), side="right") - 1
    follow_up = np.full(n_sessions, NONE, dtype=np.int64)
    has = s.follows >= 0
    follow_up[s.follows[has]] = np.flatnonzero(has)
    planted = np.isin(s.intent, (RESEARCH, RETURN_LATER))
    cat_names = [c[0] for c in CATEGORIES]
    sessions = pa.table(
        {
            T.SESSION: np.arange(1, n_sessions + 1, dtype=np.int64),
            T.USER: s.user + 1,
            T.LABEL: strings(s.intent, INTENTS),
            T.POSITIVE: pa.array(s.intent == RETURN_LATER, mask=~planted),
            T.START: events.ts[first],
            T.END: events.ts[last],
            T.FIRST_EVENT_ID: first.astype(np.int64),
            T.LAST_EVENT_ID: last.astype(np.int64),
            T.N_EVENTS: (last - first + 1).astype(np.int64),
            T.CATEGORY: strings(s.category, cat_names),
            "target_item": pa.array(cat["item_id"][np.maximum(s.target, 0)], mask=s.target < 0),
            "local_weekday": calendar.weekday(calendar.local_day(events.ts[first])).astype(np.int8),
            "local_hour": calendar.local_hour(events.ts[first]).astype(np.int8),
            "order_flipped": s.flipped,
            "follow_up_session_id": pa.array(follow_up + 1, mask=follow_up < 0),
        }
    )

    # causing events: the cart and reviews of research / return sessions, the weekend buy of a
    # return (instance: its cart session), and the trigger buy, view and buy of a complement
    cue = np.flatnonzero(planted[e_session] & np.isin(role, (R_CART, R_REVIEW_TARGET)))
    cue_signal = np.where(s.intent[e_session[cue]] == RETURN_LATER, 1, 0)
    cue_role = np.where(role[cue] == R_CART, 0, 1)
    ret = np.flatnonzero(s.intent == RETURN_PURCHASE)
    comp = np.flatnonzero(s.intent == COMPLEMENT)
    k = len(comp)
    comp_events = np.r_[
        _first_with_role(role, first, s.follows[comp], R_BUY),
        _first_with_role(role, first, comp, R_VIEW_TARGET),
        last[comp],
    ]
    event = np.r_[cue, last[ret], comp_events]
    signals = signal_table(
        np.r_[cue_signal, np.full(len(ret), 1), np.full(3 * k, 2)],
        _SIGNALS,
        np.r_[e_session[cue], s.follows[ret], np.tile(comp, 3)] + 1,
        event,
        np.r_[cue_role, np.full(len(ret), 2), np.repeat([3, 4, 5], k)],
        _SIGNAL_ROLES,
        events.user[event],
    )

    item_cat = cat["category"]
    items = pa.table(
        {
            T.ITEM: cat["item_id"],
            T.CATEGORY: strings(item_cat, cat_names),
            "price": cat["price"],
            "popularity": cat["weight"],
        }
    ).sort_by(T.ITEM)
    src_items = np.flatnonzero(cat["complement"] >= 0)
    complements = pa.table(
        {
            "source_item": cat["item_id"][src_items],
            "source_category": strings(item_cat[src_items], cat_names),
            "target_item": cat["item_id"][cat["complement"][src_items]],
            "target_category": strings(item_cat[cat["complement"][src_items]], cat_names),
        }
    ).sort_by("source_item")
    n_users = len(fav1)
    users = pa.table(
        {
            T.USER: np.arange(1, n_users + 1, dtype=np.int64),
            "favourite_category": strings(fav1, cat_names),
            "second_category": strings(fav2, cat_names),
            "device": strings(device, DEVICES),
            "n_sessions": np.bincount(s.user, minlength=n_users).astype(np.int64),
        }
    )
    return {
        "sessions": sessions,
        "signals": signals,
        "items": items,
        "complements": complements,
        "users": users,
    }


def _first_with_role(role: np.ndarray, first: np.ndarray, sessions: np.ndarray, wanted: int) -> np.ndarray:
    """The first event of each of ``sessions`` that has role ``wanted`` (every such session has one)."""
    having = np.flatnonzero(role == wanted)
    return having[np.searchsorted(having, first[sessions])]
