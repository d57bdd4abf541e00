"""The device's evidence outbox: blurred evidence frames to send to the hub, until it acks them.

A table in the journal's own SQLite file (created here, `IF NOT EXISTS`, beside the
journal's schema; the journal never reads it). A row names a frame (`sha`, hex), the seq of
the first journalled event that names it and its feed; it is deleted only when the hub
acks that sha on `<p>/<device>/cmd/evidence_ack`. `cursor` (in `evidence_outbox_meta`) is
the last journal seq scanned for frames, so a restart neither skips nor repeats a frame.
Frames that cannot be sent (too large for the broker, file gone) keep their row with a
`state` saying why; the frame itself stays in `data_dir/evidence/` either way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from camaudit.errors import JournalError

log = logging.getLogger(__name__)

QUEUED = "queued"
TOO_LARGE = "too_large"
MISSING = "missing"


@dataclass(frozen=True)
class OutboxRow:
    sha: str
    seq: int
    feed: str
    tries: int
    next_ms: int


class EvidenceOutbox:
    """Thread-safe; one connection of its own to the journal file (WAL)."""

    def __init__(self, journal_path: Path, *, start_cursor: int) -> None:
        self.path = Path(journal_path)
        self._lock = threading.Lock()
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS evidence_outbox (sha TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
                "feed TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL DEFAULT 0, "
                "state TEXT NOT NULL DEFAULT 'queued')"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS evidence_outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            # first use: frames are sent from now on, not the journal's whole past
            conn.execute(
                "INSERT OR IGNORE INTO evidence_outbox_meta (key, value) VALUES ('cursor', ?)",
                (start_cursor,),
            )
        except sqlite3.Error as exc:
            raise JournalError(f"evidence outbox in {self.path}: {exc}") from None
        self._conn = conn

    @staticmethod
    def exists(journal_path: Path) -> bool:
        """Whether the journal file holds an evidence outbox (read only; False if unreadable)."""
        try:
            conn = sqlite3.connect(f"file:{Path(journal_path)}?mode=ro", uri=True)
        except sqlite3.Error:
            return False
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'evidence_outbox'").fetchone() is not None
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    @property
    def cursor(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT value FROM evidence_outbox_meta WHERE key = 'cursor'").fetchone()
        return int(row[0])

    def enqueue(self, frames: list[tuple[str, int, str]], cursor: int) -> int:
        """Add (sha, seq, feed) rows (a frame already queued keeps its first seq) and move the
        cursor to `cursor`, in one transaction. Returns rows added."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                before = c.total_changes
                c.executemany(
                    "INSERT OR IGNORE INTO evidence_outbox (sha, seq, feed) VALUES (?, ?, ?)", frames
                )
                added = c.total_changes - before
                c.execute("UPDATE evidence_outbox_meta SET value = ? WHERE key = 'cursor' AND value < ?",
                          (cursor, cursor))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return added

    def due(self, now_ms: int, max_seq: int, limit: int) -> list[OutboxRow]:
        """Queued frames whose next try is due and whose naming event is at or before
        `max_seq` (what the hub acked), oldest event first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT sha, seq, feed, tries, next_ms FROM evidence_outbox WHERE state = 'queued' "
                "AND next_ms <= ? AND seq <= ? ORDER BY seq, sha LIMIT ?",
                (now_ms, max_seq, limit),
            ).fetchall()
        return [OutboxRow(r[0], int(r[1]), r[2], int(r[3]), int(r[4])) for r in rows]

    def sent(self, sha: str, next_ms: int) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE evidence_outbox SET tries = tries + 1, next_ms = ? WHERE sha = ?", (next_ms, sha)
            )

    def retry_now(self) -> None:
        """(Re)connected: every queued frame is due again (its backoff starts over)."""
        with self._lock:
            self._conn.execute("UPDATE evidence_outbox SET next_ms = 0, tries = 0 WHERE state = 'queued'")

    def mark(self, sha: str, state: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE evidence_outbox SET state = ? WHERE sha = ?", (state, sha))

    def acked(self, sha: str) -> bool:
        """The hub stored `sha`: drop its row. True if there was one."""
        with self._lock:
            return self._conn.execute("DELETE FROM evidence_outbox WHERE sha = ?", (sha,)).rowcount > 0

    def drop_feeds_except(self, feeds: set[str]) -> int:
        """Sending was turned off for a feed: its queued frames are not sent (they stay on disk)."""
        with self._lock:
            marks = ",".join("?" * len(feeds)) or "''"
            return self._conn.execute(
                f"DELETE FROM evidence_outbox WHERE state = 'queued' AND feed NOT IN ({marks})",
                tuple(sorted(feeds)),
            ).rowcount

    def counts(self) -> dict[str, int]:
        """Rows by state (queued = not yet acked by the hub)."""
        with self._lock:
            return dict(self._conn.execute(
                "SELECT state, COUNT(*) FROM evidence_outbox GROUP BY state").fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()
