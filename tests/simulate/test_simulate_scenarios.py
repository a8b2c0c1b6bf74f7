"""What each scenario promises: log shape, time structure, noise, truth that points at the right events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqintent.schema.columns import SimulatorColumns
from seqintent.simulate._noise import DUPLICATE, MISCLICK
from seqintent.simulate.finance import FOREIGN_CITIES


def local(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms, unit="ms", utc=True).dt.tz_convert("Europe/Berlin")


# --- every scenario ---------------------------------------------------------------------------


def test_log_columns_and_types(any_scenario):
    log = any_scenario.sim.log
    assert tuple(log.column_names) == SimulatorColumns.ALL
    assert str(log.schema.field("user_id").type) == "int64"
    assert str(log.schema.field("ts").type) == "int64"
    assert str(log.schema.field("item_id").type) == "int64"
    assert str(log.schema.field("dwell_s").type) == "double"
    assert str(log.schema.field("action").type) == "string"
    assert (np.diff(any_scenario.log["ts"].to_numpy()) >= 0).all()  # time order over all users


def test_sessions_are_recovered_by_a_30_minute_inactivity_threshold(any_scenario):
    clean = any_scenario.clean.sort_values(["user_id", "ts"], kind="stable")
    gap = clean.groupby("user_id")["ts"].diff()
    assert (gap.dropna() >= 1000).all()  # a user's clean events are at least a second apart
    new_session = gap.isna() | (gap > 1_800_000)
    changed = clean["session_id"].ne(clean.groupby("user_id")["session_id"].shift())
    pd.testing.assert_series_equal(new_session, changed, check_names=False)
    between = gap[changed & gap.notna()]
    assert between.min() >= 45 * 60_000


def test_noise_is_what_the_cleaning_rules_catch(any_scenario):
    log, noise = any_scenario.log, any_scenario.truth["noise"]
    assert any_scenario.sim.counts["events"] == len(log)
    assert any_scenario.sim.counts["clean_events"] == len(any_scenario.clean)
    dup = noise[noise["kind"] == DUPLICATE]
    original = log.loc[dup["of_event_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(log.loc[dup["event_id"]].reset_index(drop=True), original)
    assert (dup["event_id"].to_numpy() > dup["of_event_id"].to_numpy()).all()  # the original comes first
    mis = log.loc[noise.loc[noise["kind"] == MISCLICK, "event_id"]]
    assert (mis["dwell_s"] < 1.0).all()
    # no clean event would be taken for a misclick or a duplicate
    assert not (any_scenario.clean["dwell_s"] < 1.0).any()
    assert not any_scenario.clean.duplicated(["user_id", "ts"]).any()
    assert 0 < len(noise) < 0.05 * len(log)


def test_truth_sessions_point_at_their_events(any_scenario):
    clean = any_scenario.clean
    sessions = any_scenario.sessions
    size = clean.groupby("session_id").size()
    pd.testing.assert_series_equal(sessions["n_events"], size.loc[sessions.index], check_names=False)
    first, last = clean.loc[sessions["first_event_id"]], clean.loc[sessions["last_event_id"]]
    assert (first["session_id"].to_numpy() == sessions.index).all()
    assert (last["session_id"].to_numpy() == sessions.index).all()
    assert (first["user_id"].to_numpy() == sessions["user_id"]).all()
    assert (first["ts"].to_numpy() == sessions["start_ts"]).all()
    assert (last["ts"].to_numpy() == sessions["end_ts"]).all()
    signals = any_scenario.signals
    assert set(signals["event_id"]) <= set(clean.index)  # causes are clean events
    assert (clean.loc[signals["event_id"], "user_id"].to_numpy() == signals["user_id"]).all()


# --- ecommerce ----------------------------------------------------------------------------------


def test_ecommerce_returns_buy_the_carted_item_on_the_weekend(ecommerce):
    s = ecommerce.sessions
    returns = s[s["label"] == "return_later"]
    follow = s.loc[returns["follow_up_session_id"].astype(int)]
    assert (follow["label"] == "return_purchase").all()
    assert (local(follow["start_ts"]).dt.day_of_week >= 5).mean() > 0.97
    assert (local(returns["start_ts"]).dt.day_of_week < 5).mean() > 0.97
    assert ((follow["start_ts"].to_numpy() - returns["end_ts"].to_numpy()) / 86_400_000).max() < 8
    clean = ecommerce.clean
    for sid, item in zip(follow.index, returns["target_item"], strict=True):
        bought = ecommerce.by_session[sid]
        assert ((bought["action"] == "buy") & (bought["item_id"] == item)).sum() == 1
    # who researched and left never buys that item later
    research = s[s["label"] == "research_then_leave"]
    buys = clean[clean["action"] == "buy"]
    later = buys.merge(research[["user_id", "target_item", "end_ts"]], left_on=["user_id", "item_id"],
                       right_on=["user_id", "target_item"])  # fmt: skip
    assert (later["ts"] <= later["end_ts"]).all()


def test_ecommerce_signal_roles_name_the_right_events(ecommerce):
    signals = ecommerce.signals.merge(ecommerce.clean, left_on="event_id", right_index=True)
    target = ecommerce.sessions["target_item"]
    expected_action = {"cart": "cart", "review": "review", "return_buy": "buy", "trigger_buy": "buy",
                       "complement_view": "pv", "complement_buy": "buy"}  # fmt: skip
    assert (signals["action"] == signals["role"].map(expected_action)).all()
    cue = signals[signals["signal"].isin(["return_later", "research_then_leave"])]
    assert (cue["item_id"].to_numpy() == target.loc[cue["instance"]].to_numpy()).all()
    per_session = (
        cue[cue["role"] != "return_buy"].groupby("instance")["role"].value_counts().unstack(fill_value=0)
    )
    assert (per_session["cart"] == 1).all() and per_session["review"].between(1, 3).all()


def test_ecommerce_complements_follow_the_catalogue_pairs(ecommerce):
    signals = ecommerce.signals.merge(ecommerce.clean, left_on="event_id", right_index=True)
    comp = signals[signals["signal"] == "complement"].pivot(
        index="instance", columns="role", values="item_id"
    )
    when = signals[signals["signal"] == "complement"].pivot(index="instance", columns="role", values="ts_y"
                                                            if "ts_y" in signals else "ts")  # fmt: skip
    pairs = ecommerce.truth["complements"].set_index("source_item")["target_item"]
    assert len(comp) > 20
    assert (pairs.loc[comp["trigger_buy"]].to_numpy() == comp["complement_buy"].to_numpy()).all()
    assert (comp["complement_view"] == comp["complement_buy"]).all()
    hours = (when["complement_buy"] - when["trigger_buy"]) / 3_600_000
    assert hours.min() > 1 and hours.max() < 80


def test_ecommerce_marginals(ecommerce):
    views = ecommerce.clean[ecommerce.clean["action"] == "pv"]
    share = views["item_id"].value_counts(normalize=True)
    top = share.iloc[: max(1, len(ecommerce.truth["items"]) // 100)].sum()
    assert top > 0.1  # the top 1 % of the catalogue draws more than 10 % of views
    hours = local(ecommerce.sessions["start_ts"]).dt.hour
    assert hours.between(1, 5).mean() < 0.06 < hours.between(18, 22).mean() / 5
    assert views["dwell_s"].median() == pytest.approx(25, rel=0.2)


# --- content ------------------------------------------------------------------------------------


def test_content_fast_skips_are_the_rejected_theme(content):
    users = content.truth["users"].set_index("user_id")
    skips = content.signals[content.signals["signal"] == "rejected_skip"].merge(
        content.clean, left_on="event_id", right_index=True
    )
    assert skips["dwell_s"].between(1.2, 2.9).all()
    assert (skips["category"].to_numpy() == users.loc[skips["user_id_x"], "rejected_theme"].to_numpy()).all()
    plays = content.clean[content.clean["action"] == "play"]
    long_plays = plays[plays["dwell_s"] >= 3]
    assert not (
        long_plays["category"].to_numpy() == users.loc[long_plays["user_id"], "rejected_theme"].to_numpy()
    ).any()


def test_content_interests_match_what_users_watch(content):
    interests = content.truth["interests"]
    assert np.allclose(interests.groupby("user_id")["share"].sum(), 1.0, atol=1e-3)
    users = content.truth["users"].set_index("user_id")
    top = interests.loc[interests.groupby("user_id")["share"].idxmax()].set_index("user_id")["theme"]
    assert (top == users.loc[top.index, "dominant_theme"]).all()
    plays = content.clean[(content.clean["action"] == "play") & (content.clean["dwell_s"] >= 3)]
    busy = plays.groupby("user_id").size()
    busy = busy[busy >= 100].index
    watched = (
        plays[plays["user_id"].isin(busy)]
        .groupby("user_id")["category"]
        .agg(lambda c: c.value_counts().index[0])
    )
    assert (watched == users.loc[watched.index, "dominant_theme"]).mean() > 0.9


def test_content_cold_start_and_churn(content):
    users = content.truth["users"].set_index("user_id")
    events = content.clean.groupby("user_id").size()
    cold = users[users["cold_start"]].index
    assert len(cold) > 5
    assert (events.loc[cold] <= 5).all() and (users.loc[cold, "n_sessions"] == 1).all()
    s = content.sessions
    churn = s[s["label"] == "churn"]
    assert churn["user_id"].is_unique
    assert churn["is_last"].all()
    assert (users.loc[churn["user_id"], "churned"]).all()
    regular = s[s["label"] != "cold_start"]
    assert (regular["n_plays"] >= 7).all()
    # every regular session holds one planted pair: like first before churn, skip first otherwise
    pairs = content.signals[content.signals["signal"].isin(["fatigue_churn", "fatigue_recovery"])]
    assert pairs.groupby("instance").size().eq(3).all()
    assert set(pairs["instance"]) == set(regular.index)
    events = content.clean.loc[pairs["event_id"]].assign(
        role=pairs["role"].to_numpy(), session=pairs["instance"].to_numpy()
    )
    assert (events["session_id"] == events["session"]).all()
    skips = events[events["role"] == "tired_skip"].set_index("session")
    plays = events[events["role"] == "liked_play"].set_index("session")
    assert (skips["dwell_s"] < 3).all() and (plays["dwell_s"] > 60).all()
    assert (skips["category"] == plays["category"]).all() and (skips["item_id"] != plays["item_id"]).all()
    like_first = plays["ts"] < skips["ts"]
    churned = regular["label"].eq("churn") ^ regular["order_flipped"]
    assert (like_first == churned.loc[like_first.index]).all()


# --- finance ------------------------------------------------------------------------------------


TAKEOVER = ["login", "balance", "add_payee", "transfer", "delete_record", "logout"]
LOOKALIKE = ["login", "delete_record", "add_payee", "transfer", "balance", "logout"]


def test_finance_takeovers_and_lookalikes(finance):
    s = finance.sessions
    users = finance.truth["users"].set_index("user_id")
    known = set(zip(finance.truth["payees"]["user_id"], finance.truth["payees"]["payee"], strict=True))
    by_user = dict(iter(finance.clean.groupby("user_id")))
    for label, order in (("takeover", TAKEOVER), ("lookalike", LOOKALIKE)):
        chosen = s[s["label"] == label]
        assert len(chosen) > 10
        for sid, row in chosen.iterrows():
            ev = finance.by_session[sid]
            assert list(ev["action"]) == order
            mine = by_user[row["user_id"]]
            earlier = mine[mine["ts"] < row["start_ts"]]
            assert ev["device"].iloc[0] not in set(earlier["device"])
            assert (
                local(ev["ts"]).dt.hour.iloc[0] < 6
            )  # night (rarely pushed past 5:00 by an earlier session)
            assert ev["location"].iloc[0] in FOREIGN_CITIES
            payee = ev.loc[ev["action"] == "transfer", "payee"].iloc[0]
            assert (row["user_id"], payee) not in known
            assert ev["amount"].max() >= 10 * users.at[row["user_id"], "median_amount"] * 0.999
    assert users["takeover"].sum() == (s["label"] == "takeover").sum()
    assert (s["positive"] == (s["label"] == "takeover")).all()


def test_finance_habits(finance):
    s = finance.sessions
    users = finance.truth["users"].set_index("user_id")
    normal = s[s["label"] == "normal"]
    hour = local(normal["start_ts"])
    habit = users.loc[normal["user_id"], "habitual_hour"].to_numpy()
    diff = np.abs(hour.dt.hour + hour.dt.minute / 60 - habit)
    assert np.median(diff) < 1.0
    assert (hour.dt.hour < 6).mean() < 0.002  # only a session pushed past midnight by an earlier one
    transfers = finance.clean[finance.clean["action"] == "transfer"]
    normal_transfers = transfers[transfers["session_id"].isin(normal.index)]
    known = finance.truth["payees"][["user_id", "payee"]].assign(known=True)
    merged = normal_transfers.merge(known, on=["user_id", "payee"], how="left")
    assert merged["known"].notna().all()
    # a new phone by day becomes the user's device from then on
    switch = s[s["label"] == "new_device_day"]
    assert len(switch) > 10
    for sid, row in switch.iterrows():
        device = finance.by_session[sid]["device"].iloc[0]
        mine = s[(s["user_id"] == row["user_id"]) & (s["start_ts"] > row["start_ts"])]
        next_switch = mine.loc[mine["label"] == "new_device_day", "start_ts"].min()  # NaN when none
        until = mine[~(mine["start_ts"] >= next_switch) & (mine["label"] == "normal")]
        assert {finance.by_session[k]["device"].iloc[0] for k in until.index} <= {device}
