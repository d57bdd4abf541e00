"""SQLite plumbing shared by the journal, its verifier and the capture log.

The schema lives here with its migrations, keyed by PRAGMA user_version: migration N
takes a database at user_version N-1 to N, in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from camaudit.errors import JournalError

APP_ID = "camaudit-journal"


def _v1(conn: sqlite3.Connection) -> None:
    # the statements sqlite-utils' create_table wrote for this schema (the device run no
    # longer imports sqlite-utils: 3 MB resident, docs/tracks.md "Peak memory of one feed")
    conn.execute('CREATE TABLE "meta" (\n   "key" TEXT PRIMARY KEY,\n   "value" TEXT NOT NULL\n)')
    conn.execute(
        'CREATE TABLE "events" (\n   "seq" INTEGER PRIMARY KEY,\n   "ts" INTEGER NOT NULL,\n'
        '   "type" TEXT NOT NULL,\n   "feed" TEXT,\n   "capture" TEXT,\n'
        '   "hash" TEXT NOT NULL,\n   "json" TEXT NOT NULL\n)'
    )
    conn.execute("CREATE INDEX events_ts ON events(ts)")
    conn.execute("CREATE INDEX events_type ON events(type, seq)")
    # capture log: latest record per (feed, capture) without scanning the journal
    conn.execute(
        "CREATE INDEX events_capture ON events(feed, capture, seq) WHERE capture IS NOT NULL"
    )
    conn.execute('CREATE TABLE "outbox" (\n   "seq" INTEGER PRIMARY KEY\n)')


#: MIGRATIONS[i] brings user_version i to i + 1. Append only; never edit a shipped one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN ... COMMIT, rolled back if the block raises (not nestable: the caller holds
    no open transaction)."""
    conn.execute("BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply pending migrations; returns the resulting user_version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path}: schema version {current} is newer than this camaudit "
            f"understands ({SCHEMA_VERSION}); upgrade camaudit"
        )
    for version in range(current, SCHEMA_VERSION):
        with transaction(conn):
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
    return SCHEMA_VERSION


def is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "database or disk is full" in str(exc)


def journal_error(path: Path, exc: sqlite3.Error, doing: str) -> JournalError:
    """Turn a SQLite failure into one readable line."""
    if is_disk_full(exc):
        return JournalError(
            f"journal {path}: disk full while {doing}; nothing was written, earlier events "
            "are intact (free space and it continues)"
        )
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        return JournalError(f"journal {path}: not a SQLite database (file is not a database)")
    return JournalError(f"journal {path}: {doing} failed: {exc}")


def open_readonly(path: Path) -> sqlite3.Connection:
    """Open an existing journal read-only (never creates it); checks it is a camaudit one."""
    path = Path(path)
    if not path.is_file():
        raise JournalError(f"journal {path}: no such file")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise journal_error(path, exc, "opening") from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        app = conn.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        if "no such table" in str(exc):
            raise JournalError(f"journal {path}: not a camaudit journal (no meta table)") from None
        raise journal_error(path, exc, "opening") from None
    if app is None or app[0] != APP_ID:
        conn.close()
        raise JournalError(f"journal {path}: not a camaudit journal")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {k: v for k, v in conn.execute("SELECT key, value FROM meta")}
