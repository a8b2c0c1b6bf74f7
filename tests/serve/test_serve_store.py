"""The online event stores (SQLite and a real redis-server): order, idempotence, bounds, durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seqintent.errors import ArtifactError, ConfigError
from seqintent.serve.store import UserState, open_store


def ev(event_id: str, ts: int, item: str | None = "i1", user: str = "u1", **extra: object) -> dict:
    event = {"event_id": event_id, "user_id": user, "ts": ts, "action": "view", **extra}
    if item is not None:
        event["item_id"] = item
    return event


def ids(store, user: str = "u1") -> list[str]:
    return [e["event_id"] for e in store.history(user).events]


def test_events_come_back_in_time_order_with_every_field(make_store) -> None:
    store = make_store()
    full = ev(
        "e3",
        3000,
        item="x",
        category="c",
        dwell_s=2.5,
        amount=9.99,
        device="phone",
        session_id="s1",
        action_raw="pv",
        text="red shoes",
        attrs={"k": [1, 2]},
    )
    r = store.append([ev("e2", 2000), full, ev("e1", 1000)])
    assert r.counts() == {"accepted": 3, "duplicates": 0, "too_old": 0, "trimmed": 0}
    assert r.users == {"u1"}
    history = store.history("u1")
    assert [e["event_id"] for e in history.events] == ["e1", "e2", "e3"]
    assert history.events[2] == {
        "event_id": "e3",
        "user_id": "u1",
        "ts": 3000,
        "action": "view",
        "item_id": "x",
        "category": "c",
        "dwell_s": 2.5,
        "amount": 9.99,
        "device": "phone",
        "session_id": "s1",
        "action_raw": "pv",
        "text": "red shoes",
        "attrs": {"k": [1, 2]},
    }
    assert history.events[0] == {
        "event_id": "e1",
        "user_id": "u1",
        "ts": 1000,
        "action": "view",
        "item_id": "i1",
    }
    assert history.state == UserState(version=3, engaged=3)


def test_a_late_event_is_placed_by_its_time_and_ties_keep_arrival_order(make_store) -> None:
    store = make_store()
    store.append([ev("a", 1000), ev("c", 3000)])
    store.append([ev("b", 2000), ev("c2", 3000), ev("a2", 1000)])
    assert ids(store) == ["a", "a2", "b", "c", "c2"]
    assert [e["event_id"] for e in store.history("u1", limit=2).events] == ["c", "c2"]


def test_the_same_event_twice_changes_nothing(make_store) -> None:
    store = make_store()
    store.append([ev("a", 1000), ev("b", 2000)])
    before = store.history("u1")
    r = store.append([ev("b", 2000), ev("a", 1000), ev("a", 1000)])
    assert r.counts() == {"accepted": 0, "duplicates": 3, "too_old": 0, "trimmed": 0}
    assert r.users == set()
    assert store.history("u1") == before
    # within one request too: the second copy is a duplicate of the first
    r = store.append([ev("c", 3000), ev("c", 3000)])
    assert (r.accepted, r.duplicates) == (1, 1)
    assert store.state("u1") == UserState(version=3, engaged=3)


def test_histories_are_bounded_and_too_old_events_are_counted(make_store) -> None:
    store = make_store(max_events=3)
    r = store.append([ev(f"e{t}", t * 1000) for t in range(1, 6)])
    assert r.counts() == {"accepted": 5, "duplicates": 0, "too_old": 0, "trimmed": 2}
    assert ids(store) == ["e3", "e4", "e5"]
    # full: older than the oldest kept → not stored; newer → stored, the oldest trimmed
    r = store.append([ev("old", 2500), ev("late", 3500)])
    assert r.counts() == {"accepted": 1, "duplicates": 0, "too_old": 1, "trimmed": 1}
    assert ids(store) == ["late", "e4", "e5"]
    assert [e["ts"] for e in store.history("u1").events] == [3500, 4000, 5000]
    assert store.stats().events == 3


def test_a_trimmed_event_sent_again_is_still_a_duplicate(make_store) -> None:
    store = make_store(max_events=2)
    # three events at the same time: the first is trimmed, yet it is not older than the kept ones
    store.append([ev("a", 1000), ev("b", 1000), ev("c", 1000)])
    assert ids(store) == ["b", "c"]
    r = store.append([ev("a", 1000)])
    assert r.counts() == {"accepted": 0, "duplicates": 1, "too_old": 0, "trimmed": 0}
    assert ids(store) == ["b", "c"]
    # once the oldest kept time moves on, the old id is simply too old
    store.append([ev("d", 2000), ev("e", 3000)])
    r = store.append([ev("a", 1000)])
    assert (r.duplicates, r.too_old) == (0, 1)


def test_engaged_counts_only_flagged_events(make_store) -> None:
    store = make_store()
    store.append([ev("a", 1000), ev("b", 2000, item=None), ev("c", 3000)], engaged=[True, False, True])
    assert store.state("u1") == UserState(version=3, engaged=2)
    assert store.state("nobody") == UserState(0, 0)
    assert store.history("nobody").events == []


def test_users_are_kept_apart_and_counted(make_store) -> None:
    store = make_store(max_events=2)
    store.append([ev("a", 1, user="u1"), ev("a", 1, user="u2"), ev("b", 2, user="u2"), ev("c", 3, user="u2")])
    assert ids(store, "u1") == ["a"]
    assert ids(store, "u2") == ["b", "c"]
    stats = store.stats()
    assert (stats.users, stats.events) == (2, 3)


def test_replicas_sharing_a_store_see_each_others_events(make_store) -> None:
    one, two = make_store(), make_store()
    one.append([ev("a", 1000)])
    r = two.append([ev("a", 1000), ev("b", 2000)])
    assert (r.accepted, r.duplicates) == (1, 1)
    assert ids(one) == ["a", "b"]
    assert one.state("u1") == two.state("u1") == UserState(2, 2)


def test_concurrent_appends_lose_nothing(make_store) -> None:
    store = make_store(max_events=1000)
    n_threads, per_thread = 4, 25

    def work(t: int) -> None:
        for i in range(per_thread):
            store.append([ev(f"{t}-{i}", 1000 + i), ev(f"{t}-{i}", 1000 + i)])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(ids(store)) == n_threads * per_thread
    assert store.state("u1").version == n_threads * per_thread


def test_reopening_keeps_every_event(make_store) -> None:
    store = make_store()
    store.append([ev("a", 1000), ev("b", 2000)])
    store.close()
    again = make_store()
    assert ids(again) == ["a", "b"]
    assert again.state("u1") == UserState(2, 2)


_WRITER = """
import sys
from seqintent.serve.store import open_store
store = open_store(sys.argv[1], max_events=10000)
for i in range(100000):
    store.append([{"event_id": f"e{i}", "user_id": "u1", "ts": i, "action": "view"}])
    print(i, flush=True)  # acknowledged
"""


def test_a_killed_writer_loses_no_acknowledged_event(store_url: str) -> None:
    """SIGKILL the writing process mid-stream: every event it acknowledged is there after a reopen."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store_url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acked = -1
    deadline = time.monotonic() + 30
    while acked < 30 and time.monotonic() < deadline:
        acked = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked = max([acked] + [int(line) for line in proc.stdout.read().split()])
    assert acked >= 30
    store = open_store(store_url, max_events=10000)
    try:
        kept = {e["event_id"] for e in store.history("u1").events}
    finally:
        store.close()
    assert {f"e{i}" for i in range(acked + 1)} <= kept


def test_redis_server_restart_loses_no_acknowledged_event(tmp_path: Path) -> None:
    from service_builders import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        store = open_store(server.url, max_events=3)
        store.append([ev(f"e{t}", t) for t in range(5)], engaged=[True, False, True, False, True])
        store.close()
        server.stop(kill=True)
        server.start()
        store = open_store(server.url, max_events=3)
        assert ids(store) == ["e2", "e3", "e4"]
        assert store.state("u1") == UserState(5, 3)
        assert (store.stats().users, store.stats().events) == (1, 3)
        r = store.append([ev("e1", 1)])  # trimmed at an older time: too old now
        assert r.too_old == 1
        store.close()
    finally:
        server.stop()


def test_bad_urls_and_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown event store URL scheme"):
        open_store("postgres://x/y")
    with pytest.raises(ConfigError, match="unknown option in the SQLite store URL"):
        open_store(f"sqlite:///{tmp_path}/a.db?sync=full")
    with pytest.raises(ConfigError, match="unknown SQLite synchronous mode"):
        open_store(f"sqlite:///{tmp_path}/a.db?synchronous=off")
    with pytest.raises(ConfigError, match="needs a file path"):
        open_store("sqlite://")
    other = tmp_path / "other.db"
    import sqlite3

    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    with pytest.raises(ArtifactError, match="not a seqintent event store"):
        open_store(f"sqlite:///{other}")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(ArtifactError, match="cannot open as SQLite"):
        open_store(f"sqlite:///{garbage}")


def test_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    store = open_store(f"sqlite:///{tmp_path}/events.db")
    store.append([ev("a", 1)])
    store.close()
    conn = sqlite3.connect(tmp_path / "events.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


_OPENER = """
import sys, time
from seqintent.serve.store import open_store
start_at = float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))  # every process opens the new file at the same moment
store = open_store(sys.argv[1])
store.append([{"event_id": sys.argv[3], "user_id": "u1", "ts": 1, "action": "view"}])
store.close()
"""


def test_processes_opening_one_new_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Server workers start together: switching a new file to WAL locks it, and the others retry."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start_at = time.time() + 3.0  # after every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, url, str(start_at), f"p{i}"], env=env, stderr=subprocess.PIPE
        )
        for i in range(6)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    store = open_store(url)
    try:
        assert sorted(e["event_id"] for e in store.history("u1").events) == [f"p{i}" for i in range(6)]
    finally:
        store.close()
