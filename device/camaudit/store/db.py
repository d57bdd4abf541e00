"""SQLite plumbing shared by the journal, its verifier and the capture log.

The schema lives here with its migrations, keyed by PRAGMA user_version: migration N
takes a database at user_version N-1 to N, in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from camaudit.errors import JournalError

APP_ID = "camaudit-journal"


def _v1(db: Database) -> None:
    db.create_table("meta", {"key": str, "value": str}, pk="key", not_null={"value"})
    db.create_table(
        "events",
        {
            "seq": int,
            "ts": int,
            "type": str,
            "feed": str,
            "capture": str,
            "hash": str,
            "json": str,
        },
        pk="seq",
        not_null={"ts", "type", "hash", "json"},
    )
    db.execute("CREATE INDEX events_ts ON events(ts)")
    db.execute("CREATE INDEX events_type ON events(type, seq)")
    # capture log: latest record per (feed, capture) without scanning the journal
    db.execute(
        "CREATE INDEX events_capture ON events(feed, capture, seq) WHERE capture IS NOT NULL"
    )
    db.create_table("outbox", {"seq": int}, pk="seq")


#: MIGRATIONS[i] brings user_version i to i + 1. Append only; never edit a shipped one.
MIGRATIONS: list[Callable[[Database], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database, path: Path) -> int:
    """Apply pending migrations; returns the resulting user_version."""
    current = db.execute("PRAGMA user_version").fetchone()[0]
    if current > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path}: schema version {current} is newer than this camaudit "
            f"understands ({SCHEMA_VERSION}); upgrade camaudit"
        )
    for version in range(current, SCHEMA_VERSION):
        with db.atomic():
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
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
