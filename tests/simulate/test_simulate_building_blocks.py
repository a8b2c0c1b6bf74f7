"""The simulator's shared pieces on tiny hand-written inputs: calendar, placement, samplers, noise."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from seqintent.errors import ConfigError
from seqintent.simulate._clock import HOUR_MS, Calendar, place_sessions
from seqintent.simulate._common import (
    NONE,
    Coded,
    GroupedSampler,
    NoiseSpec,
    RawEvents,
    expand_blocks,
    position_in_segment,
    segment_cumsum,
    zipf_weights,
)
from seqintent.simulate._noise import _stable_time_order, add_noise, log_table


def test_calendar_follows_daylight_saving_changes():
    # 2024-10-27: Berlin goes from UTC+2 to UTC+1 at 03:00 local
    cal = Calendar(dt.date(2024, 10, 26), days=2, timezone="Europe/Berlin")
    noon = np.array([12 * HOUR_MS, 12 * HOUR_MS])
    utc = cal.to_utc_ms(cal.local_ms(np.array([0, 1]), noon))
    expected = [
        int(dt.datetime(2024, 10, 26, 10, tzinfo=dt.UTC).timestamp() * 1000),
        int(dt.datetime(2024, 10, 27, 11, tzinfo=dt.UTC).timestamp() * 1000),
    ]
    assert utc.tolist() == expected
    assert cal.local_hour(utc).tolist() == [12, 12]
    assert cal.local_day(utc).tolist() == [0, 1]
    assert cal.weekday(np.array([0, 1])).tolist() == [5, 6]  # Saturday, Sunday


def test_calendar_refuses_unknown_zone_with_candidates():
    with pytest.raises(ConfigError, match=r"timezone: unknown time zone \(got 'Europe/Berlim'\)") as err:
        Calendar(dt.date(2024, 1, 1), days=1, timezone="Europe/Berlim")
    assert "Europe/Berlin" in err.value.candidates


def test_place_sessions_pushes_overlaps_later_within_a_user_only():
    user = np.array([0, 0, 0, 1, 1])
    desired = np.array([0, 50, 400, 10, 20])
    duration = np.array([100, 100, 10, 5, 5])
    start = place_sessions(user, desired, duration, min_gap=30)
    # user 0: 0-100, then ≥ 130 (pushed), then 400 (free); user 1: 10-15, then ≥ 45
    assert start.tolist() == [0, 130, 400, 10, 45]


def test_segment_helpers():
    assert position_in_segment(np.array([2, 0, 3])).tolist() == [0, 1, 0, 1, 2]
    values = np.array([5, 1, 2, 7, 1])
    assert segment_cumsum(values, np.array([3, 3, 4, 4, 4])).tolist() == [0, 5, 0, 2, 9]
    session, role, position = expand_blocks(
        np.array([[7, 8, 9], [1, 2, 3]]), np.array([[1, 0, 2], [0, 2, 1]])
    )
    assert session.tolist() == [0, 0, 0, 1, 1, 1]
    assert role.tolist() == [7, 9, 9, 2, 2, 3]
    assert position.tolist() == [0, 1, 2, 0, 1, 2]


def test_grouped_sampler_stays_in_group_and_follows_popularity():
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], [3, 2])
    sampler = GroupedSampler(group, np.array([6.0, 3.0, 1.0, 0.0, 5.0]))
    drawn = sampler.draw(rng, np.zeros(20_000, dtype=np.int64))
    shares = np.bincount(drawn, minlength=5) / len(drawn)
    np.testing.assert_allclose(shares[:3], [0.6, 0.3, 0.1], atol=0.015)
    assert set(sampler.draw(rng, np.ones(1000, dtype=np.int64)).tolist()) == {4}  # weight 0 never drawn


def test_zipf_weights_are_a_power_law():
    w = zipf_weights(100, 1.0)
    assert w.sum() == pytest.approx(1.0)
    assert w[0] / w[9] == pytest.approx(10.0)


def test_stable_time_order_equals_a_stable_sort():
    rng = np.random.default_rng(1)
    ts = rng.integers(1_700_000_000_000, 1_700_000_000_050, size=5000)  # many ties
    np.testing.assert_array_equal(_stable_time_order(ts), np.argsort(ts, kind="stable"))


def _tiny_events() -> RawEvents:
    n = 4
    names = ("pv", "buy")
    return RawEvents(
        user=np.array([1, 1, 2, 2]),
        ts=np.array([10_000, 20_000, 5_000, 30_000]),
        session=np.array([1, 1, 2, 2]),
        action=Coded(np.array([0, 1, 0, 0]), names),
        item=np.array([7, 7, NONE, 9]),
        category=Coded(np.array([0, 0, NONE, 0]), ("shoes",)),
        dwell=np.array([12.5, np.nan, 3.0, 4.0]),
        amount=np.array([np.nan, 19.99, np.nan, np.nan]),
        device=Coded(np.zeros(n, dtype=np.int32), ("ios",)),
        payee=Coded(np.full(n, NONE), ()),
        location=Coded(np.full(n, NONE), ()),
        text=Coded(np.full(n, NONE), ()),
        truth={"signals": pa.table({"event_id": [1, 3], "other_event_id": [0, -1], "role": ["a", "b"]})},
    )


def test_noise_free_log_is_sorted_by_time_and_truth_renumbered():
    log, noise, final = add_noise(_tiny_events(), np.random.default_rng(0), NoiseSpec(0.0, 0.0))
    assert noise.num_rows == 0
    assert log.ts.tolist() == [5_000, 10_000, 20_000, 30_000]
    assert final.tolist() == [1, 2, 0, 3]  # clean event i is log row final[i]
    signals = log.truth["signals"]
    assert signals.column("event_id").to_pylist() == [2, 3]
    assert signals.column("other_event_id").to_pylist() == [1, None]
    table = log_table(log)
    assert table.column("action").to_pylist() == ["pv", "pv", "buy", "pv"]
    assert table.column("item_id").to_pylist() == [None, 7, 7, 9]
    assert table.column("payee").null_count == 4


def test_every_event_duplicated_and_misclicked():
    def draw(rng, k):
        return np.full(k, 99), np.zeros(k, dtype=np.int32)

    events = _tiny_events()
    log, noise, final = add_noise(
        events,
        np.random.default_rng(0),
        NoiseSpec(1.0, 1.0, misclick_action=0),
        misclick_after=np.array([True, False, False, True]),
        draw_item=draw,
    )
    table = log_table(log).to_pandas()
    assert len(table) == 4 + 2 + 4
    kinds = noise.to_pandas().set_index("event_id")
    dup = kinds[kinds["kind"] == "duplicate"]
    # a duplicate is the row right after its original, identical in every column
    assert (dup.index == dup["of_event_id"] + 1).all()
    for row, original in zip(dup.index, dup["of_event_id"], strict=True):
        assert table.iloc[row].equals(table.iloc[original])
    mis = kinds[kinds["kind"] == "misclick"]
    assert sorted(mis["of_event_id"]) == sorted(final[[0, 3]].tolist())
    for row, after in zip(mis.index, mis["of_event_id"], strict=True):
        assert table.at[row, "dwell_s"] < 1.0
        assert table.at[row, "item_id"] == 99
        assert table.at[row, "user_id"] == table.at[after, "user_id"]
        assert table.at[row, "session_id"] == table.at[after, "session_id"]
        assert 0 < table.at[row, "ts"] - table.at[after, "ts"] < 10_000
    # clean events, between them, still in time order per user with the truth pointing at them
    assert log.truth["signals"].column("event_id").to_pylist() == final[[1, 3]].tolist()
    assert (np.diff(table["ts"]) >= 0).all()
