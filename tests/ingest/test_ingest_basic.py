"""The basic CSV case: exact arrays, vocabularies, stats and events.parquet."""

from __future__ import annotations

import numpy as np

from seqintent.schema.columns import Columns
from tests.ingest.ingest_helpers import Run, arrays, config, dropped, source, users, values

LOG = """user,ts,action,item,cat
2,1000,view,a,x
1,1000,view,b,y
1,1060,cart,b,y
2,1010,view,c,x
1,5000,buy,b,y
10,2000,view,a,x
1,6000,view,a,x
"""


def test_arrays_vocabularies_and_stats(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    ds = run(config(source(category="cat")))
    # users in numeric order (1, 2, 10 — not text order), each sorted by time
    assert ds.vocab("users").values == ["1", "2", "10"]
    assert users(ds) == ["1"] * 4 + ["2"] * 2 + ["10"]
    # items by descending count (a: 3, b: 3, c: 1), ties by raw id
    assert ds.vocab("items").values == [None, "a", "b", "c"]
    assert values(ds, "items", "item") == ["b", "b", "b", "a", "a", "c", "a"]
    assert values(ds, "actions", "action") == ["view", "cart", "buy", "view", "view", "view", "view"]
    assert ds.vocab("actions").values == [None, "view", "cart", "buy"]
    assert ds.vocab("actions").extra["family"] == [None, "browse", "convert", "convert"]
    a = arrays(ds)
    assert a["offsets"] == [0, 4, 6, 7]
    assert a["ts"] == [1000_000, 1060_000, 5000_000, 6000_000, 1000_000, 1010_000, 2000_000]
    assert a["gap_s"] == [None, 60.0, 3940.0, 1000.0, None, 10.0, None]
    assert a["session"] == [0, 0, 1, 1, 0, 0, 0]  # 3940 s > 1800 s starts a new session
    assert a["split"] == [0, 0, 1, 2, 0, 0, 0]  # leave-one-out; users with < 3 events stay in train
    assert values(ds, "categories", "category") == ["y", "y", "y", "x", "x", "x", "x"]
    s = ds.stats
    assert (s["events_read"], s["events_kept"], s["users"], s["items"], s["sessions"]) == (7, 7, 3, 3, 4)
    assert s["actions"] == {"view": 5, "cart": 1, "buy": 1}
    assert s["splits"] == {"train": 5, "valid": 1, "test": 1}
    assert s["time_range"]["start"] == "1970-01-01T00:16:40Z"
    assert dropped(ds) == {}


def test_events_parquet_matches_arrays(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", LOG)
    ds = run(config(source(category="cat")))
    table = ds.events().to_pandas().sort_values(Columns.EVENT_INDEX)
    assert list(table[Columns.EVENT_INDEX]) == list(range(7))
    assert [str(u) for u in table[Columns.USER]] == users(ds)
    assert list(table[Columns.ITEM]) == values(ds, "items", "item")
    assert list(table[Columns.TIME]) == list(np.asarray(ds.sequences["ts"]))
    assert list(table[Columns.SPLIT]) == ["train", "train", "valid", "test", "train", "train", "train"]
    assert list(table[Columns.INPUT_ORDER]) == [1, 2, 4, 6, 0, 3, 5]
    # the file is written in input order
    assert list(ds.events().column(Columns.INPUT_ORDER).to_pylist()) == list(range(7))
    assert table[Columns.GAP].isna().tolist() == [True, False, False, False, True, False, True]


def test_fields_that_are_always_empty(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item,cat,dev\n1,1,view,,,\n1,2,view,,,\n")
    ds = run(config(source(category="cat", device="dev")))
    assert ds.vocab("items").values == [None] and ds.vocab("categories").values == [None]
    assert arrays(ds)["item"] == [0, 0] and arrays(ds)["device"] == [0, 0]
