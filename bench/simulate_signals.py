"""Do the simulator's planted signals need order? Bag-of-events baselines vs an order-aware rule.

For each scenario's planted binary label (truth ``sessions.positive``), the history of the user is
cut at the end of the labelled session and described the way issue 4's "traditional" baseline does:
counts per action, recency, frequency, dwell statistics (also over the newest five events), category
shares, time since the last convert, hour and weekday (finance adds habit deviations: new device,
new payee, night, away from home, amount / the user's median so far). LightGBM and logistic
regression on those features (5-fold cross-validation grouped by user) are compared with a rule
written from the construction, which reads order. Target: bag ≤ 0.75 AUC, rule ≥ 0.95 (a sequence
model ≥ 0.9).

    python bench/simulate_signals.py [--users-scale 1.0] [--seed 0]

Prints one JSON object: {scenario: {"n", "positives", "lightgbm_auc", "logreg_auc", "rule_auc"}}.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from seqintent.simulate import DEFAULT_TIMEZONE, generate
from seqintent.simulate.rules import content_pair_order

USERS = {"ecommerce": 3000, "content": 1500, "finance": 3000}


def clean_log(sim) -> pd.DataFrame:
    log = sim.log.to_pandas()
    log = log.drop(index=sim.truth["noise"].column("event_id").to_numpy())
    log = log.sort_values(["user_id", "ts"], kind="stable")
    log["pos"] = log.groupby("session_id").cumcount()
    return log


def history_features(log: pd.DataFrame, cut_event: pd.Index, convert: tuple[str, ...]) -> pd.DataFrame:
    """Hand features of each user's history up to and including ``cut_event`` (a log row)."""
    by_user = log.groupby("user_id", sort=False)
    actions = pd.get_dummies(log["action"], dtype=float)
    f = actions.groupby(log["user_id"]).cumsum().add_prefix("count_")
    f["n_events"] = by_user.cumcount() + 1
    f["n_sessions"] = log["session_id"].ne(by_user["session_id"].shift()).groupby(log["user_id"]).cumsum()
    first_ts = by_user["ts"].transform("min")
    f["tenure_days"] = (log["ts"] - first_ts) / 86_400_000
    f["events_per_day"] = f["n_events"] / (f["tenure_days"] + 1)
    gap = by_user["ts"].diff() / 1000
    f["recency_s"] = gap.fillna(0)
    # idle time before the current session began (the gap at its first event)
    f["since_previous_session_s"] = gap.where(log["pos"] == 0).groupby(log["session_id"]).ffill().fillna(-1)
    dwell = log["dwell_s"].fillna(0.0)
    has = log["dwell_s"].notna().astype(float)
    n_dwell = has.groupby(log["user_id"]).cumsum().clip(lower=1)
    mean = dwell.groupby(log["user_id"]).cumsum() / n_dwell
    f["dwell_mean"] = mean
    f["dwell_std"] = np.sqrt(((dwell**2).groupby(log["user_id"]).cumsum() / n_dwell - mean**2).clip(lower=0))
    f["dwell_max"] = dwell.groupby(log["user_id"]).cummax()
    f["short_dwell"] = (log["dwell_s"] < 3).astype(float).groupby(log["user_id"]).cumsum()
    # recency windows: the newest five events' dwell (a fading session shows there)
    newest = log["dwell_s"].groupby(log["user_id"]).rolling(5, min_periods=1)
    f["dwell_mean_last5"] = newest.mean().reset_index(level=0, drop=True).fillna(0.0)
    f["dwell_min_last5"] = newest.min().reset_index(level=0, drop=True).fillna(0.0)
    f["dwell_last"] = dwell
    by_session = log.groupby("session_id", sort=False)
    f["session_events"] = log["pos"] + 1
    f["session_dwell_mean"] = dwell.groupby(log["session_id"]).cumsum() / has.groupby(
        log["session_id"]
    ).cumsum().clip(lower=1)
    f["session_amount_max"] = by_session["amount"].cummax()
    if log["category"].notna().any():
        cats = pd.get_dummies(log["category"], dtype=float).groupby(log["user_id"]).cumsum()
        f = f.join(cats.div(f["n_events"], axis=0).add_prefix("share_"))
    is_convert = log["action"].isin(convert)
    last_convert = log["ts"].where(is_convert).groupby(log["user_id"]).ffill()
    f["since_convert_s"] = ((log["ts"] - last_convert) / 1000).fillna(-1)
    local = pd.to_datetime(log["ts"], unit="ms", utc=True).dt.tz_convert(DEFAULT_TIMEZONE)
    f["hour"] = local.dt.hour
    f["weekday"] = local.dt.day_of_week
    return f.loc[cut_event].fillna(0.0)


def habit_features(log: pd.DataFrame, cut_event: pd.Index) -> pd.DataFrame:
    """Finance: how the session of each cut deviates from the user's history before it."""
    first = log.groupby("session_id").head(1)
    seen_device = first.groupby(["user_id", "device"]).cumcount() > 0
    seen_location = first.groupby(["user_id", "location"]).cumcount() > 0
    paid = log.dropna(subset=["payee"])
    session_of_first_pay = paid.groupby(["user_id", "payee"])["session_id"].transform("min")
    new_payee = (paid["session_id"] == session_of_first_pay).groupby(paid["session_id"]).any()
    amounts = log.dropna(subset=["amount"])
    log_amount = np.log(amounts["amount"])
    by_user = log_amount.groupby(amounts["user_id"])
    typical_so_far = np.exp((by_user.cumsum() - log_amount) / by_user.cumcount().replace(0, np.nan))
    ratio = (amounts["amount"] / typical_so_far).groupby(amounts["session_id"]).max()
    local = pd.to_datetime(first["ts"], unit="ms", utc=True).dt.tz_convert(DEFAULT_TIMEZONE)
    per_session = pd.DataFrame(
        {
            "new_device": (~seen_device).to_numpy(float),
            "new_location": (~seen_location).to_numpy(float),
            "night": (local.dt.hour < 6).to_numpy(float),
        },
        index=first["session_id"].to_numpy(),
    )
    per_session["new_payee"] = new_payee.reindex(per_session.index, fill_value=False).astype(float)
    per_session["amount_ratio"] = ratio.reindex(per_session.index).fillna(0.0)
    return per_session.loc[log.loc[cut_event, "session_id"].to_numpy()].set_axis(cut_event)


def order_rule(log: pd.DataFrame, scenario: str) -> pd.Series:
    """The rule written from the construction; one score per session."""
    if scenario == "ecommerce":
        carts = (
            log[log["action"] == "cart"].groupby("session_id").last()[["pos", "item_id"]].add_suffix("_cart")
        )
        reviews = log[log["action"] == "review"].merge(carts, left_on="session_id", right_index=True)
        after = (reviews["pos"] > reviews["pos_cart"]) & (reviews["item_id"] == reviews["item_id_cart"])
        return after.groupby(reviews["session_id"]).any().reindex(carts.index, fill_value=False).astype(float)
    if scenario == "content":
        return content_pair_order(log).astype(float)
    at = {
        a: log["pos"].where(log["action"] == a).groupby(log["session_id"])
        for a in ("transfer", "balance", "delete_record")
    }
    paid = at["transfer"].max()
    return ((at["balance"].min() < paid) & (at["delete_record"].max() > paid)).astype(float)


def out_of_fold(model, features: pd.DataFrame, label: np.ndarray, groups: np.ndarray) -> np.ndarray:
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_predict(
        model, features.to_numpy(float), label, cv=folds, groups=groups, method="predict_proba"
    )[:, 1]


def run(scenario: str, n_users: int, seed: int) -> dict[str, object]:
    began = time.perf_counter()
    sim = generate(scenario, n_users, seed)
    log = clean_log(sim)
    sessions = sim.truth["sessions"].to_pandas().set_index("session_id")
    labelled = sessions[sessions["positive"].notna()]
    # the cut: the last clean event of each labelled session
    last_event = log.reset_index().groupby("session_id")["index"].last()
    cut = pd.Index(last_event.loc[labelled.index].to_numpy())
    convert = ("cart", "buy") if scenario == "ecommerce" else ("like", "share", "follow", "transfer")
    features = history_features(log, cut, convert)
    if scenario == "finance":
        features = features.join(habit_features(log, cut))
    label = labelled["positive"].astype(int).to_numpy()
    groups = labelled["user_id"].to_numpy()
    gbm = LGBMClassifier(
        n_estimators=200, learning_rate=0.05, num_leaves=31, verbose=-1, n_jobs=2, random_state=0
    )
    lgb_score = out_of_fold(gbm, features, label, groups)
    lr_score = out_of_fold(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)), features, label, groups
    )
    rule = order_rule(log, scenario).reindex(labelled.index, fill_value=0.0).to_numpy()
    out: dict[str, object] = {
        "users": n_users,
        "n": len(label),
        "positives": int(label.sum()),
        "lightgbm_auc": round(roc_auc_score(label, lgb_score), 4),
        "logreg_auc": round(roc_auc_score(label, lr_score), 4),
        "rule_auc": round(roc_auc_score(label, rule), 4),
    }
    if scenario == "finance":
        hard = labelled["label"].isin(["takeover", "lookalike"]).to_numpy()
        out["takeover_vs_lookalike"] = {
            "n": int(hard.sum()),
            "lightgbm_auc": round(roc_auc_score(label[hard], lgb_score[hard]), 4),
            "rule_auc": round(roc_auc_score(label[hard], rule[hard]), 4),
        }
        flags = features[["new_device", "night", "new_payee"]].all(axis=1).to_numpy() & (rule > 0)
        out["flags_and_order_rule"] = {
            "recall": round(float(flags[label == 1].mean()), 4),
            "false_positive_rate": round(float(flags[label == 0].mean()), 4),
        }
        threshold = np.quantile(lgb_score[label == 1], 0.05)  # 95 % recall
        out["lightgbm_fpr_at_95_recall"] = round(float((lgb_score[label == 0] >= threshold).mean()), 4)
    out["seconds"] = round(time.perf_counter() - began, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users-scale", type=float, default=1.0, help="multiply the default user counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    result = {name: run(name, max(50, int(n * args.users_scale)), args.seed) for name, n in USERS.items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
