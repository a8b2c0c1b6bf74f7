"""One small fixture per cleaning rule, with exact drop counts; kept + dropped = read every time."""

from __future__ import annotations

import pytest

from seqintent.errors import ColumnError, ConfigError, DataError
from tests.ingest.ingest_helpers import Run, arrays, config, dropped, source, users, values

HEADER = "user,ts,action,item,dwell\n"


def _balanced(ds) -> None:
    s = ds.stats
    assert s["events_read"] == s["events_kept"] + sum(s["dropped"].values())
    for src in s["sources"]:
        assert src["events_read"] == src["events_kept"] + sum(src["dropped"].values())


def test_exact_duplicates(tmp_path):
    run = Run(tmp_path)
    run.write(
        "log.csv", HEADER + "1,10,view,a,5\n1,10,view,a,5\n1,10,cart,a,5\n1,10,view,b,5\n1,11,view,a,5\n"
    )
    ds = run(config(cleaning={"dedup_within_s": 0}))
    assert dropped(ds) == {"duplicate": 1}
    assert values(ds, "actions", "action") == ["view", "cart", "view", "view"]
    _balanced(ds)


def test_duplicates_within_seconds_collapse_bursts(tmp_path):
    run = Run(tmp_path)
    run.write(
        "log.csv",
        HEADER + "1,0,view,a,5\n1,4,view,a,5\n1,8,view,a,5\n1,20,view,a,5\n1,5,view,b,5\n2,1,view,a,5\n",
    )
    ds = run(config(cleaning={"dedup_within_s": 5}))
    # 4 repeats 0 (4 s), 8 repeats 4 (4 s: compared with the previous occurrence), 20 is 12 s later
    assert dropped(ds) == {"duplicate": 2}
    assert arrays(ds)["ts"] == [0, 5000, 20000, 1000]
    _balanced(ds)


def test_dedup_needs_time(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,action,item\n1,view,a\n1,view,a\n")
    ds = run(config(source(time=None), cleaning={"dedup_within_s": 0}))
    assert ds.stats["events_kept"] == 2


def test_missing_items_keep_or_drop(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", HEADER + "1,1,view,a,5\n1,2,search,,5\n1,3,view,NA,5\n")
    kept = run(config())
    assert values(kept, "items", "item") == ["a", None, None]
    assert kept.vocab("items").values == [None, "a"]
    dropped_items = run(config(cleaning={"missing_item": "drop"}))
    assert dropped(dropped_items) == {"missing_item": 2}
    _balanced(dropped_items)


def test_misclicks_only_for_listed_actions_with_known_dwell(tmp_path):
    run = Run(tmp_path)
    run.write(
        "log.csv", HEADER + "1,1,view,a,0.4\n1,2,click,a,0.99\n1,3,buy,a,0.1\n1,4,view,a,\n1,5,view,a,1.0\n"
    )
    ds = run(config(source(dwell_s="dwell"), cleaning={"min_dwell_s": 1.0}))
    assert dropped(ds) == {"misclick": 2}
    assert arrays(ds)["dwell_s"] == [0.1, None, 1.0]
    assert values(ds, "actions", "action") == ["buy", "view", "view"]
    _balanced(ds)


def test_iterative_kcore(tmp_path):
    run = Run(tmp_path)
    # k = 2: item c (1 event) goes, then user 3 has 1 event left and goes, then item b has 1 event and goes
    rows = ["1,1,view,a", "1,2,view,a", "2,1,view,a", "2,2,view,a", "3,1,view,b", "3,2,view,c", "4,1,view,b"]
    run.write("log.csv", "user,ts,action,item\n" + "\n".join(rows) + "\n")
    ds = run(config(cleaning={"kcore": {"users": 2, "items": 2}}))
    assert dropped(ds) == {"kcore": 3}
    assert users(ds) == ["1", "1", "2", "2"]
    assert ds.stats["sources"][0]["dropped"]["kcore"] == 3
    _balanced(ds)


MALFORMED = "user,ts,action,item\n1,1,view,a\n1,2,view\n1,3,view,c\n1,4,view,d,extra\n1,5,view,e\n"


def test_malformed_rows_fail_naming_the_line(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", MALFORMED)
    with pytest.raises(DataError, match=r"log\.csv:3.*malformed row \(missing columns\)"):
        run(config())


def test_malformed_rows_skipped_are_counted(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", MALFORMED + "1,zzz,view,f\n")
    ds = run(config(), on_error="skip")
    assert dropped(ds) == {"malformed": 2, "bad_time": 1}
    assert values(ds, "items", "item") == ["a", "c", "e"]
    _balanced(ds)


def test_bad_value_line_after_skipped_rows(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n\n1,x2,view,b\n")
    with pytest.raises(DataError, match=r"log\.csv:4, column 'ts'.*\(got 'x2'\)"):
        run(config())


def test_missing_user(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n,2,view,b\nNULL,3,view,c\n")
    with pytest.raises(DataError, match=r"log\.csv:3, column 'user'.*the user id is empty"):
        run(config())
    ds = run(config(), on_error="skip")
    assert dropped(ds) == {"missing_user": 2}
    _balanced(ds)


@pytest.mark.parametrize(
    ("unknown", "on_error", "expected_actions", "expected_dropped"),
    [
        ("other", "fail", ["view", "other", "buy"], {}),
        ("drop", "fail", ["view", "buy"], {"unknown_action": 1}),
        ("error", "skip", ["view", "buy"], {"unknown_action": 1}),
    ],
)
def test_unknown_action_policies(tmp_path, unknown, on_error, expected_actions, expected_dropped):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,pv,a\n1,2,teleport,a\n1,3,purchase,a\n")
    ds = run(config(source(action={"column": "action", "unknown": unknown})), on_error=on_error)
    assert values(ds, "actions", "action") == expected_actions
    assert dropped(ds) == expected_dropped
    assert ds.events().column("action_raw").to_pylist() == (
        ["pv", "teleport", "purchase"] if unknown == "other" else ["pv", "purchase"]
    )
    _balanced(ds)


def test_unknown_action_error_names_line_and_fix(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,pv,a\n1,2,clik,a\n")
    with pytest.raises(
        DataError,
        match=r"(?s)log\.csv:3, column 'action'.*unknown action.*\(got 'clik'\).*"
        r"candidates: 'click'.*sources\[0\]\.action\.unknown",
    ):
        run(config())


def test_action_map_takes_precedence(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,1,a\n1,2,4,a\n1,3,view,a\n")
    ds = run(config(source(action={"column": "action", "map": {1: "click", 4: "buy", "view": "expose"}})))
    assert values(ds, "actions", "action") == ["click", "buy", "expose"]
    assert ds.vocab("actions").values == [None, "click", "expose", "buy"]  # taxonomy order


def test_column_not_in_file_lists_candidates(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user_id,ts,action,item\n1,1,view,a\n")
    with pytest.raises(ColumnError, match=r"(?s)column 'user'.*no such column.*candidates: 'user_id'"):
        run(config())


def test_bad_expression_names_the_key(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", HEADER + "1,1,view,a,5\n")
    with pytest.raises(ConfigError, match=r"sources\[0\]\.dwell_s\.expr: the SQL expression does not work"):
        run(config(source(dwell_s={"expr": "dwel / 1000"})))
    ds = run(config(source(dwell_s={"expr": "dwell * 2"})))
    assert arrays(ds)["dwell_s"] == [10.0]


def test_fail_reports_the_earliest_bad_line_of_any_kind(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n1,2,telport,a\n1,3,view\n1,x,view,b\n")
    with pytest.raises(DataError, match=r"log\.csv:3, column 'action'.*unknown action"):
        run(config())
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n1,2,view\n1,x,view,b\n")
    with pytest.raises(DataError, match=r"log\.csv:3.*malformed row"):
        run(config())
    run.write("log.csv", "user,ts,action,item\n1,x,view,b\n1,2,view\n")
    with pytest.raises(DataError, match=r"log\.csv:2, column 'ts'"):
        run(config())
