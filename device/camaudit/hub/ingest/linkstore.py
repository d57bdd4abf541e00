"""Chain linking computed from the shared hub store, for several hub workers on one stream.

With an MQTT shared subscription (`$share/<group>/<p>/+/events`) the broker hands each
message to one worker of the group: a worker may get seq 7 of a device whose seq 6 went
to another worker. So no worker may keep a device's chain head in memory. Here, per batch
and per device, ONE transaction:

1. locks the device's `heads` row (`Sql.lock_row`: FOR UPDATE on PostgreSQL; SQLite's
   BEGIN IMMEDIATE already holds the whole store), so workers take turns per device;
2. re-reads the stored head (seq, hash), the open fork and the chain base;
3. takes this batch's verified events of the device with the device's `pending` rows
   (events that arrived before their predecessor, stored by any worker), in seq order:
   - seq <= head: a duplicate (same hash as stored: re-ack) or a fork (another hash);
   - seq == head + 1 with prev == head hash: linked (into `events`, checkpoint witnessed,
     head advanced, its `pending` row deleted), then the next one;
   - a gap: kept in `pending` (at most PENDING_LIMIT rows per device), to be linked by
     whichever worker later stores the missing predecessor.
4. commits; the result says whether the head advanced (then THIS worker, and only it,
   acks the new head), whether a gap remains (ask for replay: `claim_replay`), whether a
   fork was opened by this transaction (alert once).

Nothing here needs a process-local memory of a chain, so a killed worker loses only the
messages it held uncommitted; the device re-sends them (no ack covered them) and a live
worker's sweep (`gaps`) asks for them sooner.

Also here: `collectors` (which processes collect into this store, and how: the single
hub's in-memory linking must never run next to another collector) and `link_claims`
(one replay request per device per REPLAY_EVERY_S across all workers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from camaudit.core.record import GENESIS_PREV, Event, RecordError
from camaudit.hub.ingest.linking import Mode
from camaudit.hub.store.records import (  # the events columns as HubStore fills them
    _col,
    _notice_key,
)
from camaudit.hub.store.schema import migrate
from camaudit.hub.store.sql import Sql, SqlError

log = logging.getLogger(__name__)

PENDING_LIMIT = 10_000  # events waiting for a predecessor, per device
# With the stream dealt across workers, an event's predecessor is often in another worker's
# batch being written right now, or still in its queue: a gap counts (replay asked) once its
# oldest waiting event has waited GAP_GRACE_S plus the group's lag (the largest backlog a
# live collector reported with its heartbeat: how long its oldest message being handled has
# waited). Under a backlog the predecessor is usually queued at another worker, and asking
# the device to replay then only adds load. The sweep (every second) asks for the older ones.
GAP_GRACE_S = 0.5
LAG_CACHE_S = 1.0  # the group's lag is read from the store at most this often
LINK_ATTEMPTS = 3
LEASE_S = 10.0  # a collector that has not beaten its heart for this long is gone
LINKING_KEY = "linking"  # meta key: "shared" once a worker ran on this store

WitnessFn = Callable[[Event, int, str, Callable[[int], "str | None"]], "dict[str, Any] | None"]


class CollectorConflict(SqlError):
    """Another collector runs on this store in a mode that cannot run next to this one."""


@dataclass
class Incoming:
    """A verified event offered for linking."""

    ev: Event
    text: str
    received: int
    quiet: bool = False  # a checkpoints-topic copy: a duplicate of it is not counted or re-acked


@dataclass
class LinkResult:
    device: str
    head_before: int
    head: int
    linked: list[Event] = field(default_factory=list)
    duplicates: int = 0
    reack: bool = False
    gap: bool = False  # events wait in pending longer than GAP_GRACE_S for a missing predecessor: ask for replay
    fork_open: bool = False  # an open fork after this transaction: send no ack
    fork_opened: dict[str, Any] | None = None  # this transaction opened it: {device, fork_seq, detected_ms}
    rejects: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def advanced(self) -> bool:
        return self.head > self.head_before

    def reject(self, reason: str, detail: str) -> None:
        n = self.rejects.get(reason, (0, ""))[0]
        self.rejects[reason] = (n + 1, detail)


def event_row(ev: Event, text: str, received: int) -> tuple[Any, ...]:
    """The `events` row of a verified event: the columns and values of HubStore.write_batch."""
    body = ev.body
    reasons = body.get("reasons")
    return (
        ev.device, ev.seq, ev.ts, _col(ev.type), _col(ev.feed), _col(body.get("capture")),
        _col(body.get("verdict")),
        _col("," + ",".join(str(r) for r in reasons) + ",") if isinstance(reasons, list) else None,
        ev.hash, received, text, _notice_key(body) if ev.type.startswith("notice.") else None,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _gone(pid: Any, host: Any) -> bool:
    """A registered collector of this host whose process no longer exists (killed, not stopped)."""
    if host != socket.gethostname()[:64] or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass
class _Cand:
    ev: Event
    text: str
    received: int
    pending: bool  # from the pending table (delete its row once linked or dropped)


class LinkStore:
    """Shared-store linking on one `Sql` connection (the hub store's tables + its own)."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql
        self._lag_ms = 0
        self._lag_read = -LAG_CACHE_S
        self._migrate()

    def _migrate(self) -> None:
        """The linking tables are part of the hub store's schema (hub/store/hub_store.py, version 3)."""
        migrate(self.sql)

    # ---- linking ----------------------------------------------------------------------
    def link(self, device: str, incoming: Iterable[Incoming], witness: WitnessFn,
             max_seen: tuple[int, int] | None = None) -> LinkResult:
        """Link `incoming` (verified events of `device`) and whatever waits in `pending`,
        in one transaction holding the device's head row. See the module docstring. A
        transaction rolled back by a conflict with another writer (SqlError.transient) is
        run again, up to LINK_ATTEMPTS times in all."""
        inc = sorted(incoming, key=lambda i: i.ev.seq)
        for attempt in range(1, LINK_ATTEMPTS + 1):
            try:
                return self._link(device, inc, witness, max_seen)
            except SqlError as exc:
                if not exc.transient or attempt == LINK_ATTEMPTS:
                    raise
                log.warning("linking %s rolled back (%s); again", device, exc)
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _link(self, device: str, inc: list[Incoming], witness: WitnessFn,
              max_seen: tuple[int, int] | None) -> LinkResult:
        with self.sql.transaction() as tx:
            row = tx.lock_row("heads", "device", device)
            if row is None:
                tx.execute("INSERT INTO heads (device, seq, hash, max_seen, online, duplicates) "
                           "VALUES (?, 0, ?, 0, 0, 0) ON CONFLICT (device) DO NOTHING",
                           (device, GENESIS_PREV))
                tx.lock_row("heads", "device", device)
            head_seq, head_hash = self._head(tx, device)
            res = LinkResult(device, head_seq, head_seq)
            fork = tx.execute("SELECT fork_seq, resolved_ms FROM fork_state WHERE device = ?",
                              (device,)).fetchone()
            fork_open = fork is not None and fork[1] is None
            b = tx.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?", (device,)).fetchone()
            base_seq, base_hash = (int(b[0]), str(b[1])) if b else (0, GENESIS_PREV)
            linked_hash: dict[int, str] = {}
            forks: list[tuple[Incoming, str]] = []

            def stored_hash(seq: int) -> str | None:
                if seq in linked_hash:
                    return linked_hash[seq]
                if seq == base_seq:
                    return base_hash
                r = tx.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (device, seq)).fetchone()
                return str(r[0]) if r else None

            # 1. at or before the head: duplicate or fork
            ahead: dict[int, _Cand] = {}
            later: list[Incoming] = []
            for i in inc:
                if i.ev.seq <= head_seq:
                    known = stored_hash(i.ev.seq) if i.ev.seq >= base_seq else None
                    if known is not None and known != i.ev.hash:
                        forks.append((i, f"differs from the stored seq {i.ev.seq}"))
                    elif not i.quiet:
                        res.duplicates += 1
                        res.reack = True
                else:
                    later.append(i)
            # 2. ahead of the head: compare with what already waits at the same seq
            if later:
                lo, hi = later[0].ev.seq, later[-1].ev.seq
                waiting = {int(s): str(h) for s, h in tx.execute(
                    "SELECT seq, hash FROM pending WHERE device = ? AND seq >= ? AND seq <= ?",
                    (device, lo, hi)).fetchall()}
                for i in later:
                    have = waiting.get(i.ev.seq)
                    if have is None:
                        have = ahead[i.ev.seq].ev.hash if i.ev.seq in ahead else None
                    if have is None:
                        ahead[i.ev.seq] = _Cand(i.ev, i.text, i.received, pending=False)
                    elif have != i.ev.hash:
                        forks.append((i, f"differs from another received seq {i.ev.seq}"))
                    elif not i.quiet:
                        res.duplicates += 1  # already waiting (or twice in this batch)
            # 3. link from the head on, from this batch and from pending
            new_rows: list[tuple[Any, ...]] = []
            witnesses: list[dict[str, Any]] = []
            done_pending: list[int] = []
            while True:
                nxt = head_seq + 1
                cand = ahead.pop(nxt, None)
                if cand is None:
                    cand = self._pending_at(tx, device, nxt)
                    if cand is None:
                        break
                if cand.pending:
                    done_pending.append(cand.ev.seq)
                ev = cand.ev
                if ev.prev != head_hash:
                    forks.append((Incoming(ev, cand.text, cand.received),
                                  f"prev is not the hash of stored seq {head_seq}"))
                    break
                if ev.type == "checkpoint":
                    try:
                        w = witness(ev, base_seq, base_hash, stored_hash)
                    except RecordError as exc:
                        res.reject("bad_checkpoint", f"{device} {exc}")
                        break
                    if w is not None:
                        witnesses.append(w)
                new_rows.append(event_row(ev, cand.text, cand.received))
                res.linked.append(ev)
                linked_hash[ev.seq] = ev.hash
                head_seq, head_hash = ev.seq, ev.hash
            # 4. what is still ahead waits in pending (bounded)
            if ahead:
                room = PENDING_LIMIT - int(tx.execute(
                    "SELECT COUNT(*) FROM pending WHERE device = ?", (device,)).fetchone()[0])
                keep = sorted(ahead.values(), key=lambda c: c.ev.seq)[:max(0, room)]
                if len(keep) < len(ahead):
                    res.reject("pending_full", f"{device}: {len(ahead) - len(keep)} early event(s) not kept")
                now = _now_ms()
                tx.executemany(
                    "INSERT INTO pending (device, seq, hash, prev, json, received_ms, pending_ms) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (device, seq) DO NOTHING",
                    [(device, c.ev.seq, c.ev.hash, c.ev.prev, c.text, c.received, now) for c in keep],
                )
            # 5. write
            if new_rows:
                tx.executemany(
                    "INSERT INTO events (device, seq, ts, type, feed, capture, verdict, reasons, hash, "
                    "received_ms, json, notice) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (device, seq) DO NOTHING",
                    new_rows,
                )
                tx.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (head_seq, head_hash, device))
                tx.execute("DELETE FROM pending WHERE device = ? AND seq <= ?", (device, head_seq))
            if done_pending:  # linked, or dropped as a fork / bad checkpoint (kept in quarantine)
                tx.executemany("DELETE FROM pending WHERE device = ? AND seq = ?",
                               [(device, s) for s in done_pending])
            for w in witnesses:
                tx.execute(
                    "INSERT INTO witness (device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig) "
                    "VALUES (:device, :seq, :cp_seq, :cp_hash, :ts, :hub_key, :hub_sig) "
                    "ON CONFLICT (device, seq) DO NOTHING", w)
            if max_seen is not None:
                tx.execute(f"UPDATE heads SET max_seen = {tx.greatest('max_seen', '?')}, last_seen_ms = ? "
                           "WHERE device = ?", (max_seen[0], max_seen[1], device))
            if res.duplicates:
                tx.execute("UPDATE heads SET duplicates = duplicates + ? WHERE device = ?",
                           (res.duplicates, device))
            now = _now_ms()
            for i, why in forks:
                res.reject("fork", f"{device} seq {i.ev.seq}: {why}")
                opened = self._quarantine(tx, i, why, now)
                fork_open = True
                if opened is not None:
                    res.fork_opened = opened
                    log.error("FORK: device %s has two validly signed versions from seq %d (%s); acks "
                              "stopped until `camaudit hub resolve-fork %s`", device, i.ev.seq, why, device)
            res.head = head_seq
            res.fork_open = fork_open
            res.gap = self._gap(tx, device, head_seq, self._gap_cutoff())
        return res

    @staticmethod
    def _head(tx: Sql, device: str) -> tuple[int, str]:
        r = tx.execute("SELECT seq, hash FROM heads WHERE device = ?", (device,)).fetchone()
        return int(r[0]), str(r[1] or GENESIS_PREV)

    @staticmethod
    def _pending_at(tx: Sql, device: str, seq: int) -> _Cand | None:
        r = tx.execute("SELECT json, received_ms FROM pending WHERE device = ? AND seq = ?",
                       (device, seq)).fetchone()
        if r is None:
            return None
        return _Cand(Event.from_json(str(r[0])), str(r[0]), int(r[1]), pending=True)

    def group_lag_ms(self) -> int:
        """The largest backlog (ms) a live collector on this store reported (cached LAG_CACHE_S)."""
        mono = time.monotonic()
        if mono - self._lag_read >= LAG_CACHE_S:
            self._lag_read = mono
            row = self.sql.execute("SELECT MAX(lag_ms) FROM collectors WHERE id <> '~lock' AND beat_ms > ?",
                                   (_now_ms() - int(LEASE_S * 1000),)).fetchone()
            self._lag_ms = int(row[0] or 0) if row else 0
        return self._lag_ms

    def _gap_cutoff(self) -> int:
        """Events that entered `pending` at or before this ms wait for a real gap."""
        return _now_ms() - int(GAP_GRACE_S * 1000) - self.group_lag_ms()

    @staticmethod
    def _gap(tx: Sql, device: str, head: int, cutoff_ms: int) -> bool:
        """Events past the head have waited past the cutoff (see GAP_GRACE_S)."""
        return tx.execute("SELECT 1 FROM pending WHERE device = ? AND seq > ? AND pending_ms <= ? LIMIT 1",
                          (device, head, cutoff_ms)).fetchone() is not None

    @staticmethod
    def _quarantine(tx: Sql, i: Incoming, why: str, now: int) -> dict[str, Any] | None:
        """Keep a forked record and open (or widen) the device's fork; the fork's row if
        THIS call opened it (else None)."""
        ev = i.ev
        tx.execute(
            "INSERT INTO quarantine (device, seq, hash, prev, ts, type, received_ms, json, why) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (device, seq, hash) DO NOTHING",
            (ev.device, ev.seq, ev.hash, ev.prev, ev.ts, ev.type, i.received, i.text, why[:300]),
        )
        row = tx.execute("SELECT fork_seq, resolved_ms FROM fork_state WHERE device = ?", (ev.device,)).fetchone()
        if row is None:
            tx.execute("INSERT INTO fork_state (device, fork_seq, detected_ms, copies) VALUES (?,?,?,1)",
                       (ev.device, ev.seq, now))
        elif row[1] is not None:
            tx.execute("UPDATE fork_state SET fork_seq = ?, detected_ms = ?, copies = 1, resolved_ms = NULL, "
                       "resolution = NULL WHERE device = ?", (ev.seq, now, ev.device))
        else:
            tx.execute(f"UPDATE fork_state SET fork_seq = {tx.least('fork_seq', '?')}, copies = copies + 1 "
                       "WHERE device = ?", (ev.seq, ev.device))
            return None
        return {"device": ev.device, "fork_seq": ev.seq, "detected_ms": now}

    # ---- reads and claims ---------------------------------------------------------------
    def heads(self) -> dict[str, int]:
        return {str(d): int(s) for d, s in self.sql.execute("SELECT device, seq FROM heads").fetchall()}

    def gaps(self) -> list[str]:
        """Devices with events waiting past the gap cutoff (GAP_GRACE_S + the group's lag) for
        a missing predecessor."""
        return [str(r[0]) for r in self.sql.execute(
            "SELECT DISTINCT device FROM pending WHERE pending_ms <= ?", (self._gap_cutoff(),)).fetchall()]

    def forked_devices(self) -> set[str]:
        """Devices with an open fork (no acks to them)."""
        return {str(r[0]) for r in self.sql.execute(
            "SELECT device FROM fork_state WHERE resolved_ms IS NULL").fetchall()}

    def open_forks(self) -> int:
        return int(self.sql.execute(
            "SELECT COUNT(*) FROM fork_state WHERE resolved_ms IS NULL").fetchone()[0])

    def claim_replay(self, device: str, every_s: float, now_ms: int | None = None) -> bool:
        """True for exactly one caller per device per `every_s` across all workers: that
        caller asks the device to replay."""
        now = _now_ms() if now_ms is None else now_ms
        self.sql.execute("INSERT INTO link_claims (device, replay_ms) VALUES (?, 0) ON CONFLICT (device) DO NOTHING",
                         (device,))
        cur = self.sql.execute("UPDATE link_claims SET replay_ms = ? WHERE device = ? AND replay_ms <= ?",
                               (now, device, now - int(every_s * 1000)))
        return cur.rowcount == 1

    def count_rejects(self, rejects: dict[str, tuple[int, str]]) -> None:
        if not rejects:
            return
        now = _now_ms()
        with self.sql.transaction() as tx:
            for reason, (n, detail) in sorted(rejects.items()):
                tx.execute(
                    "INSERT INTO rejects (reason, count, last_ms, last_detail) VALUES (?,?,?,?) "
                    "ON CONFLICT (reason) DO UPDATE SET count = rejects.count + excluded.count, "
                    "last_ms = excluded.last_ms, last_detail = excluded.last_detail",
                    (reason, n, now, detail[:300]),
                )

    # ---- collectors on this store -------------------------------------------------------
    def register(self, cid: str, mode: Mode) -> None:
        """Record that collector `cid` runs on this store in `mode`, refusing combinations
        that would corrupt acks: an in-memory linker next to any other live collector, or a
        shared worker next to a live in-memory linker. A shared worker marks the store
        shared for good (`linking_mode`): a later single hub then links shared too."""
        now = _now_ms()
        with self.sql.transaction() as tx:
            tx.execute("INSERT INTO collectors (id, mode, pid, host, started_ms, beat_ms) VALUES "
                        "('~lock', 'lock', 0, '', 0, 0) ON CONFLICT (id) DO NOTHING")
            tx.lock_row("collectors", "id", "~lock")  # one registration at a time
            live = tx.execute("SELECT id, mode, pid, host FROM collectors WHERE id <> '~lock' AND id <> ? "
                              "AND beat_ms > ?", (cid, now - int(LEASE_S * 1000))).fetchall()
            clash = [r for r in live if (mode == "memory" or r[1] == "memory") and not _gone(r[2], r[3])]
            if clash:
                other = clash[0]
                raise CollectorConflict(
                    f"hub store {self.sql.where}: collector {other[0]} ({other[1]} linking, pid {other[2]} "
                    f"on {other[3]}) already collects into it; "
                    + ("a single hub's in-memory linking cannot run next to another collector: start "
                       "this one with shared linking (`camaudit hub --shared` or `--worker`)"
                       if mode == "memory" else
                       "workers cannot join a hub that links in memory: restart that hub with "
                       "`camaudit hub --shared`")
                    + f" (a collector that died is forgotten after {LEASE_S:.0f} s)")
            tx.execute("DELETE FROM collectors WHERE id = ?", (cid,))
            tx.execute("INSERT INTO collectors (id, mode, pid, host, started_ms, beat_ms) VALUES (?,?,?,?,?,?)",
                       (cid, mode, os.getpid(), socket.gethostname()[:64], now, now))
            if mode == "shared":
                self._set_meta(tx, LINKING_KEY, "shared")
        log.info("collector %s registered on %s (%s linking)", cid, self.sql.where, mode)

    def heartbeat(self, cid: str, lag_ms: int = 0) -> None:
        """`cid` is alive; `lag_ms`: how long the oldest message it is handling has waited."""
        self.sql.execute("UPDATE collectors SET beat_ms = ?, lag_ms = ? WHERE id = ?",
                         (_now_ms(), max(0, int(lag_ms)), cid))

    def unregister(self, cid: str) -> None:
        with contextlib.suppress(Exception):
            self.sql.execute("DELETE FROM collectors WHERE id = ?", (cid,))

    def live_collectors(self) -> list[tuple[str, str]]:
        return [(str(r[0]), str(r[1])) for r in self.sql.execute(
            "SELECT id, mode FROM collectors WHERE id <> '~lock' AND beat_ms > ? ORDER BY id",
            (_now_ms() - int(LEASE_S * 1000),)).fetchall()]

    def linking_mode(self) -> Mode:
        """"shared" once any worker has run on this store, else "memory"."""
        try:
            r = self.sql.execute("SELECT value FROM meta WHERE key = ?", (LINKING_KEY,)).fetchone()
        except Exception:
            return "memory"
        return "shared" if r is not None and r[0] == "shared" else "memory"

    @staticmethod
    def _set_meta(tx: Sql, key: str, value: str) -> None:
        tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                   "value = excluded.value", (key, value))
