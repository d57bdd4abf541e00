"""`camaudit verify FILE` for a device journal: every hash, signature, link and checkpoint.

Opens the database read-only (a live device can keep writing) and streams the records in
seq order through core.chain.ChainVerifier, so memory stays flat on large journals. On a
large journal the per-record signatures (most of the cost) are checked by worker
processes meanwhile (store.sigcheck); the report is the same either way.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from camaudit.core.chain import ChainVerifier
from camaudit.core.record import GENESIS_PREV, Event, RecordError
from camaudit.errors import JournalError
from camaudit.store.db import journal_error, open_readonly, read_meta
from camaudit.store.sigcheck import SignaturePool
from camaudit.trust.retention import PRUNED, names_point

log = logging.getLogger(__name__)

#: From this many records on, signatures are checked on other cores (when there are any).
PARALLEL_FROM = 20_000
MAX_WORKERS = 3


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
    public_key: bytes = b""  # the key the records were checked against

    def summary(self) -> str:
        if self.ok:
            return (
                f"ok: {self.events} events (seq {self.start_seq + 1}..{self.head_seq}), "
                f"{self.checkpoints} checkpoints, device {self.device}"
            )
        return f"BAD: {self.first_bad}"


def verify_journal(
    path: Path, public_key: bytes | None = None, *, workers: int | None = None
) -> VerifyReport:
    """Check a journal end to end. `public_key` (raw 32 bytes) overrides the one in meta.

    `workers`: processes that check signatures alongside (0: none, all in this process;
    None: automatic, used from PARALLEL_FROM records on when the machine has spare cores).
    """
    path = Path(path)
    conn = open_readonly(path)
    try:
        conn.execute("BEGIN")  # one read snapshot for meta and events
        return _verify(conn, path, public_key, workers)
    except sqlite3.Error as exc:
        raise journal_error(path, exc, "verifying") from None
    finally:
        conn.close()


def _auto_workers(conn: sqlite3.Connection) -> int:
    lo, hi = conn.execute("SELECT MIN(seq), MAX(seq) FROM events").fetchone()
    if lo is None or hi - lo + 1 < PARALLEL_FROM:
        return 0
    return min((os.cpu_count() or 1) - 1, MAX_WORKERS)


def _verify(
    conn: sqlite3.Connection, path: Path, public_key: bytes | None, workers: int | None
) -> VerifyReport:
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

    n_workers = _auto_workers(conn) if workers is None else workers
    pool = SignaturePool(public_key, n_workers) if n_workers > 0 else None
    v = ChainVerifier(
        public_key,
        device=device,
        start_seq=start_seq,
        start_hash=start_hash,
        hash_of=hash_of,
        check_signatures=pool is None,
    )
    checkpoint_seqs: list[int] = []
    deletion: int | None = None  # seq of the record of the deletion the chain starts after
    try:
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
            if ev.type == "checkpoint":
                checkpoint_seqs.append(ev.seq)
            if ev.type == PRUNED and names_point(ev.body, start_seq, start_hash):
                deletion = ev.seq
            if pool is not None:
                pool.add(ev.seq, ev.hash, ev.sig)
                if pool.failed:
                    break
        cur.close()
        bad_sig = pool.finish() if pool is not None else None
    finally:
        if pool is not None:
            pool.close()
    r = v.report()
    ok, events, checkpoints, head_seq, first_bad = (
        r.ok,
        r.events,
        r.checkpoints,
        r.head_seq,
        r.first_bad,
    )
    if bad_sig is not None and bad_sig <= r.head_seq:
        # a signature checked aside fails on a record the chain walk had accepted: that
        # record is the first bad one (records before it are gapless from start_seq)
        ok, first_bad, head_seq = False, f"seq {bad_sig}: bad signature", bad_sig - 1
        events = head_seq - start_seq
        checkpoints = sum(1 for s in checkpoint_seqs if s < bad_sig)
    if ok and start_seq > 0 and deletion is None:
        # a pruned chain is accepted only with its signed deletion record (trust.retention)
        ok, first_bad = False, (
            f"the journal starts after seq {start_seq}, but no retention.pruned record names "
            f"that point: records 1..{start_seq} are gone without a record of their deletion "
            "(a journal pruned by an older camaudit gets that record when the device next starts)"
        )
    if not ok:
        log.warning("journal %s: verification failed: %s", path, first_bad)
    return VerifyReport(
        ok=ok,
        events=events,
        checkpoints=checkpoints,
        head_seq=head_seq,
        first_bad=first_bad,
        device=device,
        start_seq=start_seq,
        public_key=public_key,
    )
