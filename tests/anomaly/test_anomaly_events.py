"""Reading canonical events: time zones, sessions, attrs, and errors that name the row."""

import json

import numpy as np
import pyarrow as pa
import pytest

from seqintent.anomaly._events import build_frame, read_events_file
from seqintent.errors import ColumnError, DataError

H = 3_600_000


def test_sorted_per_user_by_time_with_input_rows_kept():
    events = [
        {"user_id": "b", "ts": 5, "action": "view"},
        {"user_id": "a", "ts": 9, "action": "view"},
        {"user_id": "a", "ts": 1, "action": "cart"},
        {"user_id": "a", "ts": 9, "action": "buy"},  # tie: input order
    ]
    frame = build_frame(events)
    assert frame.row.tolist() == [2, 1, 3, 0]
    assert frame.users.tolist() == ["a", "b"] and frame.offsets.tolist() == [0, 3, 4]
    assert frame.action.tolist() == ["cart", "view", "buy", "view"]
    assert frame.family.tolist() == ["convert", "browse", "convert", "browse"]
    assert np.isnan(frame.gap_s[0]) and frame.gap_s[1] == pytest.approx(0.008) and np.isnan(frame.gap_s[3])


def test_iso_times_time_zone_hours_and_weekdays():
    events = [
        {"user_id": "a", "ts": "2024-03-04T01:30:00Z", "action": "login"},  # a Monday
        {"user_id": "a", "ts": "2024-03-04T02:00:00+02:00", "action": "login"},  # 00:00 UTC
    ]
    frame = build_frame(events, timezone="Asia/Shanghai")
    assert frame.hour.tolist() == [8.0, 9.5]
    assert frame.weekday.tolist() == [0, 0]


def test_sessions_from_an_idle_gap_when_the_log_has_none():
    ts = [0, 10 * 60_000, 50 * 60_000, 51 * 60_000]
    frame = build_frame([{"user_id": "a", "ts": t, "action": "view"} for t in ts], session_gap_s=1800)
    assert frame.unit.tolist() == ["a/0", "a/0", "a/1", "a/1"]
    by_user = build_frame([{"user_id": "a", "ts": t, "action": "view"} for t in ts], unit="user")
    assert set(by_user.unit.tolist()) == {"a"}


def test_given_session_ids_win():
    events = [
        {"user_id": "a", "ts": t, "action": "view", "session_id": s}
        for t, s in [(0, "x"), (H, "x"), (2 * H, "y")]
    ]
    assert build_frame(events).unit.tolist() == ["a/x", "a/x", "a/y"]


@pytest.mark.parametrize(
    "attrs",
    [
        [json.dumps({"location": "Paris"}), None],
        pa.array([{"location": "Paris"}, None], pa.struct([("location", pa.string())])),
    ],
)
def test_location_from_attrs_json_or_struct(attrs):
    table = pa.table({"user_id": ["a", "a"], "ts": [0, 1], "action": ["login", "login"], "attrs": attrs})
    assert build_frame(table).location.tolist() == ["Paris", None]


def test_missing_required_column_names_it():
    with pytest.raises(ColumnError, match="column 'action': required column is missing"):
        build_frame([{"user_id": "a", "ts": 0, "actoin": "view"}])


def test_a_raw_action_names_the_row_and_the_closest_canonical_ones():
    with pytest.raises(
        DataError, match=r"line 2, column 'action': not a canonical action \(got 'purchse'\)"
    ) as info:
        build_frame([{"user_id": "a", "action": "view"}, {"user_id": "a", "action": "purchse"}])
    assert "candidates" in str(info.value)


def test_a_bad_time_names_the_row():
    with pytest.raises(
        DataError, match="line 2, column 'ts': expected epoch milliseconds or an ISO-8601 time"
    ):
        build_frame(
            [
                {"user_id": "a", "ts": "2024-01-01", "action": "view"},
                {"user_id": "a", "ts": "soon", "action": "view"},
            ]
        )


def test_events_files_of_each_type(tmp_path):
    rows = [{"user_id": "007", "ts": 1, "action": "login", "device": "01"}]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "e.csv").write_text("user_id,ts,action,device\n007,1,login,01\n")
    for name in ("e.jsonl", "e.csv"):
        frame = build_frame(read_events_file(tmp_path / name))
        assert frame.user.tolist() == ["007"] and frame.device.tolist() == ["01"], name
    with pytest.raises(DataError, match="unknown events file type"):
        (tmp_path / "e.txt").write_text("x")
        read_events_file(tmp_path / "e.txt")
    with pytest.raises(DataError, match="no such events file"):
        read_events_file(tmp_path / "none.csv")
