"""Shared linking (`camaudit hub --worker`, or a hub on a store where workers ran).

The collector joins an MQTT shared subscription group (`$share/<group>/<p>/+/events`) with
other workers, and every batch is linked per device in the shared store, one transaction
each (linkstore.py). The worker whose transaction advanced a device's head sends that ack;
replay requests are claimed in the store (one per device per REPLAY_EVERY_S across the
group), and every worker sweeps for gaps every SWEEP_S (a worker that died with the missing
event uncommitted leaves its successors waiting in `pending`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from camaudit.core.record import Event
from camaudit.hub.ingest import replay as replay_mod
from camaudit.hub.ingest.acks import OwedAcks
from camaudit.hub.ingest.batch import Batch
from camaudit.hub.ingest.forks import ForkAlerts
from camaudit.hub.ingest.keys import DeviceKeys
from camaudit.hub.ingest.link_txn import Incoming, LinkResult
from camaudit.hub.ingest.linking import Mode
from camaudit.hub.ingest.linkstore import LinkStore
from camaudit.hub.ingest.replay import Replays
from camaudit.hub.ingest.witness import Countersigner
from camaudit.hub.store.hub_store import alert_view

log = logging.getLogger(__name__)

SWEEP_S = 1.0  # look this often for gaps left by a worker that died


class SharedLinker:
    mode: Mode = "shared"

    def __init__(self, links: Callable[[], LinkStore], keys: DeviceKeys, signer: Countersigner,
                 acks: OwedAcks, replays: Replays, alerts: ForkAlerts, stats: dict[str, int],
                 notify: Callable[[Batch], None]) -> None:
        self._links = links
        self.keys = keys
        self.signer = signer
        self.acks = acks
        self.replays = replays
        self.alerts = alerts
        self.stats = stats
        self.notify = notify  # on_stored / on_alerts of the collector (used by the sweep)
        self.forked: set[str] = set()
        self.lag_ms = 0  # how long the oldest message of the batch being handled waited
        self._last_sweep = 0.0

    @property
    def links(self) -> LinkStore:
        return self._links()

    # ---- the Linker interface -------------------------------------------------------
    def take(self, topic: str, ev: Event, text: str, received: int, b: Batch) -> None:
        b.incoming.setdefault(ev.device, []).append(
            Incoming(ev, text, received, quiet=topic.endswith("/checkpoints")))
        b.saw(ev, received)

    def forget(self, device: str | None) -> None:
        pass  # nothing of a chain is kept in this process

    def commit(self, b: Batch, oldest_ms: int) -> None:
        """Link per device in the shared store (one transaction each), then count rejects."""
        self.lag_ms = int(time.time() * 1000) - oldest_ms
        for dev, inc in b.incoming.items():
            try:
                res = self.links.link(dev, inc, self.signer.witness, b.seen.get(dev))
            except Exception as exc:  # this device's messages only; the device re-sends them
                log.exception("hub could not link %d event(s) of %s", len(inc), dev)
                b.reject("internal", f"{dev}: {exc!r}"[:200])
                continue
            self._after_link(res, b)
        self.links.count_rejects(b.rejects)

    def settle(self, b: Batch) -> None:
        pass  # fork alerts were raised by the transaction that opened the fork

    def send(self, b: Batch) -> None:
        self.send_owed_acks(time.monotonic())
        for dev, frm in b.replay.items():
            if self.links.claim_replay(dev, replay_mod.REPLAY_EVERY_S):
                self.replays.ask(dev, frm)

    def idle(self, now: float) -> None:
        self.send_owed_acks(now)

    def maintain(self, now: float) -> None:
        if now - self._last_sweep >= SWEEP_S:
            self._last_sweep = now
            try:
                self.sweep()
            except Exception:
                log.exception("gap sweep failed")

    def resend_all(self) -> None:
        try:
            heads = self.links.heads()
        except Exception:
            log.exception("cannot read the stored heads")
            return
        for dev in self.keys:
            if dev in heads and self.links.claim_replay(dev, replay_mod.REPLAY_EVERY_S):
                self.replays.ask(dev, heads[dev] + 1)

    def wait_s(self) -> float:
        return self.acks.wait_s(time.monotonic())

    # ---- shared only ------------------------------------------------------------------
    def sweep(self) -> None:
        """Link what can be linked from `pending` and ask for the replay of every gap (one
        worker asks per device per REPLAY_EVERY_S)."""
        b = Batch()
        for dev in self.links.gaps():
            if dev not in self.keys:
                self.keys.reload()
            if dev in self.keys:
                self._after_link(self.links.link(dev, [], self.signer.witness), b)
        self.links.count_rejects(b.rejects)
        self.notify(b)
        self.send(b)

    def send_owed_acks(self, now: float) -> None:
        self.acks.send(now, self.links.forked_devices)

    def _after_link(self, res: LinkResult, b: Batch) -> None:
        """What one device's link transaction means for this worker: acks it owes, replay,
        fork alerts; collected in `b` and sent by `send`."""
        dev = res.device
        for reason, (n, detail) in res.rejects.items():
            old = b.rejects.get(reason, (0, ""))[0]
            b.rejects[reason] = (old + n, detail)
        self.stats["stored"] += len(res.linked)
        self.stats["duplicates"] += res.duplicates
        for ev in res.linked:
            b.new.append((ev, "", 0))
            if ev.type == "alert":
                b.alerts.append(alert_view(ev))
        if res.fork_opened is not None:
            b.alerts.append(self.alerts.raise_(res.fork_opened))
        if res.fork_open:
            self.forked.add(dev)
            self.acks.owed.pop(dev, None)  # forked: neither copy may prune anything
        else:
            if dev in self.forked:
                self.forked.discard(dev)
                log.warning("fork of %s resolved; acks resume", dev)
                if not self.links.open_forks():
                    self.alerts.clear()
                self.acks.owed[dev] = res.head  # what was stored while forked was never acked
            if res.advanced:
                self.acks.owe(dev, res.head)
            elif res.reack:
                self.acks.reack(dev, res.head, time.monotonic())
        if res.gap:
            b.replay[dev] = res.head + 1
