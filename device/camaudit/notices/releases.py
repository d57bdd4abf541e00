"""Release sessions declared at the venue with `camaudit release start/stop`.

Stored in a small SQLite file (`<data_dir>/releases.db`) written by the CLI and read by the
running daemon, which polls `active_releases(data_dir, ts_ms)` and passes the result to the
policy (Moment.releases). Every session is time-bounded: it has an end from the start
(`--minutes`), and `stop` only brings the end forward.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from camaudit.core.policy import Release
from camaudit.errors import CamauditError

log = logging.getLogger(__name__)

DB_NAME = "releases.db"
MAX_MINUTES = 24 * 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ref TEXT NOT NULL,
    feeds TEXT NOT NULL,          -- JSON list of feed names
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,      -- exclusive
    created_ms INTEGER NOT NULL,
    stopped_ms INTEGER            -- set by `release stop`
);
CREATE INDEX IF NOT EXISTS releases_end ON releases(end_ms);
"""


class ReleaseError(CamauditError):
    """A release session cannot be started, stopped or read."""


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_NAME


def _connect(data_dir: Path, *, create: bool) -> sqlite3.Connection | None:
    path = db_path(data_dir)
    if not path.exists() and not create:
        return None
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(path), timeout=5.0)
        if create:
            con.executescript(_SCHEMA)
        return con
    except (sqlite3.Error, OSError) as exc:
        raise ReleaseError(f"{path}: cannot open the release store: {exc}") from None


def _row(r: tuple[str, str, int, int]) -> Release:
    return Release(ref=r[0], feeds=frozenset(json.loads(r[1])), start_ms=r[2], end_ms=r[3])


def start_release(
    data_dir: Path, ref: str, feeds: Sequence[str], now_ms: int, minutes: float
) -> Release:
    """Declare a session covered by written releases on `feeds`, from now for `minutes`."""
    if not ref.strip():
        raise ReleaseError("a release needs a reference (--ref)")
    if not feeds:
        raise ReleaseError("a release needs at least one feed (--feed)")
    if not (0 < minutes <= MAX_MINUTES):
        raise ReleaseError(f"--minutes must be between 0 and {MAX_MINUTES} (a release is time-bounded)")
    end_ms = now_ms + round(minutes * 60_000)
    con = _connect(data_dir, create=True)
    assert con is not None
    try:
        with con:
            busy = con.execute(
                "SELECT 1 FROM releases WHERE ref = ? AND end_ms > ? LIMIT 1", (ref, now_ms)
            ).fetchone()
            if busy:
                raise ReleaseError(f"release {ref!r} is already active; stop it first")
            con.execute(
                "INSERT INTO releases (ref, feeds, start_ms, end_ms, created_ms) VALUES (?, ?, ?, ?, ?)",
                (ref, json.dumps(sorted(set(feeds))), now_ms, end_ms, now_ms),
            )
    except sqlite3.Error as exc:
        raise ReleaseError(f"{db_path(data_dir)}: cannot write: {exc}") from None
    finally:
        con.close()
    log.info("release %s started on %s until %d", ref, ",".join(sorted(feeds)), end_ms)
    return Release(ref, frozenset(feeds), now_ms, end_ms)


def stop_release(data_dir: Path, ref: str, now_ms: int) -> list[Release]:
    """End the active session(s) with this reference now; returns what was stopped."""
    con = _connect(data_dir, create=False)
    if con is None:
        raise ReleaseError(f"no active release {ref!r} (no release was ever started here)")
    try:
        with con:
            rows = con.execute(
                "SELECT id, ref, feeds, start_ms, end_ms FROM releases WHERE ref = ? AND end_ms > ? AND start_ms <= ?",
                (ref, now_ms, now_ms),
            ).fetchall()
            if not rows:
                raise ReleaseError(f"no active release {ref!r}")
            con.executemany(
                "UPDATE releases SET end_ms = ?, stopped_ms = ? WHERE id = ?",
                [(now_ms, now_ms, r[0]) for r in rows],
            )
    except sqlite3.Error as exc:
        raise ReleaseError(f"{db_path(data_dir)}: cannot write: {exc}") from None
    finally:
        con.close()
    log.info("release %s stopped", ref)
    return [Release(r[1], frozenset(json.loads(r[2])), r[3], now_ms) for r in rows]


def active_releases(data_dir: Path, ts_ms: int) -> list[Release]:
    """Sessions active at ts_ms (start <= ts < end), sorted by ref; [] if none was ever made."""
    con = _connect(data_dir, create=False)
    if con is None:
        return []
    try:
        rows = con.execute(
            "SELECT ref, feeds, start_ms, end_ms FROM releases WHERE start_ms <= ? AND end_ms > ? ORDER BY ref, id",
            (ts_ms, ts_ms),
        ).fetchall()
    except sqlite3.Error as exc:
        raise ReleaseError(f"{db_path(data_dir)}: cannot read: {exc}") from None
    finally:
        con.close()
    return [_row(r) for r in rows]


def all_releases(data_dir: Path) -> list[Release]:
    con = _connect(data_dir, create=False)
    if con is None:
        return []
    try:
        rows = con.execute("SELECT ref, feeds, start_ms, end_ms FROM releases ORDER BY start_ms, id").fetchall()
    except sqlite3.Error as exc:
        raise ReleaseError(f"{db_path(data_dir)}: cannot read: {exc}") from None
    finally:
        con.close()
    return [_row(r) for r in rows]


def release_changes(
    before: Sequence[Release], after: Sequence[Release]
) -> tuple[list[Release], list[Release]]:
    """(started, ended) between two polls, for `release.start` / `release.end` events.

    A session is the same session when ref, feeds and start match (`stop` moves only its end)."""

    def ident(r: Release) -> tuple[str, int, tuple[str, ...]]:
        return (r.ref, r.start_ms, tuple(sorted(r.feeds)))

    b = {ident(r): r for r in before}
    a = {ident(r): r for r in after}
    started = [a[k] for k in sorted(a.keys() - b.keys())]
    ended = [b[k] for k in sorted(b.keys() - a.keys())]
    return started, ended
