"""The custody log in the hub store (table `custody`, schema v4): appended under the
store's write lock (SQLite) or an advisory lock (PostgreSQL), so several hub processes on
one store keep one chain."""

from __future__ import annotations

import getpass
import json
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

from camaudit.hub.store.records import HubError, _text
from camaudit.hub.store.sql import Sql, SqlError
from camaudit.store.keys import DeviceKey
from camaudit.trust.custody import GENESIS, CustodyError, check_run, make_entry, parse_line, to_line

log = logging.getLogger(__name__)

_LOCK_KEY = 0x63757374  # "cust": PostgreSQL advisory lock held while appending


def cli_who() -> str:
    """Who runs a `camaudit hub ...` command: user@host (the command line)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "?"
    return f"{user}@{socket.gethostname()} (command line)"


class CustodyLog:
    """Append and read the hub's custody log. `key`: the hub key that signs each entry
    (None: entries are chained but unsigned; a hub always has its key, tests may not)."""

    def __init__(self, sql: Sql, key: DeviceKey | None) -> None:
        self.sql = sql
        self.key = key

    def record(self, who: str, what: str, where: str, detail: Mapping[str, Any] | None = None,
               *, now_ms: int | None = None) -> dict[str, Any]:
        """Append one entry; returns it. A failure is a HubError (the action it records is
        not allowed to go unrecorded: callers let it fail the request)."""
        ts = int(time.time() * 1000) if now_ms is None else now_ms
        sign = self.key.sign if self.key is not None else None
        try:
            with self.sql.lock, self.sql.transaction():
                if self.sql.dialect == "postgresql":
                    self.sql.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
                row = self.sql.execute("SELECT seq, hash, ts FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev, last_ts = (int(row[0]) + 1, str(row[1]), int(row[2])) if row else (1, GENESIS, 0)
                entry = make_entry(seq=seq, ts=max(ts, last_ts), who=who, what=what, where=where,
                                   detail=detail or {}, prev=prev, sign=sign)
                self.sql.execute("INSERT INTO custody (seq, ts, what, hash, json) VALUES (?,?,?,?,?)",
                                 (seq, entry["ts"], entry["what"], entry["hash"], to_line(entry)))
        except SqlError as exc:
            raise HubError(f"custody log: {exc}") from None
        log.info("custody %d: %s by %s from %s", seq, what, who, where)
        return entry

    def lines(self, since_ms: int | None = None, from_seq: int | None = None) -> list[str]:
        """The entries (JSON lines) with ts >= since_ms / seq >= from_seq, in order."""
        q, args = "SELECT json FROM custody WHERE 1=1", list[int]()
        if since_ms is not None:
            q, args = q + " AND ts >= ?", [*args, since_ms]
        if from_seq is not None:
            q, args = q + " AND seq >= ?", [*args, from_seq]
        with self.sql.lock:
            rows = self.sql.execute(q + " ORDER BY seq", args).fetchall()
        return [_text(r[0]) for r in rows]

    def entries(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        return [json.loads(t) for t in self.lines(since_ms)]

    def run_for_pack(self, since_ms: int, through_seq: int) -> list[str]:
        """The contiguous run a pack carries: from the first entry at or after `since_ms`
        through entry `through_seq` (the pack's own export entry)."""
        with self.sql.lock:
            row = self.sql.execute("SELECT MIN(seq) FROM custody WHERE ts >= ?", (since_ms,)).fetchone()
            lo = int(row[0]) if row and row[0] is not None else through_seq
            rows = self.sql.execute("SELECT json FROM custody WHERE seq >= ? AND seq <= ? ORDER BY seq",
                                    (min(lo, through_seq), through_seq)).fetchall()
        return [_text(r[0]) for r in rows]

    def check(self) -> int:
        """Check the whole stored log (chain, and signatures when the key is known);
        returns its entry count. HubError naming the first bad entry."""
        if self.key is None:
            raise HubError("custody log: no hub key to check it against")
        entries = [parse_line(t, f"custody entry {i}") for i, t in enumerate(self.lines(), 1)]
        try:
            check_run(entries, self.key.public_bytes, name="hub store custody log")
        except CustodyError as exc:
            raise HubError(str(exc)) from None
        if entries and entries[0]["seq"] != 1:
            raise HubError(f"hub store custody log: starts at entry {entries[0]['seq']}: entries before it were removed")
        return len(entries)


def acknowledged(clog: CustodyLog | None, who: str, where: str, device: str, seq: int,
                 **detail: Any) -> None:
    """Record an alert acknowledgement (device, the alert record's seq). For the page's
    acknowledge button (hubux) and any other place an alert is acknowledged."""
    if clog is not None:
        clog.record(who, "alert.ack", where, {"device": device, "seq": seq, **detail})


def custody_log(store: Any, hub_key: Any) -> CustodyLog:
    """The custody log of a hub store (`store.sql`), signed by the key at `hub_key` when
    that file exists (a hub always has one; `hub_key` None: unsigned entries)."""
    from pathlib import Path

    from camaudit.store.keys import load_key

    key = load_key(Path(hub_key)) if hub_key is not None and Path(hub_key).is_file() else None
    return CustodyLog(store.sql, key)
