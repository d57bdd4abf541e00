"""The hub's collector: a message's way from the socket to the ack, top to bottom.

1. inbox.py: paho's network thread (in a child process by default, receiver.py) queues raw
   messages; this worker thread takes them in batches (`Inbox.batch`: up to MAX_BATCH,
   waiting up to FILL_S for a small batch to fill).
2. control.py: status, key and evidence-frame messages are handled aside (no chain).
3. verify.py (+ schema.py): every other message is checked: size, topic, JSON, typed
   schema, hash, the enrolled device's Ed25519 signature. A failure is counted by reason.
4. linking.py: the verified event is linked to its device's stored chain, in memory
   (link_memory.py, the single hub) or in the shared store (link_shared.py over
   linkstore.py, hub workers); early events wait while a replay is asked; checkpoints
   are countersigned (witness.py); a second signed history is a fork (forks.py).
5. the batch is stored (one transaction; shared: one per device), listeners are told
   (`on_stored`, `on_alerts`), then acks.py acks the new heads and replay.py asks for gaps.

Failures are per message: an unexpected error in one message costs only that message
("internal"), and if a batch cannot be written it is re-run one message at a time.

Every collector registers in the store (linkstore `collectors`): an in-memory linker refuses
to start next to any other live collector, a worker refuses to start next to an in-memory one.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from camaudit.core.record import Event
from camaudit.hub.ingest.acks import ChainAcks, OwedAcks
from camaudit.hub.ingest.batch import Batch, Message
from camaudit.hub.ingest.control import SideChannel
from camaudit.hub.ingest.forks import ForkAlerts
from camaudit.hub.ingest.inbox import Inbox
from camaudit.hub.ingest.keys import DeviceKeys
from camaudit.hub.ingest.link_memory import MemoryLinker
from camaudit.hub.ingest.link_shared import SharedLinker
from camaudit.hub.ingest.linking import Linker, Mode
from camaudit.hub.ingest.linkstore import LinkStore
from camaudit.hub.ingest.replay import Replays
from camaudit.hub.ingest.verify import Reject, check_message
from camaudit.hub.ingest.witness import Countersigner
from camaudit.hub.store.alert_acks import retained_payload
from camaudit.hub.store.hub_store import HubStore
from camaudit.mqtt import topics

if TYPE_CHECKING:
    from camaudit.config.mqtt import MqttConfig
    from camaudit.store.keys import DeviceKey

log = logging.getLogger(__name__)

BEAT_S = 1.0  # heartbeat of this collector's registration (and its lag) in the store


class Collector:
    def __init__(
        self,
        store: HubStore,
        mqtt: MqttConfig,
        witness_key: DeviceKey,
        *,
        tofu: bool = False,
        max_bytes: int = 64 * 1024,
        client_id: str = "camaudit-hub",
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
        on_stored: Callable[[list[Event]], None] | None = None,
        receiver_process: bool = False,
        linking: Mode = "memory",
        group: str = "camaudit-hub",
        collector_id: str | None = None,
        links: LinkStore | None = None,
        timezone: str = "UTC",
        not_device: Callable[[str], bool] = lambda _name: False,
    ) -> None:
        """`not_device(name)`: True for the hub's own MQTT users, which trust on first use
        must never enroll as devices (the ACL lets every user write its own `key` topic)."""
        self.store = store
        self.timezone = timezone  # the venue's zone, named in the retained open alerts
        self.cfg = mqtt
        self.p = mqtt.prefix
        self.max_bytes = max_bytes
        self.client_id = client_id
        self.on_alerts = on_alerts
        self.on_stored = on_stored
        self.receiver_process = receiver_process
        self.linking: Mode = linking
        self.group = group
        self.collector_id = collector_id or f"{client_id}@{_host()}:{os.getpid()}"
        self.stats = {"messages": 0, "stored": 0, "rejected": 0, "duplicates": 0, "batches": 0, "acks": 0,
                      "reacks": 0, "replays": 0}
        self.inbox = Inbox(mqtt, client_id, v5=linking == "shared")
        self.keys = DeviceKeys(store)
        self.side = SideChannel(store, self.keys, self.p, tofu=tofu, not_device=not_device)
        self.linker = self._linker(witness_key)
        self._links = links
        self._registered = False
        self._last_beat = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _linker(self, witness_key: DeviceKey) -> Linker:
        signer = Countersigner(witness_key, self.keys)
        replays = Replays(self._out, self.p, self.stats)
        alerts = ForkAlerts(self.publish_open_alerts)
        if self.linking == "shared":
            return SharedLinker(lambda: self.links, self.keys, signer, OwedAcks(self._ack, self.stats),
                                replays, alerts, self.stats, self._notify)
        return MemoryLinker(self.store, self.keys, signer, ChainAcks(self._ack, self.stats), replays,
                            alerts, self.stats)

    @property
    def links(self) -> LinkStore:
        """The store's linking tables (opened on first use on the hub store's database)."""
        if self._links is None:
            self._links = LinkStore(self.store.sql)
        return self._links

    @property
    def connected(self) -> threading.Event:
        return self.inbox.connected

    @property
    def evidence(self) -> Any:
        """hub.evidence.inbox.EvidenceInbox, set before start() (evidence frames)."""
        return self.side.evidence

    @evidence.setter
    def evidence(self, inbox: Any) -> None:
        self.side.evidence = inbox

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self.links.register(self.collector_id, self.linking)  # refuses a clash (CollectorConflict)
        self._registered = True
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="hub-collector", daemon=True)
        self._thread.start()
        self.inbox.start(self._subscriptions(), receiver_process=self.receiver_process)
        log.info("hub collector %s started on %s (prefix %s, %s linking%s)", self.collector_id, self.cfg.url,
                 self.p, self.linking, ", receiver process" if self.receiver_process else "")

    def _subscriptions(self) -> list[tuple[str, int]]:
        p = self.p
        share = f"$share/{self.group}/" if self.linking == "shared" else ""
        # status and key are retained: a shared subscription never gets retained messages
        # (MQTT 5, 4.8.2), so every worker reads them itself (storing them is idempotent)
        return [(share + topics.all_events(p), 1), (share + topics.all_checkpoints(p), 1),
                (topics.all_status(p), 1), (topics.all_keys(p), 1)] + (
                    [(share + topics.all_evidence(p), 1)] if self.evidence is not None else [])

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.inbox.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._registered:
            self.links.unregister(self.collector_id)
            self._registered = False
        log.info("hub collector stopped")

    def reload_keys(self) -> None:
        self.keys.reload()

    def submit(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Feed one message as if it came from the broker (used by bench and tests)."""
        self.inbox.q.put((topic, payload, int(time.time() * 1000), retain))

    def sweep(self) -> None:
        """Shared linking: link what waits in `pending`, ask for every gap's replay."""
        assert isinstance(self.linker, SharedLinker), "only shared linking sweeps"
        self.linker.sweep()

    @property
    def acks_sent(self) -> deque[tuple[str, int]]:
        """Shared linking: (device, seq) of the latest acks this worker sent (tests, bounded)."""
        return self.linker.acks.sent if isinstance(self.linker, SharedLinker) else deque()

    # ---- the worker thread ------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self.inbox.resync.is_set():
                self.inbox.resync.clear()
                self._ask_resend()
            try:
                first = self.inbox.q.get(timeout=self.linker.wait_s())
            except queue.Empty:
                self._idle()
                continue
            msgs = self.inbox.batch(first)
            try:
                self._process(msgs)
                self._maintain(time.monotonic())
            except Exception:
                log.exception("hub batch of %d message(s) failed; re-running it message by message",
                              len(msgs))
                self.linker.forget(None)
                for m in msgs:  # one message that cannot be stored never costs the others
                    try:
                        self._process([m])
                    except Exception as exc:
                        self.linker.forget(None)
                        log.exception("hub message on %s failed", m[0][:120])
                        self._count_internal(m[0], exc)

    def _process(self, msgs: list[Message]) -> None:
        """One batch: check each message, link it, store the batch, tell, ack."""
        b = Batch()
        for topic, payload, received, _retain in msgs:
            self.stats["messages"] += 1
            try:
                got = self._checked(topic, payload, received, b)
                if got is not None:
                    self.linker.take(topic, got[0], got[1], received, b)
            except Exception as exc:  # isolated: this message only
                log.exception("hub message on %s failed", topic[:120])
                where = topics.split(self.p, topic)
                if where is not None:
                    self.linker.forget(where[0])
                b.reject("internal", f"{topic[:80]}: {exc!r}"[:200])
        dropped = self.inbox.take_dropped()
        if dropped:
            b.reject("overload", f"{dropped} message(s) dropped: hub queue full")
        self.linker.commit(b, min(m[2] for m in msgs))
        self.stats["batches"] += 1
        self.stats["rejected"] += sum(n for n, _ in b.rejects.values())
        for reason, (n, detail) in b.rejects.items():
            log.info("rejected %d message(s): %s (%s)", n, reason, detail[:120])
        self._notify(b)
        self.linker.send(b)

    def _checked(self, topic: str, payload: bytes, received: int, b: Batch) -> tuple[Event, str] | None:
        """A verified event and its text; None for a side-channel message (handled) or a
        message that failed a check (counted in `b` by reason)."""
        if self.side.handle(topic, payload, received):
            return None
        try:
            return check_message(self.p, topic, payload, self.keys.key_of, self.max_bytes, received)
        except Reject as r:
            b.reject(r.reason, r.detail)
            return None

    def _notify(self, b: Batch) -> None:
        """Tell the listeners (live page, alert sinks) what the batch stored and raised."""
        if b.new and self.on_stored is not None:
            self.on_stored([ev for ev, _, _ in b.new])
        self.linker.settle(b)
        if b.alerts:
            self.publish_open_alerts()
        if b.alerts and self.on_alerts is not None:
            try:
                self.on_alerts(b.alerts)
            except Exception:
                log.exception("alert listener failed")

    def publish_open_alerts(self) -> None:
        """Every open alert, retained on `<p>/hub/alerts` as {"alerts": [...], "tz": zone}
        (`camaudit alerts` lists them); the retained message is cleared when none is open."""
        try:
            payload = retained_payload(self.store.open_alerts(), self.timezone)
        except Exception:
            log.exception("listing the open alerts failed")
            return
        self._out(topics.alerts(self.p, "hub"), payload, retain=True)

    # ---- between batches --------------------------------------------------------------
    def _ask_resend(self) -> None:
        """Just (re)subscribed: whatever devices sent while the hub was not subscribed is gone
        from the broker. Ask every enrolled device to re-send from its stored head now, rather
        than each waiting out its ack timeout (a device with nothing unacked sends nothing)."""
        self.reload_keys()
        self.linker.resend_all()

    def _idle(self) -> None:
        now = time.monotonic()
        self.linker.lag_ms = 0
        self._maintain(now)
        self.linker.idle(now)
        dropped = self.inbox.take_dropped()
        if dropped:
            self.store.write_batch([], {}, {}, {"overload": (dropped, "hub queue full")}, [])

    def _maintain(self, now: float) -> None:
        """Heartbeat of this collector's registration in the store; the linker's upkeep."""
        if self._registered and now - self._last_beat >= BEAT_S:
            self._last_beat = now
            try:
                self.links.heartbeat(self.collector_id, self.linker.lag_ms)
            except Exception:
                log.exception("collector heartbeat failed")
        self.linker.maintain(now)

    def _count_internal(self, topic: str, exc: Exception) -> None:
        try:
            self.store.write_batch([], {}, {}, {"internal": (1, f"{topic[:80]}: {exc!r}"[:200])}, [])
        except Exception:
            log.exception("cannot count an internal reject")

    # ---- out --------------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.inbox.publish(topic, payload, qos=qos, retain=retain)

    def _out(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._publish(topic, payload, qos=qos, retain=retain)  # late-bound: tests may replace _publish

    def _ack(self, dev: str, seq: int) -> None:
        self._out(topics.ack(self.p, dev), str(seq).encode())


def _host() -> str:
    return socket.gethostname()[:64]
