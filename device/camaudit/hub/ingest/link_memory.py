"""In-memory linking (the single hub, the default): the chain heads live in this process.

The fastest way while one collector has the whole stream. Each verified event is linked to
its device's head (prev == head hash): linked events are written by the collector's batch
in one SQLite transaction (`commit`). Events that arrive early wait in a bounded per-device
buffer while the hub asks for replay of the gap; a chain stuck on a gap looks every
BASE_CHECK_S for a new base (`hub enroll --after` on a running hub)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from camaudit.core.record import GENESIS_PREV, Event, RecordError
from camaudit.hub.ingest import replay as replay_mod
from camaudit.hub.ingest.acks import ChainAcks
from camaudit.hub.ingest.batch import Batch
from camaudit.hub.ingest.forks import ForkAlerts, quarantine
from camaudit.hub.ingest.keys import DeviceKeys
from camaudit.hub.ingest.linking import Mode
from camaudit.hub.ingest.replay import Replays
from camaudit.hub.ingest.witness import Countersigner
from camaudit.hub.store.hub_store import HubStore, alert_view

log = logging.getLogger(__name__)

PENDING_LIMIT = 10_000  # early events buffered per device
PENDING_BYTES = 8 * 1024 * 1024  # ... and their JSON text, per device (parsed, about 3x in memory)
RECENT = 4096  # recent hashes kept per device (checkpoint checks)
BASE_CHECK_S = 2.0  # a device stuck on a gap: look this often for a new base (`hub enroll --after`)


@dataclass
class Chain:
    head: Event | None
    head_seq: int
    head_hash: str
    pending: dict[int, tuple[Event, str]] = field(default_factory=dict)
    pending_bytes: int = 0  # JSON text held in `pending` (bounded by PENDING_BYTES)
    recent: OrderedDict[int, str] = field(default_factory=OrderedDict)
    last_replay: float = 0.0
    last_ack: float = 0.0
    acked_seq: int = -1  # head last acked (-1: none yet)
    base_seq: int = 0  # the hub's chain starts after this seq (`hub enroll --after`), and
    base_hash: str = GENESIS_PREV  # ... this is that seq's hash
    base_checked: float = 0.0
    fork_seq: int | None = None  # an open fork: no acks for this device

    def park(self, ev: Event, text: str) -> bool:
        """Hold an early event until its predecessor arrives; False (not kept) once the device
        holds PENDING_LIMIT events or PENDING_BYTES of text: the device re-sends it anyway."""
        if ev.seq in self.pending:
            return True
        if len(self.pending) >= PENDING_LIMIT or self.pending_bytes + len(text) > PENDING_BYTES:
            return False
        self.pending[ev.seq] = (ev, text)
        self.pending_bytes += len(text)
        return True

    def take(self, seq: int) -> tuple[Event, str]:
        ev, text = self.pending.pop(seq)
        self.pending_bytes -= len(text)
        return ev, text

    def drop_through(self, seq: int) -> None:
        """Forget what waits at or before `seq` (stored, or before a new base)."""
        for s in [s for s in self.pending if s <= seq]:
            self.take(s)


class MemoryLinker:
    mode: Mode = "memory"

    def __init__(self, store: HubStore, keys: DeviceKeys, signer: Countersigner, acks: ChainAcks,
                 replays: Replays, alerts: ForkAlerts, stats: dict[str, int]) -> None:
        self.store = store
        self.keys = keys
        self.signer = signer
        self.acks = acks
        self.replays = replays
        self.alerts = alerts
        self.stats = stats
        self.chains: dict[str, Chain] = {}
        self.lag_ms = 0

    # ---- the Linker interface -------------------------------------------------------
    def take(self, topic: str, ev: Event, text: str, received: int, b: Batch) -> None:
        if topic.endswith("/checkpoints") and self._chain(ev.device).recent.get(ev.seq) == ev.hash:
            return  # the checkpoints-topic copy of an event just stored from events
        b.saw(ev, received)
        self._accept(ev, text, received, b)

    def forget(self, device: str | None) -> None:
        if device is None:
            self.chains.clear()
        else:
            self.chains.pop(device, None)  # re-read its head from the store

    def commit(self, b: Batch, oldest_ms: int) -> None:
        self.store.write_batch(b.new, b.seen, b.dups, b.rejects, b.witnesses, b.quarantine)
        self.stats["stored"] += len(b.new)

    def settle(self, b: Batch) -> None:
        for dev in b.forked:
            fork = next((f for f in self.store.forks() if f["device"] == dev), None)
            if fork is not None:
                b.alerts.append(self.alerts.raise_(fork))

    def send(self, b: Batch) -> None:
        now = time.monotonic()
        self.acks.mark_resent(self.chains, b.ack, now)
        self.acks.send(self.chains, now)
        for dev, frm in b.replay.items():
            ch = self.chains[dev]
            if now - ch.last_replay < replay_mod.REPLAY_EVERY_S:
                continue
            ch.last_replay = now
            self.replays.ask(dev, frm, count=False)

    def idle(self, now: float) -> None:
        self.acks.send(self.chains, now)
        for dev, ch in self.chains.items():
            if ch.pending and now - ch.last_replay >= replay_mod.REPLAY_EVERY_S:
                ch.last_replay = now
                self.replays.ask(dev, ch.head_seq + 1, quiet=True, count=False)

    def maintain(self, now: float) -> None:
        pass

    def resend_all(self) -> None:
        now = time.monotonic()
        for dev in self.keys:
            try:
                ch = self._chain(dev)
            except Exception:
                log.exception("cannot read the stored head of %s", dev)
                continue
            ch.last_replay = now
            self.replays.ask(dev, ch.head_seq + 1, quiet=True, count=False)
        if len(self.keys):
            log.info("asked %d enrolled device(s) to re-send what the hub has not stored", len(self.keys))

    def wait_s(self) -> float:
        return self.acks.wait_s(self.chains, time.monotonic())

    # ---- chains -----------------------------------------------------------------------
    def _chain(self, dev: str) -> Chain:
        ch = self.chains.get(dev)
        if ch is None:
            head = self.store.head_event(dev)
            base_seq, base_hash = self.store.base(dev) or (0, GENESIS_PREV)
            if head is not None:
                ch = Chain(head, head.seq, head.hash)
            else:
                ch = Chain(None, base_seq, base_hash)
            ch.base_seq, ch.base_hash, ch.base_checked = base_seq, base_hash, time.monotonic()
            ch.fork_seq = self.store.fork_seq(dev)
            self.chains[dev] = ch
        return ch

    def _rebased(self, dev: str, ch: Chain) -> bool:
        """A device stuck on a gap may have been given a base past it since (`hub enroll
        --after` on a running hub): move the chain there. Looks at most every BASE_CHECK_S."""
        now = time.monotonic()
        if now - ch.base_checked < BASE_CHECK_S:
            return False
        ch.base_checked = now
        base = self.store.base(dev)
        if base is None or base[0] <= ch.head_seq:
            return False
        ch.base_seq, ch.base_hash = base
        ch.head, ch.head_seq, ch.head_hash, ch.acked_seq = None, base[0], base[1], -1
        ch.drop_through(ch.head_seq)
        log.warning("device %s: chain now starts after seq %d (pruned on the device)", dev, base[0])
        return True

    def _fork_resolved(self, dev: str, ch: Chain) -> bool:
        """Resolved by an operator (maybe in another process): reload the chain from the store."""
        now = time.monotonic()
        if now - ch.base_checked < BASE_CHECK_S:
            return False
        ch.base_checked = now
        if self.store.fork_seq(dev) is not None:
            return False
        del self.chains[dev]
        log.warning("fork of %s resolved; acks resume", dev)
        if not self.store.forks():  # no open fork left: clear the retained operator alert
            self.alerts.clear()
        return True

    # ---- linking ----------------------------------------------------------------------
    def _accept(self, ev: Event, text: str, received: int, b: Batch) -> None:
        ch = self._chain(ev.device)
        if ch.fork_seq is not None and self._fork_resolved(ev.device, ch):
            ch = self._chain(ev.device)
        if ev.seq <= ch.head_seq:
            known = ch.recent.get(ev.seq) or self.store.hash_at(ev.device, ev.seq)
            if known is not None and known != ev.hash:
                ch.fork_seq = quarantine(b, ev, text, received, f"differs from the stored seq {ev.seq}", ch.fork_seq)
                return
            b.dups[ev.device] = b.dups.get(ev.device, 0) + 1
            self.stats["duplicates"] += 1
            b.ack.add(ev.device)  # the device missed our ack
            return
        if ev.seq > ch.head_seq + 1:
            self._rebased(ev.device, ch)
        if ev.seq > ch.head_seq + 1:
            if not ch.park(ev, text):
                b.reject("pending_full", f"{ev.device}: early event not kept (per-device bound)")
            b.replay[ev.device] = ch.head_seq + 1
            return
        if ev.seq <= ch.head_seq:  # at or before a new base
            b.dups[ev.device] = b.dups.get(ev.device, 0) + 1
            b.ack.add(ev.device)
            return
        self._link(ch, ev, text, received, b)
        while ch.head_seq + 1 in ch.pending:
            nxt, nxt_text = ch.take(ch.head_seq + 1)
            if not self._link(ch, nxt, nxt_text, received, b):
                break
        if ch.pending:
            # drop what is now stale; ask again for a gap that remains
            ch.drop_through(ch.head_seq)
            if ch.pending:
                b.replay[ev.device] = ch.head_seq + 1

    def _link(self, ch: Chain, ev: Event, text: str, received: int, b: Batch) -> bool:
        if ev.prev != ch.head_hash:
            # signed by the device's key, yet not on the stored chain: a second history
            ch.fork_seq = quarantine(b, ev, text, received, f"prev is not the hash of stored seq {ch.head_seq}",
                                     ch.fork_seq)
            return False
        if ev.type == "checkpoint":
            try:
                w = self._witness(ch, ev)
            except RecordError as exc:
                b.reject("bad_checkpoint", f"{ev.device} {exc}")
                return False
            if w is not None:
                b.witnesses.append(w)
        ch.head, ch.head_seq, ch.head_hash = ev, ev.seq, ev.hash
        ch.recent[ev.seq] = ev.hash
        if len(ch.recent) > RECENT:
            ch.recent.popitem(last=False)
        b.new.append((ev, text, received))  # the verified text as received
        b.ack.add(ev.device)
        if ev.type == "alert":
            b.alerts.append(alert_view(ev))
        return True

    def _witness(self, ch: Chain, ev: Event) -> dict[str, Any] | None:
        def hash_at(seq: int) -> str | None:
            return ch.recent.get(seq) or self.store.hash_at(ev.device, seq)

        return self.signer.witness(ev, ch.base_seq, ch.base_hash, hash_at)

