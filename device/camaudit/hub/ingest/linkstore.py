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
from collections.abc import Iterable
from typing import Any

from camaudit.hub.ingest.link_txn import DeviceTxn, Incoming, LinkResult, WitnessFn
from camaudit.hub.ingest.linking import Mode
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

class CollectorConflict(SqlError):
    """Another collector runs on this store in a mode that cannot run next to this one."""


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
            return DeviceTxn(tx, device, witness, PENDING_LIMIT).run(inc, max_seen, self._gap_cutoff)

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
