"""The embedded event store: one SQLite file in WAL mode (readers never wait for the writer).

Each append is one ``BEGIN IMMEDIATE`` transaction, committed before :meth:`append` returns; with
``synchronous=FULL`` (the default) the commit is on disk, so neither a crash of the service nor
of the machine loses an acknowledged event. ``synchronous=NORMAL`` (``?synchronous=normal`` in the
URL) survives a crash of the service but may lose the last commits on power loss, and is faster.
Every thread uses its own connection; several processes may share the file on one machine.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seqintent.errors import ArtifactError, ConfigError
from seqintent.schema.columns import Columns
from seqintent.serve.store._base import (
    AppendResult,
    EventStore,
    StoreStats,
    UserHistory,
    UserState,
    split_extra,
)

SCHEMA_VERSION = 1
SYNCHRONOUS = ("full", "normal")
BUSY_TIMEOUT_S = 30.0  # how long a connection waits for another one's lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,  -- arrival order: the tie-break between events of the same time
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    action TEXT NOT NULL,
    item_id TEXT,
    category TEXT,
    dwell_s REAL,
    amount REAL,
    device TEXT,
    session_id TEXT,
    extra TEXT  -- JSON: action_raw, text, attrs
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (user_id, event_id);
CREATE INDEX IF NOT EXISTS events_by_time ON events (user_id, ts, seq);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    n INTEGER NOT NULL,
    version INTEGER NOT NULL,
    engaged INTEGER NOT NULL
) WITHOUT ROWID;
-- ids of events trimmed at the oldest kept time, so re-sending one is still a duplicate
CREATE TABLE IF NOT EXISTS trimmed (
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (user_id, event_id)
) WITHOUT ROWID;
"""

_COLUMNS = (
    Columns.EVENT_ID,
    Columns.TIME,
    Columns.ACTION,
    Columns.ITEM,
    Columns.CATEGORY,
    Columns.DWELL,
    Columns.AMOUNT,
    Columns.DEVICE,
    Columns.SESSION,
)
_SELECT = f"SELECT {', '.join(_COLUMNS)}, extra FROM events"
_PLACES = ", ".join("?" * (len(_COLUMNS) + 2))
_INSERT = f"INSERT INTO events (user_id, {', '.join(_COLUMNS)}, extra) VALUES ({_PLACES})"


class SQLiteEventStore(EventStore):
    """Event store in a SQLite file (created when missing). See the module docstring.

    Parameters
    ----------
    path:
        The database file.
    max_events:
        Events kept per user.
    synchronous:
        ``"full"`` (every commit on disk) or ``"normal"`` (on disk at checkpoints; see module docstring).

    Raises
    ------
    ArtifactError
        If the file is not a seqintent event store of a supported version.
    """

    def __init__(self, path: str | Path, max_events: int = 500, *, synchronous: str = "full") -> None:
        super().__init__(max_events)
        if synchronous not in SYNCHRONOUS:
            raise ConfigError(
                "unknown SQLite synchronous mode",
                key="synchronous",
                value=synchronous,
                candidates=SYNCHRONOUS,
            )
        self.path = Path(path)
        self.synchronous = synchronous
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables - {"events", "users", "trimmed"}:
            raise ArtifactError(
                "not a seqintent event store (it holds other tables)",
                file=str(self.path),
                fix="give a new file or one written by seqintent serve",
            )
        if version not in (0, SCHEMA_VERSION):
            raise ArtifactError(
                f"event store schema version {version} is not supported (expected {SCHEMA_VERSION})",
                file=str(self.path),
                fix="use a new store file, or the seqintent version that wrote this one",
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn, mode = self._connect()
            if mode.lower() != "wal":
                raise ArtifactError(f"SQLite refused WAL mode (journal mode {mode})", file=str(self.path))
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _connect(self) -> tuple[sqlite3.Connection, str]:
        """A connection in WAL mode, and the journal mode SQLite reports.

        Switching a new file to WAL takes an exclusive lock that SQLite does not wait for: when
        several server processes open the same new file at once, all but one get "database is
        locked" at once. They retry here, within the same 30 s a busy write waits.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.01
        while True:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
            )
            try:
                return conn, conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as exc:
                conn.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise ArtifactError(f"cannot open as SQLite: {exc}", file=str(self.path)) from None
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise ArtifactError(f"cannot open as SQLite: {exc}", file=str(self.path)) from None
            time.sleep(pause)
            pause = min(2 * pause, 0.5)

    def append(
        self, events: Sequence[Mapping[str, Any]], engaged: Sequence[bool] | None = None
    ) -> AppendResult:
        result = AppendResult()
        if not events:
            return result
        by_user: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            by_user.setdefault(str(event[Columns.USER]), []).append(i)
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for user, rows in by_user.items():
                self._append_user(
                    conn,
                    user,
                    [events[i] for i in rows],
                    [engaged is None or engaged[i] for i in rows],
                    result,
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    def _append_user(
        self,
        conn: sqlite3.Connection,
        user: str,
        events: list[Mapping[str, Any]],
        engaged: list[bool],
        result: AppendResult,
    ) -> None:
        row = conn.execute("SELECT n, version, engaged FROM users WHERE user_id = ?", (user,)).fetchone()
        n, version, n_engaged = row if row else (0, 0, 0)
        for event, flag in zip(events, engaged, strict=True):
            event_id, ts = str(event[Columns.EVENT_ID]), int(event[Columns.TIME])
            known = conn.execute(
                "SELECT 1 FROM events WHERE user_id = ? AND event_id = ? "
                "UNION ALL SELECT 1 FROM trimmed WHERE user_id = ? AND event_id = ?",
                (user, event_id, user, event_id),
            ).fetchone()
            if known:
                result.duplicates += 1
                continue
            if n >= self.max_events and ts < self._oldest_ts(conn, user):
                result.too_old += 1
                continue
            extra = split_extra(event)
            conn.execute(
                _INSERT,
                (
                    user,
                    event_id,
                    ts,
                    *(event.get(c) for c in _COLUMNS[2:]),
                    None if extra is None else json.dumps(extra, ensure_ascii=False),
                ),
            )
            n, version, n_engaged = n + 1, version + 1, n_engaged + bool(flag)
            result.accepted += 1
            result.users.add(user)
            if n > self.max_events:
                result.trimmed += self._trim(conn, user, n - self.max_events)
                n = self.max_events
        conn.execute(
            "INSERT INTO users (user_id, n, version, engaged) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET n = excluded.n, version = excluded.version, "
            "engaged = excluded.engaged",
            (user, n, version, n_engaged),
        )

    @staticmethod
    def _oldest_ts(conn: sqlite3.Connection, user: str) -> int:
        row = conn.execute(
            "SELECT ts FROM events WHERE user_id = ? ORDER BY ts, seq LIMIT 1", (user,)
        ).fetchone()
        return row[0]

    def _trim(self, conn: sqlite3.Connection, user: str, count: int) -> int:
        gone = conn.execute(
            "SELECT seq, event_id, ts FROM events WHERE user_id = ? ORDER BY ts, seq LIMIT ?", (user, count)
        ).fetchall()
        conn.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _, _ in gone])
        conn.executemany(
            "INSERT OR REPLACE INTO trimmed (user_id, event_id, ts) VALUES (?, ?, ?)",
            [(user, event_id, ts) for _, event_id, ts in gone],
        )
        # only ids at the oldest kept time can come back without being too old
        conn.execute("DELETE FROM trimmed WHERE user_id = ? AND ts < ?", (user, self._oldest_ts(conn, user)))
        return len(gone)

    def history(self, user_id: str, limit: int | None = None) -> UserHistory:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            rows = conn.execute(
                f"{_SELECT} WHERE user_id = ? ORDER BY ts DESC, seq DESC LIMIT ?",
                (user_id, -1 if limit is None else int(limit)),
            ).fetchall()
            state = self._state(conn, user_id)
        finally:
            conn.execute("COMMIT")
        events = []
        for values in reversed(rows):
            event = {Columns.USER: user_id}
            for name, value in zip(_COLUMNS, values[:-1], strict=True):
                if value is not None:
                    event[name] = value
            if values[-1] is not None:
                event.update(json.loads(values[-1]))
            events.append(event)
        return UserHistory(events, state)

    @staticmethod
    def _state(conn: sqlite3.Connection, user_id: str) -> UserState:
        row = conn.execute("SELECT version, engaged FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return UserState(*row) if row else UserState()

    def state(self, user_id: str) -> UserState:
        return self._state(self._conn(), user_id)

    def stats(self) -> StoreStats:
        users, events = self._conn().execute("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM users").fetchone()
        return StoreStats(users=users, events=events)

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
