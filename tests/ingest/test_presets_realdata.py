"""Every preset ingests its real folder of ``../shared/data`` and gets the counts the folder's README states.

Expected figures are the README's (rows, users, items, action mix, time range); where a cleaning rule
of the preset applies, the drop count is the one found by an independent query of the raw files (noted
beside it). ``SEQINTENT_SHARED_DATA`` points elsewhere than ``<repo>/../shared/data``.
"""

from __future__ import annotations

import collections
import csv
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from seqintent.data import Dataset
from seqintent.schema import DatasetConfig, load_preset
from seqintent.schema.columns import Columns

SHARED_DATA = Path(
    os.environ.get("SEQINTENT_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"no shared data folder at {SHARED_DATA}"),
]


def _ingest(config: DatasetConfig, folder: Path, out: Path) -> Dataset:
    pytest.importorskip("seqintent.ingest", reason="the ingest stage is not built yet")
    from seqintent.ingest import ingest

    return ingest(config, folder, out)


def _folder(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(frozen=True)
class Expected:
    preset: str
    folder: str
    events_read: int
    users: int
    items: int
    actions: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)
    time_ms: tuple[int, int] | None = None  # first and last kept event, UTC ms
    splits: dict[str, int] | None = None  # events per split

    @property
    def events_kept(self) -> int:
        return self.events_read - sum(self.dropped.values())


CASES = [
    # README: 84,475 rows, 815 users, 55,368 items; pv 75,872 cart 4,497 fav 2,356 buy 1,750. The official
    # window [2017-11-25, 12-04) Beijing drops 35 pv rows stamped earlier (the README says 36; a count of the
    # file gives 35), taking 24 items with them (55,344 left).
    Expected(
        "taobao",
        "taobao-userbehavior-sample",
        events_read=84_475,
        dropped={"time_window": 35},
        users=815,
        items=55_344,
        actions={"view": 75_872 - 35, "cart": 4_497, "fav": 2_356, "buy": 1_750},
        time_ms=(_ms(1511539217), _ms(1512316763)),
    ),
    # README: 110,300 rows, 66,454 users, 84,793 items, 2017-11-26 01:00:00 .. 03:10:11 UTC; nothing dropped.
    Expected(
        "taobao",
        "taobao-userbehavior-timeslice",
        events_read=110_300,
        users=66_454,
        items=84_793,
        actions={"view": 98_361, "cart": 6_063, "fav": 3_383, "buy": 2_493},
        time_ms=(_ms(1511658000), _ms(1511665811)),
    ),
    # README: 1,999 events, 34 users, 1,689 items; 1:1,876 2:18 3:70 4:35; 2014-11-18 10h .. 12-18 23h China.
    Expected(
        "tianchi-mobile",
        "tianchi-mobile-2014-sample",
        events_read=1_999,
        users=34,
        items=1_689,
        actions={"view": 1_876, "fav": 18, "cart": 70, "buy": 35},
        time_ms=(_ms(1416276000), _ms(1418914800)),
    ),
    # README: 12,391 views + 18,025 purchases; 15,383 users once anonymous sessions stand for users; 15,936
    # items. 28 purchase rows repeat (user, item, time) exactly: dropped as duplicates.
    Expected(
        "diginetica",
        "diginetica-sample",
        events_read=12_391 + 18_025,
        dropped={"duplicate": 28},
        users=15_383,
        items=15_936,
        actions={"view": 12_391, "buy": 18_025 - 28},
        time_ms=(1451692878273, 1466187733520),
    ),
    # README: train_full 70,278 clicks / 17,794 sessions, test 13,568 / 3,416; 2,933 items. One train click
    # repeats (session, item, ms).
    Expected(
        "yoochoose",
        "yoochoose-rsc15-100k",
        events_read=70_278 + 13_568,
        dropped={"duplicate": 1},
        users=17_794 + 3_416,
        items=2_933,
        actions={"click": 70_278 + 13_568 - 1},
        time_ms=(1396314141719, 1396918201534),
        splits={"train": 70_277, "valid": 0, "test": 13_568},
    ),
    # README: 10,080 views, 2,496 visitors, 5,566 items, 2015-05-03 03:07:23 .. 09-18 02:55:37 UTC.
    # 17 views repeat (user, item, second).
    Expected(
        "retailrocket",
        "retailrocket-sample-sessionized",
        events_read=10_080,
        dropped={"duplicate": 17},
        users=2_496,
        items=5_566,
        actions={"view": 10_063},
        time_ms=(_ms(1430622443), _ms(1442544937)),
    ),
    # README: 100,000 ratings, 943 users, 1,682 items, 1997-09-20 03:05:10 .. 1998-04-22 23:10:38 UTC.
    Expected(
        "movielens-100k",
        "movielens-100k",
        events_read=100_000,
        users=943,
        items=1_682,
        actions={"rate": 100_000},
        time_ms=(_ms(874724710), _ms(893286638)),
    ),
    # README: 100,004 ratings by 671 users of 9,066 movies, 1995-01-09 .. 2016-10-16; plus 1,296 tags (59 of
    # the tagged movies are never rated: 9,125 items; the last tag is 2016-10-16 20:45:44).
    Expected(
        "movielens-latest",
        "movielens-latest-small",
        events_read=100_004 + 1_296,
        users=671,
        items=9_125,
        actions={"rate": 100_004, "review": 1_296},
        time_ms=(_ms(789652009), _ms(1476650744)),
    ),
    # README: Beauty 22,363 users, 12,101 items, 198,502 interactions (every sequence has >= 5 items).
    Expected(
        "s3rec",
        "seqrec-benchmarks-s3rec",
        events_read=198_502,
        users=22_363,
        items=12_101,
        actions={"review": 198_502},
        splits={"train": 198_502 - 2 * 22_363, "valid": 22_363, "test": 22_363},
    ),
    # README: 287,107 interactions, 31,013 users, 23,715 items.
    Expected(
        "sasrec",
        "sasrec-amazon-video",
        events_read=287_107,
        users=31_013,
        items=23_715,
        actions={"review": 287_107},
    ),
    # README: 353,962 interactions, 40,226 users, 54,542 items.
    Expected(
        "bert4rec",
        "bert4rec-amazon-beauty",
        events_read=353_962,
        users=40_226,
        items=54_542,
        actions={"review": 353_962},
    ),
    # README: Tmall 65,286 train sessions / 416,554 clicks, 40,727 items; the 25,898 test lines rebuild into
    # 1,027 sessions of 26,925 clicks.
    Expected(
        "gcegnn",
        "session-rec-benchmarks-gcegnn/Tmall",
        events_read=416_554 + 26_925,
        users=65_286 + 1_027,
        items=40_727,
        actions={"click": 416_554 + 26_925},
        splits={"train": 416_554, "valid": 0, "test": 26_925},
    ),
    # README: 4,855 + 16,838 + 12,000 + 2,000 sessions; events = the sum of their lengths; 28 keys.
    Expected(
        "hdfs",
        "hdfs-deeplog",
        events_read=95_125 + 284_818 + 218_889 + 36_595,
        users=4_855 + 16_838 + 12_000 + 2_000,
        items=28,
        actions={"other": 95_125 + 284_818 + 218_889 + 36_595},
        splits={"train": 95_125, "valid": 36_595, "test": 284_818 + 218_889},
    ),
]


def _action_counts(ds: Dataset) -> dict[str, int]:
    actions = ds.events([Columns.ACTION]).column(Columns.ACTION)
    return {row["values"]: row["counts"] for row in pc.value_counts(actions).to_pylist()}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.preset}:{c.folder.split('/')[-1]}")
def test_preset_ingests_its_folder_with_the_readme_counts(case: Expected, tmp_path: Path) -> None:
    ds = _ingest(load_preset(case.preset), _folder(case.folder), tmp_path / "ds")

    stats = ds.stats
    assert stats["events_read"] == case.events_read
    assert {reason: n for reason, n in stats["dropped"].items() if n} == case.dropped
    assert stats["events_kept"] == case.events_kept == ds.n_events
    assert (stats["users"], stats["items"]) == (case.users, case.items)
    assert (ds.n_users, ds.n_items) == (case.users, case.items)
    assert {a: n for a, n in stats["actions"].items() if n} == case.actions
    assert _action_counts(ds) == case.actions

    if case.time_ms is None:
        assert not ds.has_time
    else:
        assert ds.has_time
        ts = ds.events([Columns.TIME]).column(Columns.TIME)
        assert (pc.min(ts).as_py(), pc.max(ts).as_py()) == case.time_ms
    if case.splits is not None:
        assert {s: int(ds.split_mask(s).sum()) for s in ("train", "valid", "test")} == case.splits


# --- preset-specific behaviour ----------------------------------------------------------------------


def _peer_taobao_5core(path: Path) -> dict[str, list[str]]:
    """Per-user item sequences exactly as ../shared/peers/recbole/convert_atomic.py taobao writes them."""
    seen, rows = set(), []
    with path.open() as f:
        for user, item, _cat, _behaviour, ts in csv.reader(f):
            t = int(ts)
            if 1511539200 <= t < 1512316800 and (user, item, t) not in seen:
                seen.add((user, item, t))
                rows.append((user, item, t))
    while True:
        users = collections.Counter(r[0] for r in rows)
        items = collections.Counter(r[1] for r in rows)
        kept = [r for r in rows if users[r[0]] >= 5 and items[r[1]] >= 5]
        if len(kept) == len(rows):
            break
        rows = kept
    sequences: dict[str, list[str]] = collections.defaultdict(list)
    for user, item, _t in sorted(rows, key=lambda r: (int(r[0]), r[2])):  # stable: ties in file order
        sequences[user].append(item)
    return dict(sequences)


def _sequences_by_user(ds: Dataset) -> dict[str, list[str]]:
    table = ds.events([Columns.USER, Columns.ITEM])
    out: dict[str, list[str]] = collections.defaultdict(list)
    for user, item in zip(
        table.column(Columns.USER).to_pylist(), table.column(Columns.ITEM).to_pylist(), strict=True
    ):
        out[str(user)].append(str(item))
    return dict(out)


def test_taobao_5core_gives_the_recbole_peer_sequences(tmp_path: Path) -> None:
    folder = _folder("taobao-userbehavior-sample")
    ds = _ingest(load_preset("taobao-5core"), folder, tmp_path / "ds")

    # The converter prints "11887 interactions, 477 users, 1655 items".
    assert (ds.n_events, ds.n_users, ds.n_items) == (11_887, 477, 1_655)
    stats = ds.stats
    assert stats["dropped"]["time_window"] == 35
    assert stats["events_read"] - stats["events_kept"] == 84_475 - 11_887
    assert _sequences_by_user(ds) == _peer_taobao_5core(folder / "UserBehavior.csv")
    # Leave-one-out: every user keeps >= 5 events, so one test and one valid event each, the last two.
    assert int(ds.split_mask("test").sum()) == int(ds.split_mask("valid").sum()) == 477


def test_kuairand_expands_exposures_into_feedback_events(tmp_path: Path) -> None:
    ds = _ingest(load_preset("kuairand"), _folder("kuairand-pure-standard-0425-0508"), tmp_path / "ds")

    stats = ds.stats
    # README: 228,329 exposure rows; flags click 100,900, long_view 70,963, like 3,915, follow 304,
    # comment 579, forward 195, hate 190: 405,375 events before cleaning.
    assert stats["events_read"] == 228_329 + 100_900 + 70_963 + 3_915 + 304 + 579 + 195 + 190
    # Exact duplicates (5,460 rows) lose their events; clicks with < 1 s of play are misclicks. The split
    # between the two reasons depends on which rule runs first (1,600 / 7,322 or 1,617 / 7,305); the
    # events kept do not.
    assert stats["events_kept"] == 396_453
    assert sum(stats["dropped"].values()) == 405_375 - 396_453
    assert set(k for k, v in stats["dropped"].items() if v) == {"duplicate", "misclick"}
    assert _action_counts(ds) == {
        "expose": 222_444,
        "click": 98_408,
        "long_view": 70_484,
        "like": 3_872,
        "follow": 290,
        "comment": 574,
        "share": 194,
        "hate": 187,
    }
    assert (ds.n_users, ds.n_items) == (25_156, 6_361)

    events = ds.events([Columns.ACTION, Columns.DWELL, Columns.ATTRS]).to_pylist()
    clicks = [e for e in events if e[Columns.ACTION] == "click"]
    assert min(e[Columns.DWELL] for e in clicks) >= 1.0  # the misclick rule held
    exposes = [e for e in events if e[Columns.ACTION] == "expose"]
    assert min(e[Columns.DWELL] for e in exposes) == 0.0  # unplayed exposures stay (the skip signal)
    assert {"watch_ratio", "tab"} <= set(exposes[0][Columns.ATTRS])
    # Video tags give the category: every item of the video table that has a tag has one.
    assert int((ds.item_categories()[1:] > 0).sum()) > 0.95 * ds.n_items
    assert ds.users_table() is not None and ds.users_table().num_rows >= ds.n_users


def _gcegnn_examples(folder: Path) -> int:
    with gzip.open(folder / "test_prefix_label.tsv.gz", "rt") as f:
        return sum(1 for _ in f)


@pytest.mark.parametrize(
    ("subset", "train", "test", "sessions", "items"),
    [
        ("Tmall", 416_554, 26_925, (65_286, 1_027), 40_727),
        pytest.param("diginetica", 906_140, 76_821, (186_670, 15_963), 43_097, marks=pytest.mark.slow),
        pytest.param("Nowplaying", 953_381, 104_303, (128_077, 14_479), 60_416, marks=pytest.mark.slow),
    ],
)
def test_gcegnn_rebuilds_the_papers_test_examples(
    subset: str, train: int, test: int, sessions: tuple[int, int], items: int, tmp_path: Path
) -> None:
    folder = _folder(f"session-rec-benchmarks-gcegnn/{subset}")
    ds = _ingest(load_preset("gcegnn"), folder, tmp_path / "ds")

    assert ds.n_items == items
    assert int(ds.split_mask("train").sum()) == train
    assert int(ds.split_mask("test").sum()) == test
    offsets = np.asarray(ds.sequences.offsets)
    lengths = np.diff(offsets)
    split = np.asarray(ds.sequences["split"])
    first_split = split[offsets[:-1]]
    train_users, test_users = int((first_split == 0).sum()), int((first_split == 2).sum())
    assert (train_users, test_users) == sessions
    # The papers' #test examples: every position but the first of every test session (README: 25,898
    # for Tmall, 60,858 diginetica, 89,824 Nowplaying), one per line of the prefix file.
    assert int((lengths[first_split == 2] - 1).sum()) == _gcegnn_examples(folder)
    # The papers' #train examples (prefix augmentation): README 351,268 / 719,470 / 825,304.
    assert int((lengths[first_split == 0] - 1).sum()) == train - sessions[0]


def test_gcegnn_test_sessions_match_the_prefix_file(tmp_path: Path) -> None:
    folder = _folder("session-rec-benchmarks-gcegnn/Tmall")
    ds = _ingest(load_preset("gcegnn"), folder, tmp_path / "ds")
    with gzip.open(folder / "test_prefix_label.tsv.gz", "rt") as f:
        prefix, label = next(f).rstrip("\n").split("\t")
    first_session = [*prefix.split(), label]  # the first line is the first session's longest prefix
    sequences = _sequences_by_user(ds)
    assert sequences["test-1"] == first_session


def test_hdfs_sessions_keep_their_labels_and_files(tmp_path: Path) -> None:
    ds = _ingest(load_preset("hdfs"), _folder("hdfs-deeplog"), tmp_path / "ds")

    table = ds.events([Columns.USER, Columns.ITEM, Columns.ATTRS]).to_pylist()
    sessions: dict[str, tuple[str, int]] = {}
    for event in table:
        attrs = event[Columns.ATTRS]
        key = (attrs["origin"], int(attrs["label"]))
        assert sessions.setdefault(event[Columns.USER], key) == key, "a session has one label and one file"
    per_file = collections.Counter(sessions.values())
    assert per_file == {
        ("hdfs_train", 0): 4_855,
        ("hdfs_test_abnormal", 1): 16_838,
        ("robust_log_train", 0): 6_000,
        ("robust_log_train", 1): 6_000,
        ("robust_log_valid", 0): 1_000,
        ("robust_log_valid", 1): 1_000,
    }
    # The log key is the item; the first training session is the first line of hdfs_train.
    first = (_folder("hdfs-deeplog") / "hdfs_train").read_text().splitlines()[0].split()
    assert _sequences_by_user(ds)["train-1"] == first


def test_s3rec_reads_the_other_benchmarks_by_changing_the_path(tmp_path: Path) -> None:
    config = load_preset("s3rec")
    source = config.sources[0].model_copy(update={"path": "LastFM.txt"})
    lastfm = config.model_copy(update={"name": "s3rec-lastfm", "sources": [source]})
    ds = _ingest(lastfm, _folder("seqrec-benchmarks-s3rec"), tmp_path / "ds")
    # README: LastFM 1,090 users, 3,646 items, 52,551 interactions.
    assert (ds.n_users, ds.n_items, ds.n_events) == (1_090, 3_646, 52_551)
    # Without time, the file order is the sequence order: user 1's line, item for item.
    line = (_folder("seqrec-benchmarks-s3rec") / "LastFM.txt").read_text().splitlines()[0].split()
    assert _sequences_by_user(ds)[line[0]] == line[1:]


def test_diginetica_items_get_their_categories(tmp_path: Path) -> None:
    ds = _ingest(load_preset("diginetica"), _folder("diginetica-sample"), tmp_path / "ds")
    # product-categories.csv covers every item of both files.
    assert int((ds.item_categories()[1:] == 0).sum()) == 0
    users = ds.vocab("users").values
    assert sum(1 for u in users if str(u).startswith("session-")) == 15_383 - 1_270 - 4_425 + _known_overlap()


def _known_overlap() -> int:
    """Known users present in both the view sample and the purchases file (counted once)."""
    folder = _folder("diginetica-sample")

    def known(name: str, column: str) -> set[str]:
        with (folder / name).open() as f:
            return {row[column] for row in csv.DictReader(f, delimiter=";") if row[column] != "NA"}

    return len(known("sample_train-item-views.csv", "user_id") & known("train-purchases.csv", "userId"))
