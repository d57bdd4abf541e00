"""`camaudit verify FILE` for a device journal: every hash, signature, link and checkpoint.

Opens the database read-only (a live device can keep writing) and streams the records in
seq order through core.chain.ChainVerifier, so memory stays flat on large journals.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from camaudit.core.chain import ChainVerifier
from camaudit.core.record import GENESIS_PREV, Event, RecordError
from camaudit.errors import JournalError
from camaudit.store.db import journal_error, open_readonly, read_meta

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyReport:
    """ok, or the first bad record. Counts stop at the last good record when not ok."""

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    first_bad: str | None
    device: str = ""
    start_seq: int = 0  # the chain is checked from here (last pruned seq, 0 if none)

    def summary(self) -> str:
        if self.ok:
            return (
                f"ok: {self.events} events (seq {self.start_seq + 1}..{self.head_seq}), "
                f"{self.checkpoints} checkpoints, device {self.device}"
            )
        return f"BAD: {self.first_bad}"


def verify_journal(path: Path, public_key: bytes | None = None) -> VerifyReport:
    """Check a journal end to end. `public_key` (raw 32 bytes) overrides the one in meta."""
    path = Path(path)
    conn = open_readonly(path)
    try:
        conn.execute("BEGIN")  # one read snapshot for meta and events
        return _verify(conn, path, public_key)
    except sqlite3.Error as exc:
        raise journal_error(path, exc, "verifying") from None
    finally:
        conn.close()


def _verify(conn: sqlite3.Connection, path: Path, public_key: bytes | None) -> VerifyReport:
    meta = read_meta(conn)
    device = meta.get("device", "")
    if public_key is None:
        try:
            public_key = bytes.fromhex(meta.get("public_key", ""))
        except ValueError:
            public_key = b""
        if len(public_key) != 32:
            raise JournalError(f"journal {path}: meta holds no valid public key")
    elif len(public_key) != 32:
        raise JournalError("verify: an Ed25519 public key is 32 bytes")
    start_seq = int(meta.get("pruned_seq", "0"))
    start_hash = meta.get("pruned_hash", GENESIS_PREV)

    def hash_of(seq: int) -> str | None:
        row = conn.execute("SELECT json FROM events WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return None
        try:
            return Event.from_json(row[0]).hash
        except RecordError:
            return None

    v = ChainVerifier(
        public_key, device=device, start_seq=start_seq, start_hash=start_hash, hash_of=hash_of
    )
    cur = conn.execute("SELECT seq, ts, type, feed, hash, json FROM events ORDER BY seq")
    for seq, ts, type_, feed, h, text in cur:
        try:
            ev = Event.from_json(text)
        except RecordError as exc:
            v.fail(f"seq {seq}: unreadable record: {exc}")
            break
        if ev.seq != seq:
            v.fail(f"seq {seq}: row holds the record of seq {ev.seq} (rows moved or reordered)")
            break
        if (ts, type_, feed, h) != (ev.ts, ev.type, ev.feed, ev.hash):
            v.fail(f"seq {seq}: row columns (ts/type/feed/hash) differ from the signed record")
            break
        if not v.add(ev):
            break
    cur.close()
    r = v.report()
    if not r.ok:
        log.warning("journal %s: verification failed: %s", path, r.first_bad)
    return VerifyReport(
        ok=r.ok,
        events=r.events,
        checkpoints=r.checkpoints,
        head_seq=r.head_seq,
        first_bad=r.first_bad,
        device=device,
        start_seq=start_seq,
    )
