import math

import numpy as np
import pytest

from seqintent.anomaly import ProfileConfig, ProfileStore, RiskConfig, deviation_features
from tests.anomaly.anomaly_fixtures import D, H, habitual_history, takeover


def test_deviations_of_a_takeover_against_a_habitual_profile():
    store = ProfileStore().update(habitual_history())
    table = deviation_features(store, takeover()).to_pylist()
    login, _balance, transfer, _delete = table
    assert [r["new_device"] for r in table] == [True] * 4
    assert [r["new_payee"] for r in table] == [False, False, True, False]
    assert [r["new_location"] for r in table] == [False] * 4
    assert [r["unusual_hour"] for r in table] == [True] * 4
    assert login["history"] == 60 and login["device_share"] == 0.0
    # amounts 100..129: median 114.5, MAD 7.5
    assert transfer["user_median"] == 114.5 and transfer["user_mad"] == 7.5
    assert transfer["amount_ratio"] == pytest.approx(4000 / 114.5)
    assert transfer["amount_z"] == pytest.approx((4000 - 114.5) / (1.4826 * 7.5))
    assert transfer["over_p99"] is True
    assert math.isnan(login["amount_ratio"]) and login["over_p99"] is False
    # usual hour bin 09:00–10:00 has its centre at 09:30; the login is at 02:00
    assert login["hour_distance_h"] == pytest.approx(7.5)


def test_rows_come_back_in_input_order():
    store = ProfileStore().update(habitual_history())
    events = list(reversed(takeover()))
    table = deviation_features(store, events)
    assert table.column("row").to_pylist() == [0, 1, 2, 3]
    assert table.column("action").to_pylist() == ["delete_record", "transfer", "query_balance", "login"]


def test_little_history_flags_nothing_as_new_or_unusual():
    store = ProfileStore(ProfileConfig(min_history=100)).update(habitual_history())  # 60 events
    table = deviation_features(store, takeover())
    for name in ("new_device", "new_payee", "unusual_hour"):
        assert not any(table.column(name).to_pylist()), name
    assert np.isnan(table.column("hour_prob").to_numpy()).all()
    # amount statistics need min_amounts only
    assert table.column("over_p99").to_pylist() == [False, False, True, False]


def test_unknown_user_has_no_history():
    store = ProfileStore().update(habitual_history())
    table = deviation_features(store, [{"user_id": "zed", "ts": 2 * H, "action": "login", "device": "x"}])
    row = table.to_pylist()[0]
    assert row["history"] == 0 and row["new_device"] is False and math.isnan(row["user_p99"])


def test_unusual_hour_threshold_comes_from_the_risk_config():
    store = ProfileStore().update(habitual_history())
    late = [{"user_id": "ann", "ts": 50 * D + 11 * H, "action": "login", "device": "phone"}]  # 2 h off
    prob = deviation_features(store, late).column("hour_prob")[0].as_py()
    assert 0 < prob < 0.2
    strict = RiskConfig(unusual_hour_prob=prob + 1e-9)
    assert deviation_features(store, late, risk=strict).column("unusual_hour")[0].as_py() is True
    assert deviation_features(store, late).column("unusual_hour")[0].as_py() is False


def test_session_features_on_a_hand_written_session():
    from seqintent.anomaly._events import build_frame
    from seqintent.anomaly.features import SESSION_FEATURES, session_features

    s = 1000
    events = [
        {"user_id": "u", "ts": 8 * H, "action": "view", "item_id": "a", "category": "c1"},
        {"user_id": "u", "ts": 8 * H + 10 * s, "action": "cart", "item_id": "a", "category": "c1"},
        {
            "user_id": "u",
            "ts": 8 * H + 12 * s,
            "action": "buy",
            "item_id": "b",
            "category": "c2",
            "amount": 30.0,
        },
        {"user_id": "u", "ts": 8 * H + 70 * s, "action": "view", "item_id": "a", "category": "c1"},
    ]
    units, matrix = session_features(build_frame(events))
    row = dict(zip(SESSION_FEATURES, matrix[0], strict=True))
    assert units == ["u/0"]
    assert (
        row["n_events"] == 4
        and row["duration_s"] == 70
        and row["events_per_min"] == pytest.approx(4 / (70 / 60))
    )
    assert (row["min_gap_s"], row["median_gap_s"]) == (2, 10)
    assert (row["distinct_items"], row["distinct_item_share"], row["distinct_categories"]) == (2, 0.5, 2)
    assert (row["start_hour"], row["max_amount"], row["converts_without_view"]) == (
        8,
        30,
        1,
    )  # b bought unseen
    assert (row["share_browse"], row["share_convert"], row["share_payment"]) == (0.5, 0.5, 0)


def test_first_touch_is_the_first_event_with_an_item_beyond_the_profile():
    store = ProfileStore().update(habitual_history())  # items: mum, rent
    events = [
        {"user_id": "ann", "ts": 50 * D + 9 * H, "action": "view", "item_id": "shoes"},
        {"user_id": "ann", "ts": 50 * D + 9 * H + 1, "action": "buy", "item_id": "shoes"},
        {"user_id": "ann", "ts": 50 * D + 9 * H + 2, "action": "buy", "item_id": "hat"},
        {"user_id": "ann", "ts": 50 * D + 9 * H + 3, "action": "transfer", "item_id": "mum", "amount": 100.0},
    ]
    assert deviation_features(store, events).column("first_touch").to_pylist() == [True, False, True, False]
