"""The planted signals need order: bags of events do not find them, a rule that reads order does.

Bag models are scored out of fold (5-fold cross-validation); the order-aware rules are written
from the construction in each scenario's docstring and need no fitting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from seqintent.simulate.rules import content_pair_order

BAG_CEILING = 0.75  # what a bag-of-events model may reach on a planted label
RULE_FLOOR = 0.95  # what the order-aware rule must reach


def out_of_fold_auc(model, features: pd.DataFrame, label: np.ndarray) -> float:
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    score = cross_val_predict(model, features.to_numpy(float), label, cv=folds, method="predict_proba")[:, 1]
    return roc_auc_score(label, score)


def logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def boosted():
    return GradientBoostingClassifier(n_estimators=60, max_depth=3, random_state=0)


def local_time(ms: pd.Series) -> pd.Series:
    return pd.to_datetime(ms, unit="ms", utc=True).dt.tz_convert("Europe/Berlin")


def bag_features(sim, sessions: pd.Index) -> pd.DataFrame:
    """What a bag-of-events model of a session sees: counts, dwell and amount statistics, duration,
    time since the last cart or buy, hour and weekday."""
    ev = sim.clean[sim.clean["session_id"].isin(sessions)]
    by = ev.groupby("session_id")
    start, end = by["ts"].min(), by["ts"].max()
    last_convert = ev["ts"].where(ev["action"].isin(["cart", "buy"])).groupby(ev["session_id"]).max()
    when = local_time(start)
    features = pd.DataFrame(
        {
            "n": by.size(),
            "dwell_mean": by["dwell_s"].mean(),
            "dwell_std": by["dwell_s"].std(),
            "dwell_min": by["dwell_s"].min(),
            "dwell_max": by["dwell_s"].max(),
            "short_dwell": ev["dwell_s"].lt(3).groupby(ev["session_id"]).sum(),
            "duration_s": (end - start) / 1000,
            "since_convert_s": (end - last_convert.fillna(start)) / 1000,
            "amount_max": by["amount"].max(),
            "hour": when.dt.hour,
            "weekday": when.dt.day_of_week,
        }
    )
    counts = sim.action_counts().add_prefix("count_")
    return features.join(counts).loc[sessions].fillna(0.0)


# --- ecommerce: reviews of the carted item before the cart (leave) or after it (return) ------


def reviews_after_cart(sim) -> pd.Series:
    """Per session: 1 when the carted item's reviews come after its (last) cart."""
    ev = sim.clean.assign(pos=sim.clean.groupby("session_id").cumcount())
    carts = ev[ev["action"] == "cart"].groupby("session_id").last()[["pos", "item_id"]]
    reviews = ev[ev["action"] == "review"].merge(
        carts.add_suffix("_cart"), left_on="session_id", right_index=True
    )
    after = (reviews["pos"] > reviews["pos_cart"]) & (reviews["item_id"] == reviews["item_id_cart"])
    return after.groupby(reviews["session_id"]).any().reindex(carts.index, fill_value=False).astype(int)


def test_ecommerce_return_later_is_invisible_to_counts(ecommerce):
    planted = ecommerce.labelled()
    label = planted["positive"].astype(int).to_numpy()
    assert 150 < label.sum() < len(label) - 150  # both classes well represented
    counts = ecommerce.action_counts().loc[planted.index]
    assert out_of_fold_auc(logreg(), counts, label) <= BAG_CEILING
    assert out_of_fold_auc(boosted(), bag_features(ecommerce, planted.index), label) <= BAG_CEILING


def test_ecommerce_return_later_is_found_by_order(ecommerce):
    planted = ecommerce.labelled()
    label = planted["positive"].astype(int).to_numpy()
    rule = reviews_after_cart(ecommerce).loc[planted.index].to_numpy()
    assert roc_auc_score(label, rule) >= RULE_FLOOR
    # every miss of the rule is a session the truth flags as laid out in the other order
    missed = planted.index[rule != label]
    assert planted.loc[missed, "order_flipped"].all()


# --- content: a liked play, then a skip of its theme, before churn; the other way round otherwise --


def pair_order(sim) -> pd.Series:
    """Per session: liked-then-skipped minus skipped-then-liked neighbouring plays of one theme."""
    return content_pair_order(sim.clean.sort_values(["user_id", "ts"], kind="stable"))


def recency_features(sim, sessions: pd.Index) -> pd.DataFrame:
    """Windows over the newest plays of each session: what recency features of a cut would see."""
    plays = sim.clean[sim.clean["action"] == "play"].sort_values(["session_id", "ts"], kind="stable")
    newest = plays.groupby("session_id").tail(5).groupby("session_id")["dwell_s"]
    last = plays.groupby("session_id")["dwell_s"].last()
    return pd.DataFrame(
        {"dwell_mean_last5": newest.mean(), "dwell_min_last5": newest.min(), "dwell_last": last}
    )


def test_content_churn_is_invisible_to_bags_and_recency(content):
    planted = content.labelled()
    label = planted["positive"].astype(int).to_numpy()
    assert label.sum() >= 60
    counts = content.action_counts().loc[planted.index]
    assert out_of_fold_auc(logreg(), counts, label) <= BAG_CEILING
    bags = bag_features(content, planted.index).join(recency_features(content, planted.index))
    assert out_of_fold_auc(boosted(), bags, label) <= BAG_CEILING


def test_content_churn_is_found_by_order(content):
    planted = content.labelled()
    label = planted["positive"].astype(int).to_numpy()
    rule = pair_order(content).reindex(planted.index, fill_value=0).to_numpy()
    assert roc_auc_score(label, rule) >= RULE_FLOOR
    # laid out the other way round, a session reads as the other class (but for a chance pair of
    # a natural like and a stray skip beside it)
    flipped = planted["order_flipped"].to_numpy()
    reads_as_churn = rule[flipped] > 0
    assert flipped.sum() >= 10
    assert np.mean(reads_as_churn == (label[flipped] == 0)) >= 0.8


# --- finance: takeover = balance → new payee → large transfer → delete; lookalike reorders it --


def takeover_order(sim) -> pd.Series:
    """Per session: 1 when a balance query precedes the (last) transfer and a delete follows it."""
    ev = sim.clean.assign(pos=sim.clean.groupby("session_id").cumcount())
    at = {
        a: ev["pos"].where(ev["action"] == a).groupby(ev["session_id"])
        for a in ("transfer", "balance", "delete_record")
    }
    paid = at["transfer"].max()
    return ((at["balance"].min() < paid) & (at["delete_record"].max() > paid)).astype(int)


def unusual_flags(sim, sessions: pd.Index) -> pd.DataFrame:
    """Bag-of-events flags a habit profile gives: new device, night, away from home, new payee, size."""
    users = sim.truth["users"].set_index("user_id")
    login = sim.clean.groupby("session_id").first().loc[sessions]
    habit = users.loc[login["user_id"]].set_index(login.index)
    known = sim.truth["payees"].assign(known=True).set_index(["user_id", "payee"])["known"]
    paid = sim.clean.dropna(subset=["payee"])
    is_new = ~paid.set_index(["user_id", "payee"]).index.isin(known.index)
    new_payee = pd.Series(is_new, index=paid.index).groupby(paid["session_id"]).any()
    amount = sim.clean.groupby("session_id")["amount"].max()
    return pd.DataFrame(
        {
            "new_device": (login["device"] != habit["primary_device"])
            & (login["device"] != habit["second_device"]),
            "night": local_time(login["ts"]).dt.hour < 6,
            "away": login["location"] != habit["home_location"],
            "new_payee": new_payee.reindex(sessions, fill_value=False),
            "amount_ratio": (amount.loc[sessions] / habit["median_amount"]).fillna(0.0),
        }
    ).astype(float)


def test_finance_takeover_and_lookalike_share_every_bag_feature(finance):
    pair = finance.sessions[finance.sessions["label"].isin(["takeover", "lookalike"])]
    label = (pair["label"] == "takeover").astype(int).to_numpy()
    assert label.sum() >= 20 and (1 - label).sum() >= 100
    features = bag_features(finance, pair.index).join(unusual_flags(finance, pair.index))
    assert out_of_fold_auc(logreg(), features, label) <= BAG_CEILING
    assert out_of_fold_auc(boosted(), features, label) <= BAG_CEILING
    assert roc_auc_score(label, takeover_order(finance).reindex(pair.index, fill_value=0)) >= RULE_FLOOR


def test_finance_needs_both_flags_and_order(finance):
    sessions = finance.sessions
    flags = unusual_flags(finance, sessions.index)
    suspicious = (flags["new_device"] > 0) & (flags["night"] > 0) & (flags["new_payee"] > 0)
    truth = sessions["positive"].astype(bool).to_numpy()
    # flags alone: every takeover, but many more benign lookalikes (false positive rate above 1 %)
    assert suspicious[truth].all()
    fpr_flags = suspicious[~truth].mean()
    assert fpr_flags > 0.01
    # order alone: benign sessions that check the balance, pay and tidy up look the same
    order = takeover_order(finance).reindex(sessions.index, fill_value=0).to_numpy(bool)
    assert order[~truth].mean() > 0.005
    # both: every takeover and nothing else
    both = suspicious.to_numpy() & order
    assert both[truth].all()
    assert both[~truth].mean() == pytest.approx(0.0)
