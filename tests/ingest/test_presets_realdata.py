"""Every preset ingests its real folder of ``../shared/data`` and gets the counts the folder's README states.

Expected figures are the README's (rows, users, items, action mix, time range); where a cleaning rule
of the preset applies, the drop count is the one found by an independent query of the raw files (noted
beside it). ``SEQINTENT_SHARED_DATA`` points elsewhere than ``<repo>/../shared/data``.
"""

from __future__ import annotations

import collections
import csv
import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
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


def _ingest(config: DatasetConfig, path: Path, out: Path) -> Dataset:
    from seqintent.ingest import ingest

    return ingest(path, config, out)


def _folder(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Dataset]:
    """Ingest (preset, folder) once for the whole module: several tests look at the same Dataset."""
    done: dict[tuple[str, str], Dataset] = {}

    def get(preset: str, folder: str) -> Dataset:
        if (preset, folder) not in done:
            out = tmp_path_factory.mktemp(preset) / "ds"
            done[preset, folder] = _ingest(load_preset(preset), _folder(folder), out)
        return done[preset, folder]

    return get


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
    categories: int = 0
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
        dropped={"outside_window": 35},
        users=815,
        items=55_344,
        actions={"view": 75_872 - 35, "cart": 4_497, "fav": 2_356, "buy": 1_750},
        categories=2_914 - 1,  # README: 2,914; one category only occurs in the dropped rows
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
        categories=3_913,
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
        categories=464,
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
        categories=824,  # product-categories.csv, over the items of both files
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
        categories=216,  # distinct genre sets of u.item
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
        categories=902,  # distinct genre sets of movies.csv
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


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.preset}:{c.folder.split('/')[-1]}")
def test_preset_ingests_its_folder_with_the_readme_counts(
    case: Expected, ingested: Callable[[str, str], Dataset]
) -> None:
    ds = ingested(case.preset, case.folder)

    stats = ds.stats
    assert stats["events_read"] == case.events_read
    assert _nonzero(stats["dropped"]) == case.dropped
    assert stats["events_kept"] == case.events_kept == ds.n_events
    assert (stats["users"], stats["items"], stats["categories"]) == (case.users, case.items, case.categories)
    assert (ds.n_users, ds.n_items) == (case.users, case.items)
    assert _nonzero(stats["actions"]) == case.actions
    assert _action_counts(ds) == case.actions

    if case.time_ms is None:
        assert not ds.has_time
        assert stats["time_range"] is None
    else:
        assert ds.has_time
        ts = ds.events([Columns.TIME]).column(Columns.TIME)
        assert (pc.min(ts).as_py(), pc.max(ts).as_py()) == case.time_ms
        assert (stats["time_range"]["start_ms"], stats["time_range"]["end_ms"]) == case.time_ms
    if case.splits is not None:
        assert {s: int(ds.split_mask(s).sum()) for s in ("train", "valid", "test")} == case.splits
        assert stats["splits"] == case.splits


# --- preset-specific behaviour ----------------------------------------------------------------------


def _sequences_by_user(ds: Dataset, users: list[str] | None = None) -> dict[str, list[str]]:
    """Item ids of each user's kept events, in sequence order (as text)."""
    table = ds.events([Columns.USER, Columns.ITEM, Columns.EVENT_INDEX])
    if users is not None:
        table = table.filter(pc.is_in(pc.cast(table[Columns.USER], "string"), pa.array(users)))
    table = table.sort_by(Columns.EVENT_INDEX)
    out: dict[str, list[str]] = collections.defaultdict(list)
    for user, item in zip(table[Columns.USER].to_pylist(), table[Columns.ITEM].to_pylist(), strict=True):
        out[str(user)].append(str(item))
    return dict(out)


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


def test_taobao_5core_gives_the_recbole_peer_sequences(ingested: Callable[[str, str], Dataset]) -> None:
    ds = ingested("taobao-5core", "taobao-userbehavior-sample")

    # The converter prints "11887 interactions, 477 users, 1655 items".
    assert (ds.n_events, ds.n_users, ds.n_items) == (11_887, 477, 1_655)
    assert _nonzero(ds.stats["dropped"]) == {"outside_window": 35, "kcore": 84_440 - 11_887}
    peer = _peer_taobao_5core(_folder("taobao-userbehavior-sample") / "UserBehavior.csv")
    assert _sequences_by_user(ds) == peer
    # Leave-one-out: every user keeps >= 5 events, so one test and one valid event each.
    assert ds.stats["splits"] == {"train": 11_887 - 2 * 477, "valid": 477, "test": 477}


@pytest.mark.slow
def test_kuairand_expands_exposures_into_feedback_events(ingested: Callable[[str, str], Dataset]) -> None:
    ds = ingested("kuairand", "kuairand-pure-standard-0425-0508")

    stats = ds.stats
    # README: 228,329 exposure rows; flags click 100,900, long_view 70,963, like 3,915, follow 304,
    # comment 579, forward 195, hate 190: 405,375 events before cleaning.
    assert stats["events_read"] == 228_329 + 100_900 + 70_963 + 3_915 + 304 + 579 + 195 + 190
    # Clicks with < 1 s of play are misclicks (1,617); then the events of the 5,460 exact duplicate
    # rows, and of rows repeating user, video and millisecond, go as duplicates (7,305).
    assert _nonzero(stats["dropped"]) == {"misclick": 1_617, "duplicate": 7_305}
    assert stats["events_kept"] == 396_453
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

    events = ds.events([Columns.ACTION, Columns.DWELL, Columns.ATTRS])
    by_action = events.group_by(Columns.ACTION).aggregate([(Columns.DWELL, "min")]).to_pylist()
    min_dwell = {row[Columns.ACTION]: row[f"{Columns.DWELL}_min"] for row in by_action}
    assert min_dwell["click"] >= 1.0  # the misclick rule held
    assert min_dwell["expose"] == 0.0  # unplayed exposures stay: the skip signal
    attrs = events[Columns.ATTRS]
    assert {"watch_ratio", "tab", "duration_s", "profile_enter"} <= {f.name for f in attrs.type}
    # One row's events sit together, expose first: user 1's exposure of video 5133 (clicked, long view).
    ordered = ds.events([Columns.USER, Columns.ITEM, Columns.ACTION, Columns.EVENT_INDEX])
    ordered = ordered.sort_by(Columns.EVENT_INDEX)
    row = ordered.filter(pc.and_(pc.equal(ordered[Columns.USER], 1), pc.equal(ordered[Columns.ITEM], 5133)))
    assert row[Columns.ACTION].to_pylist() == ["expose", "click", "long_view"]
    # The video table's primary tag is the category of almost every video.
    assert int((ds.item_categories()[1:] > 0).sum()) > 0.95 * ds.n_items
    users = ds.users_table()
    assert users is not None and users.num_rows == 27_285  # README: user_features_pure.csv


def _prefix_file_lines(folder: Path) -> list[str]:
    with gzip.open(folder / "test_prefix_label.tsv.gz", "rt") as f:
        return f.read().splitlines()


@pytest.mark.parametrize(
    ("subset", "train", "test", "sessions", "items"),
    [
        ("Tmall", 416_554, 26_925, (65_286, 1_027), 40_727),
        pytest.param("diginetica", 906_140, 76_821, (186_670, 15_963), 43_097, marks=pytest.mark.slow),
        pytest.param("Nowplaying", 953_381, 104_303, (128_077, 14_479), 60_416, marks=pytest.mark.slow),
    ],
)
def test_gcegnn_rebuilds_the_papers_examples(
    subset: str,
    train: int,
    test: int,
    sessions: tuple[int, int],
    items: int,
    ingested: Callable[[str, str], Dataset],
) -> None:
    folder = f"session-rec-benchmarks-gcegnn/{subset}"
    ds = ingested("gcegnn", folder)

    assert ds.n_items == items
    assert ds.stats["splits"] == {"train": train, "valid": 0, "test": test}
    lengths = ds.sequences.lengths
    split = np.asarray(ds.sequences["split"])
    session_split = split[np.asarray(ds.sequences.offsets)[:-1]]
    n_train, n_test = int((session_split == 0).sum()), int((session_split == 2).sum())
    assert (n_train, n_test) == sessions
    # The papers' #test examples: every position but the first of every test session, one per line of
    # the prefix file (README: 25,898 Tmall, 60,858 diginetica, 89,824 Nowplaying).
    lines = _prefix_file_lines(_folder(folder))
    assert int((lengths[session_split == 2] - 1).sum()) == len(lines)
    # The papers' #train examples (prefix augmentation; README 351,268 / 719,470 / 825,304).
    assert int((lengths[session_split == 0] - 1).sum()) == train - n_train
    # The first line is the longest prefix of the first test session.
    prefix, label = lines[0].split("\t")
    assert _sequences_by_user(ds, ["test-1"])["test-1"] == [*prefix.split(), label]


def test_hdfs_sessions_keep_their_labels_and_files(ingested: Callable[[str, str], Dataset]) -> None:
    ds = ingested("hdfs", "hdfs-deeplog")

    events = ds.events([Columns.USER, Columns.ATTRS])
    attrs = events[Columns.ATTRS]
    table = pa.table(
        {
            "user": events[Columns.USER],
            "origin": pc.struct_field(attrs, "origin"),
            "label": pc.struct_field(attrs, "label"),
        }
    )
    per_session = table.group_by(["user", "origin", "label"]).aggregate([])
    assert per_session.num_rows == ds.n_users, "every session has one label and one file"
    per_file = collections.Counter(
        zip(per_session["origin"].to_pylist(), per_session["label"].to_pylist(), strict=True)
    )
    assert per_file == {
        ("hdfs_train", 0): 4_855,
        ("hdfs_test_abnormal", 1): 16_838,
        ("robust_log_train", 0): 6_000,
        ("robust_log_train", 1): 6_000,
        ("robust_log_valid", 0): 1_000,
        ("robust_log_valid", 1): 1_000,
    }
    # The log key is the item: a session is its line of the file, key for key.
    folder = _folder("hdfs-deeplog")
    train_line = (folder / "hdfs_train").read_text().splitlines()[0].split()
    with (folder / "robust_log_valid.csv").open() as f:
        valid_row = next(csv.DictReader(f))["Sequence"].split()
    got = _sequences_by_user(ds, ["train-1", "robust-valid-1"])
    assert got == {"train-1": train_line, "robust-valid-1": valid_row}


def test_s3rec_reads_the_other_benchmarks_given_their_file(tmp_path: Path) -> None:
    # The preset's comment: give the file instead of the folder to read another of the five datasets.
    ds = _ingest(load_preset("s3rec"), _folder("seqrec-benchmarks-s3rec") / "LastFM.txt", tmp_path / "ds")
    # README: LastFM 1,090 users, 3,646 items, 52,551 interactions.
    assert (ds.n_users, ds.n_items, ds.n_events) == (1_090, 3_646, 52_551)
    # Without time, the file order is the sequence order: the first user's line, item for item.
    line = (_folder("seqrec-benchmarks-s3rec") / "LastFM.txt").read_text().splitlines()[0].split()
    assert _sequences_by_user(ds, [line[0]]) == {line[0]: line[1:]}


def test_s3rec_reads_each_files_item_attributes(
    ingested: Callable[[str, str], Dataset], tmp_path: Path
) -> None:
    beauty = ingested("s3rec", "seqrec-benchmarks-s3rec")
    items = beauty.items_table().to_pydict()
    # README: every one of Beauty's 12,101 items has its list (categories and brand)
    assert len(items["item_id"]) == 12_101 and None not in items["item_index"]
    source = json.loads((_folder("seqrec-benchmarks-s3rec") / "Beauty_item2attributes.json").read_text())
    row = items["item_id"].index("4")
    assert items["attributes"][row] == source["4"] == [1, 2, 3]
    # given another file, {stem} picks that file's attributes
    lastfm = _ingest(load_preset("s3rec"), _folder("seqrec-benchmarks-s3rec") / "LastFM.txt", tmp_path / "ds")
    assert lastfm.stats["side_tables"]["items"]["rows"] == len(
        json.loads((_folder("seqrec-benchmarks-s3rec") / "LastFM_item2attributes.json").read_text())
    )


def test_diginetica_anonymous_sessions_stand_for_users(ingested: Callable[[str, str], Dataset]) -> None:
    ds = ingested("diginetica", "diginetica-sample")
    # product-categories.csv covers every item of both files.
    assert int((ds.item_categories()[1:] == 0).sum()) == 0
    # 1,270 known users in the views, 4,425 in the purchases, 71 in both; the other 9,759 users are
    # anonymous sessions.
    users = [str(u) for u in ds.vocab("users").values]
    assert sum(u.startswith("session-") for u in users) == 9_759
    assert len(users) == 1_270 + 4_425 - 71 + 9_759


def test_movielens_keep_ratings_tags_and_side_tables(ingested: Callable[[str, str], Dataset]) -> None:
    latest = ingested("movielens-latest", "movielens-latest-small")
    events = latest.events([Columns.ACTION, Columns.ACTION_RAW, Columns.TEXT, Columns.ATTRS])
    reviews = events.filter(pc.equal(events[Columns.ACTION], "review"))
    assert set(reviews[Columns.ACTION_RAW].to_pylist()) == {"tag"}
    assert reviews[Columns.TEXT].null_count == 0
    # 49 tags share user, movie and second with another tag: all kept (the duplicate rule is off).
    assert reviews.num_rows == 1_296
    rated = events.filter(pc.equal(events[Columns.ACTION], "rate"))
    ratings = pc.struct_field(rated[Columns.ATTRS], "rating")
    assert (pc.min(ratings).as_py(), pc.max(ratings).as_py(), ratings.null_count) == (0.5, 5.0, 0)

    ml100k = ingested("movielens-100k", "movielens-100k")
    users, items = ml100k.users_table(), ml100k.items_table()
    assert users is not None and items is not None
    assert (users.num_rows, items.num_rows) == (943, 1_682)
    toy_story = items.filter(pc.equal(pc.cast(items["item_id"], "string"), "1")).to_pylist()[0]
    assert (toy_story["title"], toy_story["category"]) == ("Toy Story (1995)", "Animation|Children's|Comedy")
