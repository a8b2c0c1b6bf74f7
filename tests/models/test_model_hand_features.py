"""Hand-made features of a cut match a hand computation; tabular baselines tune on validation."""

import math

import numpy as np
import pytest

from seqintent.models import EventTokens
from seqintent.models.hand_features import hand_features
from seqintent.models.tabular import TabularBaseline
from tests.dataset_builders import build_dataset

T0 = 1_700_000_000_000  # Tuesday 2023-11-14 22:13:20 UTC
S, H = 1000, 3_600_000


@pytest.fixture
def features(tmp_path):
    rows = [  # time, action, item, category, dwell
        (0, "view", "i1", "c1", 10.0),
        (60 * S, "view", "i2", "c1", 2.0),
        (120 * S, "cart", "i2", "c1", 5.0),
        (2 * H, "view", "i3", "c2", 30.0),  # a new session (2 h later)
        (26 * H, "buy", "i2", "c1", 20.0),  # and another, a day later
    ]
    ds = build_dataset(
        tmp_path / "ds",
        user=["a"] * len(rows),
        ts_ms=[T0 + r[0] for r in rows],
        action=[r[1] for r in rows],
        item=[r[2] for r in rows],
        category=[r[3] for r in rows],
        dwell_s=[r[4] for r in rows],
    )
    X, names = hand_features(ds, EventTokens.from_dataset(ds), np.array([3, 4]))
    return [dict(zip(names, x.tolist(), strict=True)) for x in X]


def test_features_of_a_cut_by_hand(features):
    f = features[0]  # the history up to the view at 2 h
    expected = {
        "log_events": math.log1p(4),
        "log_sessions": math.log1p(2),
        "log_span_s": math.log1p(7200),
        "events_per_day": math.log1p(4 / (7200 / 86400 + 1)),
        "log_since_previous_s": math.log1p(7200 - 120),
        "log_session_events": math.log1p(1),
        "log_session_s": 0.0,
        "log_count_view": math.log1p(3),
        "share_view": 0.75,
        "log_count_cart": math.log1p(1),
        "log_count_buy": 0.0,
        "log_day_count_view": math.log1p(3),
        "log_session_count_view": math.log1p(1),
        "log_since_convert_s": math.log1p(7200 - 120),
        "log_converts": math.log1p(1),
        "log_mean_dwell": math.log1p(47 / 4),
        "log_last_dwell": math.log1p(30),
        "log_max_dwell": math.log1p(30),
        "fast_skip_share": 0.25,
        "log_categories": math.log1p(2),
        "top_category_share": 0.75,
        "category_entropy": -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)),
        "last_category_share": 0.25,
        "distinct_item_share": 0.75,
        "log_last_item_repeats": 0.0,
        "hour": 1.0,  # 00:13 UTC, 1-based
        "weekday": 3.0,  # Wednesday, Monday = 1
    }
    for name, value in expected.items():
        assert f[name] == pytest.approx(value, rel=1e-5), name


def test_the_last_day_window_excludes_an_event_exactly_a_day_old(features):
    f = features[1]  # the buy at 26 h: the view at 2 h is exactly 24 h before
    assert f["log_day_count_buy"] == pytest.approx(math.log1p(1))
    assert f["log_day_count_view"] == 0.0
    assert f["log_sessions"] == pytest.approx(math.log1p(3))
    assert f["log_last_item_repeats"] == pytest.approx(math.log1p(2))  # i2 twice before


def test_baselines_choose_their_settings_on_validation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=3000) > 0).astype(float)
    fit, valid, test = slice(0, 2000), slice(2000, 2500), slice(2500, None)
    for kind in ("lightgbm", "logreg"):
        model = TabularBaseline(kind).fit(X[fit], y[fit], X[valid], y[valid])
        p = model.predict_proba(X[test])
        assert ((p > 0.5) == y[test]).mean() > 0.8
        assert model.params_ in (
            [{"C": c} for c in (0.01, 0.1, 1.0)]
            if kind == "logreg"
            else [
                {"num_leaves": a, "min_data_in_leaf": b, "lambda_l2": c}
                for a in (7, 31)
                for b in (50, 500)
                for c in (0.0, 10.0)
            ]
        )
    classes = TabularBaseline("logreg", n_classes=5).fit(
        X[fit], (X[fit, 0] > 0) + 2, X[valid], (X[valid, 0] > 0) + 2
    )
    p = classes.predict_proba(X[test])
    assert p.shape == (500, 5) and np.allclose(p.sum(1), 1) and (p[:, [0, 1, 4]] == 0).all()
