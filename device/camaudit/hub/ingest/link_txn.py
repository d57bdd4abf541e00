"""One device's link transaction in the shared store (linkstore.py `LinkStore.link`).

The steps of the module docstring of linkstore.py, one method each, in the order `run`
calls them: lock and read the head, sort what is at or behind it (duplicate or fork) and
what is ahead (compared with what already waits), link forward from the head (from this
batch and from `pending`), park what is still ahead, write, then quarantine the forks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from camaudit.core.record import GENESIS_PREV, Event, RecordError
from camaudit.hub.store.records import (  # the events columns as HubStore fills them
    _col,
    _notice_key,
)
from camaudit.hub.store.sql import Sql
from camaudit.hub.store.writer import mark_backwards

log = logging.getLogger(__name__)

WitnessFn = Callable[[Event, int, str, Callable[[int], "str | None"]], "dict[str, Any] | None"]


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


@dataclass
class Cand:
    ev: Event
    text: str
    received: int
    pending: bool  # from the pending table (delete its row once linked or dropped)


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


def now_ms() -> int:
    return int(time.time() * 1000)


class DeviceTxn:
    """The state of one device's link transaction `tx`, step by step."""

    def __init__(self, tx: Sql, device: str, witness: WitnessFn, pending_limit: int) -> None:
        self.tx = tx
        self.device = device
        self.witness = witness
        self.pending_limit = pending_limit
        self.linked_hash: dict[int, str] = {}
        self.forks: list[tuple[Incoming, str]] = []
        self.ahead: dict[int, Cand] = {}
        self.new_rows: list[tuple[Any, ...]] = []
        self.witnesses: list[dict[str, Any]] = []
        self.done_pending: list[int] = []

    def run(self, inc: list[Incoming], max_seen: tuple[int, int] | None,
            gap_cutoff: Callable[[], int]) -> LinkResult:
        self.open()
        later = self.behind(inc)
        self.compare_ahead(later)
        self.link_forward()
        self.park()
        self.write(max_seen)
        self.quarantine_forks()
        res = self.res
        res.head = self.head_seq
        res.fork_open = self.fork_open
        res.gap = self.tx.execute(
            "SELECT 1 FROM pending WHERE device = ? AND seq > ? AND pending_ms <= ? LIMIT 1",
            (self.device, self.head_seq, gap_cutoff())).fetchone() is not None
        return res

    # 0. lock the head row, read head, fork and base
    def open(self) -> None:
        tx, device = self.tx, self.device
        if tx.lock_row("heads", "device", device) is None:
            tx.execute("INSERT INTO heads (device, seq, hash, max_seen, online, duplicates) "
                       "VALUES (?, 0, ?, 0, 0, 0) ON CONFLICT (device) DO NOTHING",
                       (device, GENESIS_PREV))
            tx.lock_row("heads", "device", device)
        r = tx.execute("SELECT seq, hash FROM heads WHERE device = ?", (device,)).fetchone()
        self.head_seq, self.head_hash = int(r[0]), str(r[1] or GENESIS_PREV)
        self.res = LinkResult(device, self.head_seq, self.head_seq)
        fork = tx.execute("SELECT fork_seq, resolved_ms FROM fork_state WHERE device = ?",
                          (device,)).fetchone()
        self.fork_open = fork is not None and fork[1] is None
        b = tx.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?", (device,)).fetchone()
        self.base_seq, self.base_hash = (int(b[0]), str(b[1])) if b else (0, GENESIS_PREV)

    def stored_hash(self, seq: int) -> str | None:
        if seq in self.linked_hash:
            return self.linked_hash[seq]
        if seq == self.base_seq:
            return self.base_hash
        r = self.tx.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (self.device, seq)).fetchone()
        return str(r[0]) if r else None

    # 1. at or before the head: duplicate or fork
    def behind(self, inc: list[Incoming]) -> list[Incoming]:
        later: list[Incoming] = []
        for i in inc:
            if i.ev.seq <= self.head_seq:
                known = self.stored_hash(i.ev.seq) if i.ev.seq >= self.base_seq else None
                if known is not None and known != i.ev.hash:
                    self.forks.append((i, f"differs from the stored seq {i.ev.seq}"))
                elif not i.quiet:
                    self.res.duplicates += 1
                    self.res.reack = True
            else:
                later.append(i)
        return later

    # 2. ahead of the head: compare with what already waits at the same seq
    def compare_ahead(self, later: list[Incoming]) -> None:
        if not later:
            return
        lo, hi = later[0].ev.seq, later[-1].ev.seq
        waiting = {int(s): str(h) for s, h in self.tx.execute(
            "SELECT seq, hash FROM pending WHERE device = ? AND seq >= ? AND seq <= ?",
            (self.device, lo, hi)).fetchall()}
        ahead = self.ahead
        for i in later:
            have = waiting.get(i.ev.seq)
            if have is None:
                have = ahead[i.ev.seq].ev.hash if i.ev.seq in ahead else None
            if have is None:
                ahead[i.ev.seq] = Cand(i.ev, i.text, i.received, pending=False)
            elif have != i.ev.hash:
                self.forks.append((i, f"differs from another received seq {i.ev.seq}"))
            elif not i.quiet:
                self.res.duplicates += 1  # already waiting (or twice in this batch)

    # 3. link from the head on, from this batch and from pending
    def link_forward(self) -> None:
        while True:
            cand = self.ahead.pop(self.head_seq + 1, None) or self._pending_at(self.head_seq + 1)
            if cand is None:
                break
            if cand.pending:
                self.done_pending.append(cand.ev.seq)
            if not self._link_one(cand):
                break

    def _link_one(self, cand: Cand) -> bool:
        ev = cand.ev
        if ev.prev != self.head_hash:
            self.forks.append((Incoming(ev, cand.text, cand.received),
                               f"prev is not the hash of stored seq {self.head_seq}"))
            return False
        if ev.type == "checkpoint":
            try:
                w = self.witness(ev, self.base_seq, self.base_hash, self.stored_hash)
            except RecordError as exc:
                self.res.reject("bad_checkpoint", f"{self.device} {exc}")
                return False
            if w is not None:
                self.witnesses.append(w)
        self.new_rows.append(event_row(ev, cand.text, cand.received))
        self.res.linked.append(ev)
        self.linked_hash[ev.seq] = ev.hash
        self.head_seq, self.head_hash = ev.seq, ev.hash
        return True

    def _pending_at(self, seq: int) -> Cand | None:
        r = self.tx.execute("SELECT json, received_ms FROM pending WHERE device = ? AND seq = ?",
                            (self.device, seq)).fetchone()
        if r is None:
            return None
        return Cand(Event.from_json(str(r[0])), str(r[0]), int(r[1]), pending=True)

    # 4. what is still ahead waits in pending (bounded)
    def park(self) -> None:
        if not self.ahead:
            return
        device = self.device
        room = self.pending_limit - int(self.tx.execute(
            "SELECT COUNT(*) FROM pending WHERE device = ?", (device,)).fetchone()[0])
        keep = sorted(self.ahead.values(), key=lambda c: c.ev.seq)[:max(0, room)]
        if len(keep) < len(self.ahead):
            self.res.reject("pending_full", f"{device}: {len(self.ahead) - len(keep)} early event(s) not kept")
        now = now_ms()
        self.tx.executemany(
            "INSERT INTO pending (device, seq, hash, prev, json, received_ms, pending_ms) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (device, seq) DO NOTHING",
            [(device, c.ev.seq, c.ev.hash, c.ev.prev, c.text, c.received, now) for c in keep],
        )

    # 5. write
    def write(self, max_seen: tuple[int, int] | None) -> None:
        tx, device = self.tx, self.device
        if self.new_rows:
            tx.executemany(
                "INSERT INTO events (device, seq, ts, type, feed, capture, verdict, reasons, hash, "
                "received_ms, json, notice) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (device, seq) DO NOTHING",
                self.new_rows,
            )
            mark_backwards(tx, device, min(r[1] for r in self.new_rows), max(r[1] for r in self.new_rows))
            tx.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (self.head_seq, self.head_hash, device))
            tx.execute("DELETE FROM pending WHERE device = ? AND seq <= ?", (device, self.head_seq))
        if self.done_pending:  # linked, or dropped as a fork / bad checkpoint (kept in quarantine)
            tx.executemany("DELETE FROM pending WHERE device = ? AND seq = ?",
                           [(device, s) for s in self.done_pending])
        for w in self.witnesses:
            tx.execute(
                "INSERT INTO witness (device, seq, cp_seq, cp_hash, ts, hub_key, hub_sig) "
                "VALUES (:device, :seq, :cp_seq, :cp_hash, :ts, :hub_key, :hub_sig) "
                "ON CONFLICT (device, seq) DO NOTHING", w)
        if max_seen is not None:
            tx.execute(f"UPDATE heads SET max_seen = {tx.greatest('max_seen', '?')}, last_seen_ms = ? "
                       "WHERE device = ?", (max_seen[0], max_seen[1], device))
        if self.res.duplicates:
            tx.execute("UPDATE heads SET duplicates = duplicates + ? WHERE device = ?",
                       (self.res.duplicates, device))

    # 6. forks: quarantined, the device's fork opened (alert once) or widened
    def quarantine_forks(self) -> None:
        now = now_ms()
        for i, why in self.forks:
            self.res.reject("fork", f"{self.device} seq {i.ev.seq}: {why}")
            opened = quarantine(self.tx, i, why, now)
            self.fork_open = True
            if opened is not None:
                self.res.fork_opened = opened
                log.error("FORK: device %s has two validly signed versions from seq %d (%s); acks "
                          "stopped until `camaudit hub resolve-fork %s`", self.device, i.ev.seq, why, self.device)


def quarantine(tx: Sql, i: Incoming, why: str, now: int) -> dict[str, Any] | None:
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
