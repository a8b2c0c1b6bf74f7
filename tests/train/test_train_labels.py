"""Labels cut from a hand-built log match what a person reads off it: horizons, sessions, censoring."""

from __future__ import annotations

import numpy as np
import pytest

from seqintent.errors import ConfigError
from seqintent.models import EventTokens
from seqintent.models.intent_config import LabelSpec, ProtocolConfig, parse_horizon
from seqintent.schema.columns import Splits, Vocabularies
from seqintent.train.labels import compute_labels, default_labels, plan_cuts
from tests.dataset_builders import build_dataset

T0 = 1_700_000_000_000
H = 3_600_000
NAN = np.nan

# user u1: a session of view/cart/view, a buy 1.3 h later, a day later view + buy again, then silence
# user u2: a view and a favourite at the same instant, views 50 h and 120 h later (the log's end)
LOG = [
    ("u1", 0.0, "view", "a"),
    ("u1", 0.1, "cart", "a"),
    ("u1", 0.2, "view", "b"),
    ("u1", 1.5, "buy", "a"),
    ("u1", 30.0, "view", "c"),
    ("u1", 30.1, "buy", "a"),
    ("u1", 100.0, "view", "d"),
    ("u2", 0.0, "view", "x"),
    ("u2", 0.0, "fav", "x"),
    ("u2", 50.0, "view", "y"),
    ("u2", 120.0, "view", "z"),
]
SPECS = [
    LabelSpec(name="next_action", kind="next_action"),
    LabelSpec(name="next_family", kind="next_family"),
    LabelSpec(name="purchase_session", kind="within", families=["convert"], horizon="session"),
    LabelSpec(name="purchase_24h", kind="within", families=["convert"], horizon="24h"),
    LabelSpec(name="churn_2d", kind="churn", horizon="2d"),
    LabelSpec(name="repurchase_2d", kind="repurchase", horizon="2d"),
    LabelSpec(name="buy_30h", kind="within", actions=["buy"], horizon=30 * 3600),
]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels") / "ds"
    ds = build_dataset(
        folder,
        user=[r[0] for r in LOG],
        item=[r[3] for r in LOG],
        action=[r[2] for r in LOG],
        ts_ms=[T0 + int(r[1] * H) for r in LOG],
    )
    tokens = EventTokens.from_dataset(ds)
    plan = plan_cuts(
        ds, tokens, ProtocolConfig(test_start=T0 / 1000 + 60 * 3600), longest_horizon_s=2 * 86400
    )
    return ds, tokens, plan, compute_labels(ds, tokens, SPECS, plan)


def test_cuts_never_split_an_instant_and_the_test_period_tests(labelled):
    _, _, plan, _ = labelled
    assert plan.is_cut.tolist() == [True] * 7 + [False] + [True] * 3
    assert plan.protocol == "time"
    test = plan.split == Splits.TEST
    assert np.flatnonzero(test).tolist() == [6, 10]  # the cuts at or after 60 h
    assert plan.split[7] == -1
    assert np.isin(plan.split[[0, 1, 2, 3, 4, 5, 8, 9]], [Splits.TRAIN, Splits.VALID]).all()
    # pre-test cuts look up to the test start, test cuts to the log's end
    assert plan.look_until[0] == T0 / 1000 + 60 * 3600
    assert plan.look_until[6] == T0 / 1000 + 120 * 3600


def test_yes_no_labels_by_hand(labelled):
    _, _, _, labels = labelled
    expected = {
        # e0   e1   e2   e3   e4   e5   e6   e7   e8   e9   e10
        "purchase_24h": [
            1,
            1,
            1,
            0,
            1,
            0,
            NAN,
            NAN,
            0,
            NAN,
            NAN,
        ],  # e6: 124 h > log end; e9: 74 h > test start
        "purchase_session": [1, 0, 0, 0, 1, 0, 0, NAN, 0, 0, NAN],  # e10: its session may go on past the end
        "churn_2d": [
            0,
            0,
            0,
            0,
            NAN,
            NAN,
            NAN,
            NAN,
            1,
            NAN,
            NAN,
        ],  # e4, e5: 78 h > test start; e8: quiet 50 h
        "repurchase_2d": [NAN, NAN, NAN, 1, NAN, NAN, NAN, NAN, NAN, NAN, NAN],  # only after a first buy
        "buy_30h": [1, 1, 1, 1, 1, NAN, NAN, NAN, 0, NAN, NAN],  # e3: the buy 28.6 h later; e5: 60.1 h > 60 h
    }
    for name, values in expected.items():
        np.testing.assert_array_equal(labels.values[name], np.array(values, dtype=np.float32), err_msg=name)


def test_next_action_and_family_by_hand(labelled):
    ds, _, _, labels = labelled
    actions = ds.vocab(Vocabularies.ACTIONS)
    v, c, b = (actions.index_of(a) for a in ("view", "cart", "buy"))
    # e5: the next event (100 h) lies beyond the test start; e9: beyond it too; e6, e10: no next event
    assert labels.values["next_action"].tolist() == [c, v, b, v, b, -1, -1, -1, v, -1, -1]
    browse, convert = 1, 3  # family codes: FAMILIES order + 1
    assert labels.values["next_family"].tolist() == [
        convert, browse, convert, browse, convert, -1, -1, -1, browse, -1, -1,
    ]  # fmt: skip


def test_next_exposure_outcome(tmp_path):
    # one exposure row becomes expose + its flags at one instant (as the KuaiRand preset writes it)
    rows = [
        (0, "expose", "v1"),
        (0, "long_view", "v1"),
        (10, "expose", "v2"),
        (20, "expose", "v3"),
        (20, "like", "v3"),
        (30, "expose", "v4"),
    ]
    ds = build_dataset(
        tmp_path / "ds",
        user=["u"] * len(rows),
        item=[r[2] for r in rows],
        action=[r[1] for r in rows],
        ts_ms=[T0 + r[0] * 1000 for r in rows],
    )
    tokens = EventTokens.from_dataset(ds)
    plan = plan_cuts(ds, tokens, ProtocolConfig(test_start=T0 / 1000 + 0.5), longest_horizon_s=None)
    specs = [
        LabelSpec(name="next_long_view", kind="next_outcome", anchor=["expose"], actions=["long_view"]),
        LabelSpec(name="next_like", kind="next_outcome", anchor=["expose"], actions=["like"]),
    ]
    labels = compute_labels(ds, tokens, specs, plan)
    # cuts after events 1 (t=0: may look only up to the test start at 0.5 s, so unknown), 2 (t=10),
    # 4 (t=20) and 5 (t=30: no exposure follows)
    np.testing.assert_array_equal(labels.values["next_long_view"], [NAN, NAN, 0, NAN, 0, NAN])
    np.testing.assert_array_equal(labels.values["next_like"], [NAN, NAN, 1, NAN, 0, NAN])


def test_without_time_the_split_of_the_next_event_decides(tmp_path):
    ds = build_dataset(
        tmp_path / "ds", user=["u"] * 5, item=list("abcde"), action=["view", "cart", "view", "buy", "view"]
    )
    tokens = EventTokens.from_dataset(ds)
    plan = plan_cuts(ds, tokens, ProtocolConfig(), longest_horizon_s=None)
    # leave-one-out: event 3 validates, event 4 tests -> the cuts before them
    assert plan.split.tolist() == [Splits.TRAIN, Splits.TRAIN, Splits.VALID, Splits.TEST, -1]
    labels = compute_labels(ds, tokens, [SPECS[0]], plan)
    actions = ds.vocab(Vocabularies.ACTIONS)
    assert labels.values["next_action"].tolist() == [
        actions.index_of(a) for a in ("cart", "view", "buy", "view")
    ] + [-1]
    with pytest.raises(ConfigError, match=r"'churn_2d' \(churn\) needs timestamps"):
        compute_labels(ds, tokens, [SPECS[4]], plan)
    assert [s.name for s in default_labels(ds)] == ["next_action", "next_family"]


def test_defaults_follow_what_the_log_has(labelled):
    ds, *_ = labelled
    names = [s.name for s in default_labels(ds)]
    # a 5-day log: 2- and 3-day horizons do not fit in it three times
    assert names == ["next_action", "next_family", "purchase_session", "purchase_24h"]


def test_horizons_and_bad_specs():
    assert parse_horizon("90m") == 5400.0
    assert parse_horizon("1.5h") == 5400.0
    with pytest.raises(ConfigError, match="not a horizon"):
        parse_horizon("soon")
    with pytest.raises(ValueError, match="'buy_soon' of kind 'within' needs a horizon"):
        LabelSpec(name="buy_soon", kind="within", actions=["buy"])
    with pytest.raises(ValueError, match="'purchase' is not a canonical action"):
        LabelSpec(name="p", kind="within", actions=["purchase"], horizon="1d")


def test_a_log_too_short_for_the_horizon_is_refused(labelled):
    ds, tokens, *_ = labelled
    with pytest.raises(ConfigError, match="too short for the longest horizon"):
        plan_cuts(ds, tokens, ProtocolConfig(), longest_horizon_s=7 * 86400)
