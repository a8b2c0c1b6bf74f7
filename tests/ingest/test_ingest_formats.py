"""Input formats: sequences, prefix_label, explode, flags, gzip, globs, Parquet, JSONL, TSV, latin-1."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seqintent.errors import ConfigError, DataError
from seqintent.schema.config import load_config
from tests.ingest.ingest_helpers import Run, arrays, config, dropped, source, users, values


def test_sequences_with_user_head(tmp_path):
    run = Run(tmp_path)
    # S3-Rec style: "user i1 i2 ..." per line
    run.write("Beauty.txt", "1 1 2 3\n2 4 1\n\n3\n")
    cfg = config(
        source(
            path="Beauty.txt",
            format="sequences",
            user_id="head",
            item_id="token",
            time=None,
            action={"value": "view"},
        )
    )
    ds = run(cfg)
    assert users(ds) == ["1", "1", "1", "2", "2"]
    assert values(ds, "items", "item") == ["1", "2", "3", "4", "1"]
    assert dropped(ds) == {"empty_sequence": 1}  # user 3 has no item
    assert ds.stats["events_read"] == 6


def test_sequences_without_head_and_trailing_space(tmp_path):
    run = Run(tmp_path)
    # DeepLog hdfs_train style: one session per line, ids only, trailing space
    run.write("hdfs_train", "5 5 22 \n22 5 \n")
    cfg = config(
        source(
            path="hdfs_train",
            format="sequences",
            head_is_user=False,
            user_id="line_no",
            item_id="token",
            time=None,
            action={"value": "view"},
        )
    )
    ds = run(cfg)
    assert users(ds) == ["1", "1", "1", "2", "2"]
    assert values(ds, "items", "item") == ["5", "5", "22", "22", "5"]
    assert ds.vocab("items").values == [None, "5", "22"]  # numeric order breaks the count tie


PREFIX_LABEL = "1 2 3\t4\n1 2\t3\n1\t2\n7 8\t9\n7\t8\n5\t6\n"


def test_prefix_label_rebuilds_sessions(tmp_path):
    run = Run(tmp_path)
    run.write("test_prefix_label.tsv", PREFIX_LABEL, gz=False)
    cfg = config(
        source(
            path="test_prefix_label.tsv",
            format="prefix_label",
            user_id="session_no",
            item_id="token",
            time=None,
            action={"value": "click"},
        )
    )
    ds = run(cfg)
    assert users(ds) == ["1"] * 4 + ["2"] * 3 + ["3"] * 2
    assert values(ds, "items", "item") == ["1", "2", "3", "4", "7", "8", "9", "5", "6"]
    src = ds.stats["sources"][0]
    # n - 1 lines per session of n items: 3 + 2 + 1 lines for sessions of 4, 3 and 2 items
    assert (src["lines"], src["sessions"], src["events_read"]) == (6, 3, 9)


def test_prefix_label_inconsistent_lines(tmp_path):
    run = Run(tmp_path)
    # line 2 should be "1 2<TAB>3"; the session 1-4 is broken, and line 3 starts a session after a bad end
    run.write("t.tsv", "1 2 3\t4\n1 9\t3\n1\t9\n7\t8\nno tab here\n")
    cfg = config(
        source(
            path="t.tsv",
            format="prefix_label",
            user_id="session_no",
            item_id="token",
            time=None,
            action={"value": "click"},
        )
    )
    with pytest.raises(
        DataError, match=r"t\.tsv:1.*not a full run of prefixes.*stop at line 1 with a 3-item prefix"
    ):
        run(cfg)
    ds = run(cfg, on_error="skip")
    assert values(ds, "items", "item") == ["7", "8"]
    assert dropped(ds) == {"malformed": 4}
    assert ds.stats["events_read"] == 6


def test_explode_a_sequence_column(tmp_path):
    run = Run(tmp_path)
    # HDFS robust_log style: one session per row, a label per session
    run.write("robust_log_train.csv", "Sequence,label\n5 5 22,0\n22 5,1\n,0\n")
    cfg = config(
        source(
            path="robust_log_train.csv",
            explode={"column": "Sequence"},
            user_id="row_no",
            item_id="Sequence",
            time=None,
            action={"value": "view"},
            attrs={"label": "label", "pos": "position"},
        )
    )
    ds = run(cfg)
    assert users(ds) == ["1", "1", "1", "2", "2"]
    assert values(ds, "items", "item") == ["5", "5", "22", "22", "5"]
    assert dropped(ds) == {"empty_sequence": 1}
    attrs = ds.events().sort_by("event_index").column("attrs").to_pylist()
    assert [a["label"] for a in attrs] == [0, 0, 0, 1, 1]
    assert [a["pos"] for a in attrs] == [0, 1, 2, 0, 1]


def test_flags_make_one_event_per_set_flag(tmp_path):
    run = Run(tmp_path)
    # KuaiRand style: one exposure row, 0/1 columns for click / like
    run.write(
        "log.csv",
        "user,ts,video,is_click,is_like,play_ms\n1,1000,v1,1,1,5000\n1,2000,v2,0,0,300\n2,500,v1,1,0,\n",
    )
    cfg = config(
        source(
            time={"column": "ts", "unit": "ms"},
            item_id="video",
            action={"flags": {"is_click": "click", "is_like": "like"}, "base": "expose"},
            dwell_s={"expr": "play_ms / 1000.0"},
        )
    )
    ds = run(cfg)
    assert values(ds, "actions", "action") == ["expose", "click", "like", "expose", "expose", "click"]
    assert ds.events().sort_by("event_index").column("action_raw").to_pylist() == [
        "expose",
        "is_click",
        "is_like",
        "expose",
        "expose",
        "is_click",
    ]
    assert arrays(ds)["gap_s"] == [None, 0.0, 0.0, 1.0, None, 0.0]
    assert list(ds.events().column("input_order").to_pylist()) == [0, 1, 2, 3, 4, 5]
    no_base = run(
        config(
            source(
                time={"column": "ts", "unit": "ms"}, item_id="video", action={"flags": {"is_click": "click"}}
            )
        )
    )
    assert dropped(no_base) == {"no_action": 1}
    assert no_base.stats["events_read"] == 3


def test_gzip_and_glob_in_file_order(tmp_path):
    run = Run(tmp_path)
    run.write("part-2.csv", "user,ts,action,item\n1,5,view,c\n", gz=True)
    run.root.joinpath("in", "part-2.csv").rename(run.root / "in" / "part-2.csv.gz")
    run.write("part-1.csv", "user,ts,action,item\n1,5,view,b\n1,1,view,a\n")
    ds = run(config(source(path="part-*.csv*")))
    assert values(ds, "items", "item") == ["a", "b", "c"]  # tie at 5: part-1 before part-2
    files = ds.manifest["source"]["files"]
    assert [f["path"].rsplit("/", 1)[1] for f in files] == ["part-1.csv", "part-2.csv.gz"]
    assert all(len(f["sha256"]) == 64 for f in files)
    # a glob given as the path, for a one-source config
    ds = run(config(), path=str(run.root / "in" / "part-*"))
    assert ds.stats["events_read"] == 3


def test_parquet_and_jsonl_and_tsv(tmp_path):
    run = Run(tmp_path)
    table = pa.table(
        {"user": [1, 1, 2], "ts": [3, 1, 2], "action": ["view", "buy", "view"], "item": ["a", "b", "a"]}
    )
    pq.write_table(table, run.root / "log.parquet")
    ds = run(config(source(path="log.parquet")), path=run.root / "log.parquet")
    assert values(ds, "items", "item") == ["b", "a", "a"]
    run.write(
        "log.jsonl",
        '{"user": 1, "ts": 3, "action": "view", "item": "a"}\n\n{"user": 1, "ts": 1, '
        '"action": "buy", "item": 7}\n{oops\n',
    )
    with pytest.raises(DataError, match=r"log\.jsonl:4.*malformed JSON line"):
        run(config(source(path="log.jsonl")))
    ds = run(config(source(path="log.jsonl")), on_error="skip")
    assert values(ds, "items", "item") == ["7", "a"]
    assert dropped(ds) == {"malformed": 1}
    run.write("log.tsv", "user\tts\taction\titem\n1\t2\tview\ta b\n")
    ds = run(config(source(path="log.tsv")))
    assert values(ds, "items", "item") == ["a b"]


def test_latin1_and_null_values(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user;ts;action;item\n1;1;view;caf\xe9\n1;2;view;-\n".encode("latin-1"))
    cfg = config(source(delimiter=";", encoding="latin-1", null_values=["-"]))
    ds = run(cfg)
    assert values(ds, "items", "item") == ["café", None]
    with pytest.raises(DataError, match=r"log\.csv:2.*encoding: latin-1"):
        run(config(source(delimiter=";", null_values=["-"])))


def test_headerless_columns_and_text_ids_in_a_numeric_column(tmp_path):
    run = Run(tmp_path)
    # DuckDB guesses integers from the first rows; a later text id must not drop its row
    rows = (
        "".join(f"{u},{t},pv,{u}\n" for u, t in zip(range(30000), range(30000), strict=True)) + "u7,1,pv,x\n"
    )
    run.write("log.csv", rows)
    cfg = config(source(columns=["user", "ts", "action", "item"]))
    ds = run(cfg)
    assert ds.stats["events_kept"] == 30001 and dropped(ds) == {}
    assert ds.vocab("users").values[-1] == "u7"  # text order once one id is not an integer


LONG_TEXT = "x" * 3_000_000  # over DuckDB's default maximum line (2 MB), which the read starts with


@pytest.mark.parametrize("long_row", [2, 25_000], ids=["in-the-sniffed-sample", "after-the-sample"])
def test_a_line_over_the_default_maximum_is_kept(tmp_path, long_row):
    run = Run(tmp_path)
    # near the top the sniff fails on it; far down (the sniffer samples about 20k rows) the read
    # rejects it: either way the file is read again with long lines allowed, and nothing is lost
    rows = [f"{u % 50},{u},view,i{u % 7}," + ("short" if u != long_row else LONG_TEXT) for u in range(30_000)]
    run.write("log.csv", "user,ts,action,item,note\n" + "\n".join(rows) + "\n")
    ds = run(config(source(text="note")))
    assert ds.stats["events_kept"] == 30_000 and dropped(ds) == {}
    lengths = ds.events(columns=["text"]).column("text").to_pylist()
    assert sorted(len(t) for t in lengths)[-2:] == [5, 3_000_000]


def test_a_jsonl_line_over_the_default_maximum_is_kept(tmp_path):
    run = Run(tmp_path)
    lines = [
        json.dumps({"user": 1, "ts": t, "action": "view", "item": "a", "note": "short"}) for t in range(5)
    ]
    lines.insert(2, json.dumps({"user": 2, "ts": 1, "action": "view", "item": "b", "note": LONG_TEXT}))
    run.write("log.jsonl", "\n".join(lines) + "\n")
    ds = run(config(source(path="log.jsonl", text="note")))
    assert ds.stats["events_kept"] == 6 and dropped(ds) == {}
    assert max(len(t) for t in ds.events(columns=["text"]).column("text").to_pylist()) == 3_000_000


def test_jsonl_types_and_keys_that_change_late_in_the_file(tmp_path):
    run = Run(tmp_path)
    # the column types come from the structures of all lines: a text user id, a float after nulls
    # and a key seen only near the end must all reach the Dataset
    lines = []
    for t in range(3000):
        row = {"user": t % 40, "ts": t, "action": "view", "item": f"i{t % 9}", "dwell": None}
        if t == 2500:
            row.update(user="u7", dwell=2.5, coupon="SPRING")
        lines.append(json.dumps(row))
    run.write("log.jsonl", "\n".join(lines) + "\n")
    ds = run(config(source(path="log.jsonl", dwell_s="dwell", attrs={"coupon": "coupon"})))
    assert ds.stats["events_kept"] == 3000 and dropped(ds) == {}
    assert "u7" in ds.vocab("users").values
    events = ds.events(columns=["user_id", "dwell_s", "attrs"]).to_pylist()
    late = [e for e in events if e["user_id"] == "u7"]
    assert len(late) == 1 and late[0]["dwell_s"] == 2.5 and late[0]["attrs"]["coupon"] == "SPRING"


def test_item_and_user_side_tables(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item,cat\n1,1,view,a,\n1,2,view,b,z\n2,1,view,c,\n")
    run.write("items.csv", "item_id,category,price\na,x,1.5\nb,y,2\na,w,9\nd,q,1\n")
    run.write("users.csv", "uid,age\n2,30\n1,40\n9,50\n")
    cfg = config(
        source(category="cat"),
        items={
            "path": "items.csv",
            "item_id": "item_id",
            "category": "category",
            "attrs": {"price": "price"},
        },
        users={"path": "users.csv", "user_id": "uid", "attrs": {"age": "age"}},
    )
    ds = run(cfg)
    # a: from the first item row (x); b keeps its own category (z); c has none
    assert values(ds, "categories", "category") == ["x", "z", None]
    items = ds.items_table().to_pydict()
    assert items == {
        "item_id": ["a", "b", "d"],
        "item_index": [1, 2, None],
        "category": ["x", "y", "q"],
        "price": [1.5, 2.0, 1.0],
    }
    assert ds.users_table().to_pydict() == {
        "user_id": [1, 2, 9],
        "user_index": [0, 1, None],
        "age": [40, 30, 50],
    }
    assert ds.stats["side_tables"]["items"] == {"rows": 4, "ids": 3, "malformed": 0}


def test_several_sources_and_given_split(tmp_path):
    run = Run(tmp_path)
    run.write("train.csv", "user,ts,action,item\n1,1,view,a\n2,1,view,b\n")
    run.write("test.csv", "u,ts,action,item\n1,2,view,b\n")
    cfg = config(
        source(path="train.csv", split="train"),
        source(path="test.csv", user_id="u", split="test"),
        split={"kind": "given"},
    )
    ds = run(cfg)
    assert users(ds) == ["1", "1", "2"]
    assert arrays(ds)["split"] == [0, 2, 0]
    assert [s["events_read"] for s in ds.stats["sources"]] == [2, 1]
    assert [s["events_kept"] for s in ds.stats["sources"]] == [2, 1]


def test_item_attributes_from_one_json_object_named_after_the_events_file(tmp_path):
    # The S3-Rec layout: Beauty.txt beside Beauty_item2attributes.json ({item: [attribute ids]}).
    run = Run(tmp_path)
    run.write("Shop.txt", "u1 10 11 12\nu2 11 12\n")
    run.write("Shop_item2attributes.json", '{"11": [3, 4], "10": [1], "99": [7, 8, 9]}')
    run.write("Other_item2attributes.json", '{"10": [5]}')
    cfg = config(
        {
            "path": "Shop.txt",
            "format": "sequences",
            "user_id": "head",
            "item_id": "token",
            "action": {"value": "review"},
        },
        items={
            "path": "{stem}_item2attributes.json",
            "format": "json_object",
            "item_id": "key",
            "attrs": {"attributes": "value"},
        },
    )
    ds = run(cfg, tmp_path / "in" / "Shop.txt")
    index = {v: i for i, v in enumerate(ds.vocab("items").values)}
    items = ds.items_table().to_pydict()
    # every row of the object in file order; a list stays a list; 12 has none, 99 is in no event
    assert items["item_id"] == ["11", "10", "99"]
    assert items["attributes"] == [[3, 4], [1], [7, 8, 9]]
    assert items["item_index"] == [index["11"], index["10"], None]
    assert ds.stats["side_tables"]["items"] == {"rows": 3, "ids": 3, "malformed": 0}


def test_json_object_side_table_must_be_an_object(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n")
    run.write("items.json", '[{"a": [1]}]')
    cfg = config(items={"path": "items.json", "format": "json_object", "item_id": "key"})
    with pytest.raises(
        DataError, match="expected one JSON object mapping ids to values, found a JSON array"
    ) as err:
        run(cfg)
    assert err.value.file is not None and err.value.file.endswith("items.json")


def test_json_object_side_table_with_a_repeated_id_names_the_file(tmp_path):
    run = Run(tmp_path)
    run.write("log.csv", "user,ts,action,item\n1,1,view,a\n")
    run.write("items.json", '{"a": [1], "a": [2]}')
    cfg = config(items={"path": "items.json", "format": "json_object", "item_id": "key"})
    with pytest.raises(DataError, match="Map keys must be unique") as err:
        run(cfg)
    assert err.value.file is not None and err.value.file.endswith("items.json")


def test_json_object_is_refused_for_events(tmp_path):
    with pytest.raises(ConfigError, match="json_object is a side-table format") as err:
        load_config(config(source(format="json_object")))
    assert str(err.value).startswith("sources[0].format:")


def test_a_read_error_quotes_a_long_line_shortened(tmp_path):
    import duckdb

    from seqintent.ingest._sql import QUOTED_LINE_CHARS, error_text

    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n3," + "x" * 50_000 + ",9,9\n")
    query = (
        f"SELECT * FROM read_csv('{path}', header=true, auto_detect=false, delim=',', "
        "columns={'a': 'INTEGER', 'b': 'VARCHAR'})"
    )
    with pytest.raises(duckdb.Error) as caught:
        duckdb.sql(query).fetchall()
    assert "x" * 5_000 in str(caught.value)  # DuckDB quotes the rejected line
    text = error_text(caught.value)
    assert "CSV Error on Line: 3" in text  # where it failed is kept
    assert max(len(line) for line in text.split("\n")) < QUOTED_LINE_CHARS + 40
    assert "more characters)" in text
