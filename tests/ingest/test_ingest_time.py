"""Ordering and time: ties keep input order, unsorted files, epoch units, formats and time zones."""

from __future__ import annotations

import datetime as dt

import pytest

from seqintent.errors import ConfigError, DataError
from tests.ingest.ingest_helpers import Run, arrays, config, source, values


def test_ties_keep_input_order_and_unsorted_files_are_sorted(tmp_path):
    run = Run(tmp_path)
    run.write(
        "log.csv", "user,ts,action,item\n1,20,view,c\n1,10,view,a\n1,20,view,b\n1,20,cart,a\n1,5,view,d\n"
    )
    ds = run(config())
    assert values(ds, "items", "item") == ["d", "a", "c", "b", "a"]
    assert values(ds, "actions", "action") == ["view", "view", "view", "view", "cart"]
    assert arrays(ds)["gap_s"] == [None, 5.0, 10.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("unit", "raw", "expected_ms"),
    [
        ("s", "1511544070", 1511544070000),
        ("s", "1396437466.94", 1396437466940),
        ("ms", "1650882384975", 1650882384975),
        ("us", "1650882384975123", 1650882384975),
        ("ns", "1650882384975123456", 1650882384975),
    ],
)
def test_epoch_units(tmp_path, unit, raw, expected_ms):
    run = Run(tmp_path)
    run.write("log.csv", f"user,ts,action,item\n1,{raw},view,a\n")
    ds = run(config(source(time={"column": "ts", "unit": unit})))
    assert arrays(ds)["ts"] == [expected_ms]


def _utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_strftime_local_time_to_utc(tmp_path):
    run = Run(tmp_path)
    # Tianchi-style hour stamps in China time (UTC+8), and New York times across the DST change
    run.write("log.csv", "user,ts,action,item\n1,2014-12-06 02,view,a\n1,2014-12-06 10,view,b\n")
    ds = run(config(source(time={"column": "ts", "format": "%Y-%m-%d %H", "timezone": "Asia/Shanghai"})))
    assert arrays(ds)["ts"] == [_utc_ms(2014, 12, 5, 18), _utc_ms(2014, 12, 6, 2)]
    run.write("log.csv", "user,ts,action,item\n1,2021-03-13 12:00,view,a\n1,2021-03-14 12:00,view,b\n")
    ds = run(
        config(source(time={"column": "ts", "format": "%Y-%m-%d %H:%M", "timezone": "America/New_York"}))
    )
    assert arrays(ds)["ts"] == [_utc_ms(2021, 3, 13, 17), _utc_ms(2021, 3, 14, 16)]  # EST then EDT
    assert ds.timezone == "America/New_York"


def test_iso_text_with_and_without_offsets(tmp_path):
    run = Run(tmp_path)
    run.write(
        "log.jsonl",
        '{"user": 1, "ts": "2024-05-01T10:00:00+02:00", "action": "view", "item": "a"}\n'
        '{"user": 1, "ts": "2024-05-01 09:30:00", "action": "view", "item": "b"}\n'
        '{"user": 1, "ts": "2024-05-01T09:45:00Z", "action": "view", "item": "c"}\n',
    )
    ds = run(config(source(path="log.jsonl", time={"column": "ts", "timezone": "Europe/Berlin"})))
    # 10:00+02:00 = 08:00Z; 09:30 Berlin (CEST) = 07:30Z; 09:45Z
    assert values(ds, "items", "item") == ["b", "a", "c"]
    assert arrays(ds)["ts"] == [
        _utc_ms(2024, 5, 1, 7, 30),
        _utc_ms(2024, 5, 1, 8),
        _utc_ms(2024, 5, 1, 9, 45),
    ]


def test_bad_time_fails_with_line_column_and_expected_form(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,2014-12-06 02,view,a\n1,yesterday,view,b\n")
    cfg = config(source(time={"column": "ts", "format": "%Y-%m-%d %H"}))
    with pytest.raises(
        DataError,
        match=r"log\.csv:3, column 'ts'.*cannot read the time: expected a time in the "
        r"format '%Y-%m-%d %H'.*\(got 'yesterday'\)",
    ):
        run(cfg)
    ds = run(cfg, on_error="skip")
    assert ds.stats["dropped"]["bad_time"] == 1 and ds.stats["events_kept"] == 1


def test_time_out_of_range_means_wrong_unit(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1650882384975,view,a\n")
    with pytest.raises(
        DataError, match=r"log\.csv:2, column 'ts'.*epoch seconds between the years 1900 and 2200"
    ):
        run(config())


def test_missing_time_and_numeric_time_without_unit(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,,view,a\n1,100,view,b\n")
    with pytest.raises(DataError, match=r"log\.csv:2, column 'ts'.*the time is empty"):
        run(config())
    assert run(config(), on_error="skip").stats["dropped"]["missing_time"] == 1
    with pytest.raises(ConfigError, match=r"sources\[0\]\.time\.unit.*holds numbers"):
        run(config(source(time={"column": "ts"})))


def test_no_time_means_input_order(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,action,item\n1,view,b\n2,view,a\n1,view,a\n")
    ds = run(config(source(time=None)))
    assert not ds.has_time and "ts" not in ds.fields
    assert values(ds, "items", "item") == ["b", "a", "a"]
    assert arrays(ds)["gap_s"] == [None, None, None]
    assert ds.stats["time_range"] is None


def test_time_window(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,100,view,a\n1,200,view,b\n1,300,view,c\n1,400,view,d\n")
    ds = run(config(cleaning={"time_window": {"start": 200, "end": "1970-01-01T00:06:40"}}))
    assert values(ds, "items", "item") == ["b", "c"]  # [200 s, 400 s): the end is exclusive
    assert ds.stats["dropped"]["outside_window"] == 2


def test_sources_with_and_without_time_are_refused(tmp_path):
    run = Run(tmp_path)
    run.write("a.csv", "user,ts,action,item\n1,1,view,a\n")
    run.write("b.csv", "user,action,item\n1,view,a\n")
    cfg = config(source(path="a.csv"), source(path="b.csv", time=None))
    with pytest.raises(ConfigError, match=r"sources\[1\]\.time: some sources have a time and others do not"):
        run(cfg)
