"""The hub's collector: receive events over MQTT, verify, store, ack, ask for replay, witness.

paho's network thread (in a child process by default, see hub/ingest/receiver.py) only queues
raw messages; one worker thread drains the queue in batches, checks every message
(hub/ingest/verify.py), links each event to the stored chain head (events that arrive early wait
in a bounded per-device buffer while the hub asks for replay of the gap), writes a batch
in one SQLite transaction, then publishes the new contiguous head on `<p>/<device>/ack`
(QoS1, not retained: a stale retained ack could clear a re-created journal's outbox; a
device that missed an ack re-sends and is re-acked). Under load a batch waits up to FILL_S
to fill, and a device is acked at most every ACK_EVERY_S (one ack then covers hundreds of
events: per-batch acks cost the broker and the device as much as the events themselves).

Failures are per message: a message that fails a check is counted by reason and skipped;
an unexpected error in one message costs only that message ("internal"), and if a batch
cannot be written the batch is re-run one message at a time.

Forks: a validly signed record that disagrees with the stored chain (same seq, other hash;
or a prev that is not the stored hash) is quarantined with every other version, raises an
operator alert (web page, MQTT `<p>/hub/alerts` retained, `camaudit alerts`), and the
device gets no more acks until an operator resolves it (`camaudit hub resolve-fork`), so
neither copy of its journal prunes anything.

Linking has two modes. `memory` (the single hub, the default): the chain heads live in
this process, the fastest way while one collector has the whole stream. `shared` (`camaudit
hub --worker`, or a hub on a store where workers ran): the collector joins an MQTT shared
subscription group (`$share/<group>/<p>/+/events`) with other workers and links every batch
in the shared store (hub/ingest/shared_link.py); the worker whose transaction advanced a device's
head sends that ack, replay requests are claimed in the store (one per device per
REPLAY_EVERY_S across the group), and every worker sweeps for gaps every SWEEP_S. Every
collector registers in the store (linkstore `collectors`): an in-memory linker refuses to
start next to any other live collector, a worker refuses to start next to an in-memory one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from camaudit.core.record import GENESIS_PREV, Event, RecordError, check_sig_of
from camaudit.hub.ingest import witness
from camaudit.hub.ingest.shared_link import Incoming, LinkResult, LinkStore, Mode
from camaudit.hub.ingest.verify import Reject, check_message
from camaudit.hub.store.hub_store import HubStore, alert_view, fork_alert
from camaudit.mqtt import topics
from camaudit.mqtt.client import connect_in_background, make_client

if TYPE_CHECKING:
    from camaudit.config.mqtt import MqttConfig
    from camaudit.store.keys import DeviceKey

log = logging.getLogger(__name__)

MAX_BATCH = 2000
FILL_BATCH = 200  # below this many messages, wait up to FILL_S for more before writing
FILL_S = 0.01
PENDING_LIMIT = 10_000  # early events buffered per device
RECENT = 4096  # recent hashes kept per device (checkpoint checks)
REPLAY_EVERY_S = 1.0
REACK_EVERY_S = 0.5
ACK_EVERY_S = 0.05  # a device's new head is acked at most this often (one ack covers many events)
BASE_CHECK_S = 2.0  # a device stuck on a gap: look this often for a new base (`hub enroll --after`)
SWEEP_S = 1.0  # shared linking: look this often for gaps left by a worker that died
BEAT_S = 1.0  # heartbeat of this collector's registration (and its lag) in the store


@dataclass
class _Chain:
    head: Event | None
    head_seq: int
    head_hash: str
    pending: dict[int, tuple[Event, str]] = field(default_factory=dict)
    recent: OrderedDict[int, str] = field(default_factory=OrderedDict)
    last_replay: float = 0.0
    last_ack: float = 0.0
    acked_seq: int = -1  # head last acked (-1: none yet)
    base_seq: int = 0  # the hub's chain starts after this seq (`hub enroll --after`), and
    base_hash: str = GENESIS_PREV  # ... this is that seq's hash
    base_checked: float = 0.0
    fork_seq: int | None = None  # an open fork: no acks for this device


@dataclass
class _Batch:
    new: list[tuple[Event, str, int]] = field(default_factory=list)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    dups: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, tuple[int, str]] = field(default_factory=dict)
    witnesses: list[dict[str, Any]] = field(default_factory=list)
    ack: set[str] = field(default_factory=set)
    replay: dict[str, int] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[tuple[Event, str, int, str]] = field(default_factory=list)
    forked: set[str] = field(default_factory=set)

    def reject(self, reason: str, detail: str) -> None:
        n = self.rejects.get(reason, (0, ""))[0]
        self.rejects[reason] = (n + 1, detail)

    def saw(self, ev: Event, received: int) -> None:
        """Device activity: the highest seq seen and when."""
        max_seen, _ = self.seen.get(ev.device, (0, 0))
        self.seen[ev.device] = (max(max_seen, ev.seq), received)


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
    ) -> None:
        self.store = store
        self.cfg = mqtt
        self.p = mqtt.prefix
        self.tofu = tofu
        self.max_bytes = max_bytes
        self.client_id = client_id
        self.on_alerts = on_alerts
        self.on_stored = on_stored
        self.receiver_process = receiver_process
        self._proc: Any = None
        self._conn: Any = None
        self._conn_lock = threading.Lock()
        self._rx_thread: threading.Thread | None = None
        self._wkey = witness_key
        self._q: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue(maxsize=200_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._keys = store.keys()
        self._keys_loaded = time.monotonic()
        self._chains: dict[str, _Chain] = {}
        self._dropped = 0
        self.connected = threading.Event()
        self._resync = threading.Event()
        self.stats = {"messages": 0, "stored": 0, "rejected": 0, "duplicates": 0, "batches": 0, "acks": 0,
                      "reacks": 0, "replays": 0}
        self.evidence: Any = None  # hub.evidence.EvidenceInbox, set before start() (evidence frames)
        self.linking: Mode = linking
        self.group = group
        self.collector_id = collector_id or f"{client_id}@{_host()}:{os.getpid()}"
        self._links = links
        self._registered = False
        self._owed: dict[str, int] = {}  # shared: device -> head this worker advanced and must ack
        self._last_ack: dict[str, float] = {}
        self._last_reack: dict[str, float] = {}
        self._forked: set[str] = set()
        self._last_sweep = 0.0
        self._last_beat = 0.0
        self._lag_ms = 0  # shared: how long the oldest message of the batch being handled waited
        # shared: (device, seq) of the latest acks this worker sent (tests, bounded)
        self.acks_sent: deque[tuple[str, int]] = deque(maxlen=100_000)

    @property
    def links(self) -> LinkStore:
        """The store's linking tables (opened on first use on the hub store's database)."""
        if self._links is None:
            self._links = LinkStore(self.store.sql)
        return self._links

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self.links.register(self.collector_id, self.linking)  # refuses a clash (CollectorConflict)
        self._registered = True
        self._last_beat = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="hub-collector", daemon=True)
        self._thread.start()
        if self.receiver_process:
            self._start_receiver()
        else:
            client = make_client(self.cfg, self.client_id, clean_session=False, v5=self.linking == "shared")
            client.on_connect = self._on_connect
            client.on_disconnect = self._on_disconnect
            client.on_message = self._on_message
            client.on_subscribe = self._on_subscribe
            self._client = client
            connect_in_background(client, self.cfg)
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

    def _start_receiver(self) -> None:
        import multiprocessing

        from camaudit.hub.ingest.receiver import receiver_main

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=receiver_main, name="hub-receiver", daemon=True,
            args=(self.cfg.model_dump(), self.client_id, self._subscriptions(), child, self.linking == "shared"),
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._rx_thread = threading.Thread(target=self._rx_loop, name="hub-rx", daemon=True)
        self._rx_thread.start()

    def _rx_loop(self) -> None:
        conn = self._conn
        while not self._stop.is_set():
            try:
                if not conn.poll(0.2):
                    continue
                msg = conn.recv()
            except (EOFError, OSError):
                if not self._stop.is_set():
                    log.error("hub receiver process ended")
                self.connected.clear()
                return
            if msg[0] == "msgs":
                for m in msg[1]:
                    try:
                        self._q.put_nowait(m)
                    except queue.Full:
                        self._dropped += 1
            elif msg[0] == "up":
                self.connected.set()
                self._resync.set()
                log.info("hub connected to %s", self.cfg.url)
            elif msg[0] == "down":
                if self.connected.is_set() and not self._stop.is_set():
                    log.warning("hub lost its broker connection; retrying")
                self.connected.clear()

    def _publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self._conn is not None:
            # receiver gone: nothing to do, devices re-send and the hub acks later
            with self._conn_lock, contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(("pub", topic, payload, qos, retain))
        elif self._client is not None:
            self._client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._proc is not None:
            with self._conn_lock, contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(("stop",))
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2)
            if self._rx_thread is not None:
                self._rx_thread.join(timeout)
            self._conn.close()
            self._proc = self._conn = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._registered:
            self.links.unregister(self.collector_id)
            self._registered = False
        log.info("hub collector stopped")

    def reload_keys(self) -> None:
        self._keys = self.store.keys()
        self._keys_loaded = time.monotonic()

    def _key_of(self, device: str) -> bytes | None:
        key = self._keys.get(device)
        if key is None and time.monotonic() - self._keys_loaded > 2.0:
            self.reload_keys()  # enrolled by `camaudit hub enroll` while running
            key = self._keys.get(device)
        return key

    # ---- paho callbacks ---------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("hub MQTT connect to %s refused: %s", self.cfg.url, rc)
            return
        client.subscribe(self._subscriptions())
        log.info("hub connected to %s", self.cfg.url)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, rcs: Any, props: Any) -> None:
        self.connected.set()
        self._resync.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("hub lost its broker connection (%s); retrying", rc)
        self.connected.clear()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            self._q.put_nowait((msg.topic, msg.payload, int(time.time() * 1000), msg.retain))
        except queue.Full:
            self._dropped += 1  # the device re-sends: nothing is acked that was not stored

    def submit(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Feed one message as if it came from the broker (used by bench and tests)."""
        self._q.put((topic, payload, int(time.time() * 1000), retain))

    # ---- worker -----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if self._resync.is_set():
                self._resync.clear()
                self._ask_resend()
            try:
                first = self._q.get(timeout=self._wait_s())
            except queue.Empty:
                self._idle()
                continue
            msgs = self._fill([first])
            try:
                self._process(msgs)
                self._maintain(time.monotonic())
            except Exception:
                log.exception("hub batch of %d message(s) failed; re-running it message by message",
                              len(msgs))
                self._chains.clear()
                for m in msgs:  # one message that cannot be stored never costs the others
                    try:
                        self._process([m])
                    except Exception as exc:
                        self._chains.clear()
                        log.exception("hub message on %s failed", m[0][:120])
                        self._count_internal(m[0], exc)

    def _fill(self, msgs: list[tuple[str, bytes, int, bool]]) -> list[tuple[str, bytes, int, bool]]:
        """Take what is queued, up to MAX_BATCH; while the batch is small, wait up to FILL_S
        for more: messages that trickle in (a broker may deliver them one by one) are then checked
        and written in one transaction and acked once, not a few at a time."""
        deadline = time.monotonic() + FILL_S
        while len(msgs) < MAX_BATCH:
            try:
                msgs.append(self._q.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if len(msgs) >= FILL_BATCH or left <= 0:
                break
            try:
                msgs.append(self._q.get(timeout=left))
            except queue.Empty:
                break
        return msgs

    def _ask_resend(self) -> None:
        """Just (re)subscribed: whatever devices sent while the hub was not subscribed is gone
        from the broker. Ask every enrolled device to re-send from its stored head now, rather
        than each waiting out its ack timeout (a device with nothing unacked sends nothing)."""
        now = time.monotonic()
        self.reload_keys()
        if self.linking == "shared":
            try:
                heads = self.links.heads()
            except Exception:
                log.exception("cannot read the stored heads")
                return
            for dev in self._keys:
                if dev in heads and self.links.claim_replay(dev, REPLAY_EVERY_S):
                    self._replay(dev, heads[dev] + 1)
            return
        for dev in self._keys:
            try:
                ch = self._chain(dev)
            except Exception:
                log.exception("cannot read the stored head of %s", dev)
                continue
            ch.last_replay = now
            self._publish(topics.replay(self.p, dev), str(ch.head_seq + 1).encode())
        if self._keys:
            log.info("asked %d enrolled device(s) to re-send what the hub has not stored", len(self._keys))

    def _wait_s(self) -> float:
        """How long the worker may wait for messages: until the next ack falls due."""
        if self.linking == "shared":
            owed = [self._last_ack.get(dev, 0.0) for dev in self._owed]
            if not owed:
                return 0.2
            return min(0.2, max(0.001, min(owed) + ACK_EVERY_S - time.monotonic()))
        due = [ch.last_ack for ch in self._chains.values() if ch.acked_seq != ch.head_seq]
        if not due:
            return 0.2
        return min(0.2, max(0.001, min(due) + ACK_EVERY_S - time.monotonic()))

    def _idle(self) -> None:
        now = time.monotonic()
        self._lag_ms = 0
        self._maintain(now)
        if self.linking == "shared":
            self._send_owed_acks(now)
        else:
            self._send_acks(now)
        for dev, ch in self._chains.items():
            if ch.pending and now - ch.last_replay >= REPLAY_EVERY_S:
                ch.last_replay = now
                self._publish(topics.replay(self.p, dev), str(ch.head_seq + 1).encode())
        if self._dropped:
            n, self._dropped = self._dropped, 0
            b = _Batch()
            b.rejects["overload"] = (n, "hub queue full")
            self.store.write_batch([], {}, {}, b.rejects, [])

    def _count_internal(self, topic: str, exc: Exception) -> None:
        try:
            self.store.write_batch([], {}, {}, {"internal": (1, f"{topic[:80]}: {exc!r}"[:200])}, [])
        except Exception:
            log.exception("cannot count an internal reject")

    def _maintain(self, now: float) -> None:
        """Heartbeat in the store; shared linking: sweep for gaps (a worker that died with
        the missing event uncommitted leaves its successors waiting in `pending`)."""
        if self._registered and now - self._last_beat >= BEAT_S:
            self._last_beat = now
            try:
                self.links.heartbeat(self.collector_id, self._lag_ms)
            except Exception:
                log.exception("collector heartbeat failed")
        if self.linking == "shared" and now - self._last_sweep >= SWEEP_S:
            self._last_sweep = now
            try:
                self.sweep()
            except Exception:
                log.exception("gap sweep failed")

    def sweep(self) -> None:
        """Link what can be linked from `pending` and ask for the replay of every gap (one
        worker asks per device per REPLAY_EVERY_S)."""
        b = _Batch()
        for dev in self.links.gaps():
            if dev not in self._keys:
                self.reload_keys()
            if dev in self._keys:
                self._after_link(self.links.link(dev, [], self._witness_shared), b)
        self.links.count_rejects(b.rejects)
        self._publish_shared(b)

    def _process(self, msgs: list[tuple[str, bytes, int, bool]]) -> None:
        if self.linking == "shared":
            self._process_shared(msgs)
            return
        b = _Batch()
        for topic, payload, received, _retain in msgs:
            self.stats["messages"] += 1
            try:
                self._one(topic, payload, received, b)
            except Exception as exc:  # isolated: this message only
                log.exception("hub message on %s failed", topic[:120])
                where = topics.split(self.p, topic)
                if where is not None:
                    self._chains.pop(where[0], None)  # re-read its head from the store
                b.reject("internal", f"{topic[:80]}: {exc!r}"[:200])
        if self._dropped:
            n, self._dropped = self._dropped, 0
            b.reject("overload", f"{n} message(s) dropped: hub queue full")
        self.store.write_batch(b.new, b.seen, b.dups, b.rejects, b.witnesses, b.quarantine)
        self.stats["batches"] += 1
        self.stats["stored"] += len(b.new)
        self.stats["rejected"] += sum(n for n, _ in b.rejects.values())
        for reason, (n, detail) in b.rejects.items():
            log.info("rejected %d message(s): %s (%s)", n, reason, detail[:120])
        self._publish_after(b)

    def _side_channel(self, topic: str, payload: bytes, received: int) -> bool:
        """Status, key and evidence-frame messages (no chain): handled here; True if it was one."""
        if topic.endswith("/status") or topic.endswith("/key"):
            self._control(topic, payload, received)
            return True
        if self.evidence is not None and "/evidence/" in topic:  # blurred frames: hub/evidence/inbox.py
            self.evidence.submit(topic, payload, received)
            return True
        return False

    def _checked(self, topic: str, payload: bytes, received: int, b: _Batch) -> tuple[Event, str] | None:
        """A verified event and its text; None for a side-channel message (handled) or a
        message that failed a check (counted in `b` by reason)."""
        if self._side_channel(topic, payload, received):
            return None
        try:
            return check_message(self.p, topic, payload, self._key_of, self.max_bytes, received)
        except Reject as r:
            b.reject(r.reason, r.detail)
            return None

    def _one(self, topic: str, payload: bytes, received: int, b: _Batch) -> None:
        got = self._checked(topic, payload, received, b)
        if got is None:
            return
        ev, text = got
        if topic.endswith("/checkpoints") and self._chain(ev.device).recent.get(ev.seq) == ev.hash:
            return  # the checkpoints-topic copy of an event just stored from events
        b.saw(ev, received)
        self._accept(ev, text, received, b)

    def _fork(self, ch: _Chain, ev: Event, text: str, received: int, b: _Batch, why: str) -> None:
        """A validly signed record that contradicts the stored chain: quarantine, alert, no acks."""
        b.reject("fork", f"{ev.device} seq {ev.seq}: {why}")
        b.quarantine.append((ev, text, received, why))
        first = ch.fork_seq is None or ev.seq < ch.fork_seq
        ch.fork_seq = ev.seq if ch.fork_seq is None else min(ch.fork_seq, ev.seq)
        if first:
            b.forked.add(ev.device)
            log.error("FORK: device %s has two validly signed versions from seq %d (%s); "
                      "acks stopped until `camaudit hub resolve-fork %s`", ev.device, ev.seq, why,
                      ev.device)

    def _fork_resolved(self, dev: str, ch: _Chain) -> bool:
        """Resolved by an operator (maybe in another process): reload the chain from the store."""
        now = time.monotonic()
        if now - ch.base_checked < BASE_CHECK_S:
            return False
        ch.base_checked = now
        if self.store.fork_seq(dev) is not None:
            return False
        del self._chains[dev]
        log.warning("fork of %s resolved; acks resume", dev)
        if not self.store.forks():  # no open fork left: clear the retained operator alert
            self._publish(topics.alerts(self.p, "hub"), b"", retain=True)
        return True

    def _chain(self, dev: str) -> _Chain:
        ch = self._chains.get(dev)
        if ch is None:
            head = self.store.head_event(dev)
            base_seq, base_hash = self.store.base(dev) or (0, GENESIS_PREV)
            if head is not None:
                ch = _Chain(head, head.seq, head.hash)
            else:
                ch = _Chain(None, base_seq, base_hash)
            ch.base_seq, ch.base_hash, ch.base_checked = base_seq, base_hash, time.monotonic()
            ch.fork_seq = self.store.fork_seq(dev)
            self._chains[dev] = ch
        return ch

    def _rebased(self, dev: str, ch: _Chain) -> bool:
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
        for s in [s for s in ch.pending if s <= ch.head_seq]:
            del ch.pending[s]
        log.warning("device %s: chain now starts after seq %d (pruned on the device)", dev, base[0])
        return True

    def _accept(self, ev: Event, text: str, received: int, b: _Batch) -> None:
        ch = self._chain(ev.device)
        if ch.fork_seq is not None and self._fork_resolved(ev.device, ch):
            ch = self._chain(ev.device)
        if ev.seq <= ch.head_seq:
            known = ch.recent.get(ev.seq) or self.store.hash_at(ev.device, ev.seq)
            if known is not None and known != ev.hash:
                self._fork(ch, ev, text, received, b, f"differs from the stored seq {ev.seq}")
                return
            b.dups[ev.device] = b.dups.get(ev.device, 0) + 1
            self.stats["duplicates"] += 1
            b.ack.add(ev.device)  # the device missed our ack
            return
        if ev.seq > ch.head_seq + 1:
            self._rebased(ev.device, ch)
        if ev.seq > ch.head_seq + 1:
            if len(ch.pending) < PENDING_LIMIT or ev.seq in ch.pending:
                ch.pending.setdefault(ev.seq, (ev, text))
            b.replay[ev.device] = ch.head_seq + 1
            return
        if ev.seq <= ch.head_seq:  # at or before a new base
            b.dups[ev.device] = b.dups.get(ev.device, 0) + 1
            b.ack.add(ev.device)
            return
        self._link(ch, ev, text, received, b)
        while ch.head_seq + 1 in ch.pending:
            nxt, nxt_text = ch.pending.pop(ch.head_seq + 1)
            if not self._link(ch, nxt, nxt_text, received, b):
                break
        if ch.pending:
            # drop what is now stale; ask again for a gap that remains
            for s in [s for s in ch.pending if s <= ch.head_seq]:
                del ch.pending[s]
            if ch.pending:
                b.replay[ev.device] = ch.head_seq + 1

    def _link(self, ch: _Chain, ev: Event, text: str, received: int, b: _Batch) -> bool:
        if ev.prev != ch.head_hash:
            # signed by the device's key, yet not on the stored chain: a second history
            self._fork(ch, ev, text, received, b, f"prev is not the hash of stored seq {ch.head_seq}")
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

    @staticmethod
    def _checkpoint_claim(ev: Event) -> tuple[int, str, str]:
        """(seq, hash, sig) a checkpoint vouches for, checked for shape and range."""
        body = ev.body
        cp_seq, cp_hash, cp_sig = body.get("seq"), body.get("hash"), body.get("sig")
        if not isinstance(cp_seq, int) or not isinstance(cp_hash, str) or not isinstance(cp_sig, str):
            raise RecordError(f"seq {ev.seq}: checkpoint body lacks seq/hash/sig")
        if not 0 <= cp_seq < ev.seq:
            raise RecordError(f"seq {ev.seq}: checkpoint vouches for seq {cp_seq}")
        return cp_seq, cp_hash, cp_sig

    def _witness(self, ch: _Chain, ev: Event) -> dict[str, Any] | None:
        cp_seq, cp_hash, cp_sig = self._checkpoint_claim(ev)
        if cp_seq < ch.base_seq:
            return None  # vouches for a seq pruned before the hub had it: nothing to witness
        if cp_seq == ch.base_seq:
            known: str | None = ch.base_hash
        else:
            known = ch.recent.get(cp_seq) or self.store.hash_at(ev.device, cp_seq)
        return self._countersign(ev, cp_seq, cp_hash, cp_sig, known)

    def _witness_shared(self, ev: Event, base_seq: int, base_hash: str,
                        hash_at: Callable[[int], str | None]) -> dict[str, Any] | None:
        """A checkpoint linked by LinkStore: `hash_at` reads the stored chain in its transaction."""
        cp_seq, cp_hash, cp_sig = self._checkpoint_claim(ev)
        if cp_seq < base_seq:
            return None
        return self._countersign(ev, cp_seq, cp_hash, cp_sig, base_hash if cp_seq == base_seq else hash_at(cp_seq))

    def _countersign(self, ev: Event, cp_seq: int, cp_hash: str, cp_sig: str, known: str | None) -> dict[str, Any]:
        if known != cp_hash:
            raise RecordError(f"seq {ev.seq}: checkpoint hash does not match seq {cp_seq}")
        check_sig_of(cp_hash, cp_sig, self._keys[ev.device], what=f"seq {ev.seq}: checkpoint")
        ts = int(time.time() * 1000)
        sig = self._wkey.sign(witness.statement(ev.device, ev.seq, cp_seq, cp_hash, ts)).hex()
        return {"device": ev.device, "seq": ev.seq, "cp_seq": cp_seq, "cp_hash": cp_hash,
                "ts": ts, "hub_key": self._wkey.public_hex, "hub_sig": sig}

    def _send_acks(self, now: float) -> None:
        """Ack each device whose stored head moved (or that re-sent), at most every ACK_EVERY_S:
        under load one ack covers a whole window of events instead of one per batch."""
        for dev, ch in self._chains.items():
            if ch.fork_seq is not None:
                continue  # forked: neither copy may prune anything until an operator resolves it
            if ch.acked_seq == ch.head_seq or now - ch.last_ack < ACK_EVERY_S:
                continue
            ch.last_ack, ch.acked_seq = now, ch.head_seq
            self.stats["acks"] += 1
            self._publish(topics.ack(self.p, dev), str(ch.head_seq).encode())

    def _control(self, topic: str, payload: bytes, received: int) -> None:
        where = topics.split(self.p, topic)
        if where is None or len(payload) > 256:
            return
        dev, kind = where
        if kind == "status":
            if dev in self._keys:
                self.store.set_online(dev, payload == topics.ONLINE, received)
        elif kind == "key":
            try:
                raw = bytes.fromhex(payload.decode("ascii").strip())
            except (UnicodeDecodeError, ValueError):
                return
            known = self._keys.get(dev)
            if known is None and self.tofu and len(raw) == 32:
                self.store.enroll(dev, raw.hex(), how="tofu")
                self.reload_keys()
                log.warning("device %s enrolled on first use (key %s...)", dev, raw.hex()[:16])
            elif known is not None and known != raw:
                self.store.write_batch([], {}, {}, {"key_mismatch": (1, dev)}, [])

    def _publish_after(self, b: _Batch) -> None:
        if b.new and self.on_stored is not None:
            self.on_stored([ev for ev, _, _ in b.new])
        for dev in b.forked:
            fork = next((f for f in self.store.forks() if f["device"] == dev), None)
            if fork is not None:
                alert = fork_alert(fork)
                b.alerts.append(alert)
                self._publish(topics.alerts(self.p, "hub"), json.dumps(alert).encode(), retain=True)
        if b.alerts and self.on_alerts is not None:
            try:
                self.on_alerts(b.alerts)
            except Exception:
                log.exception("alert listener failed")
        now = time.monotonic()
        for dev in b.ack:
            ch = self._chains[dev]
            if ch.acked_seq == ch.head_seq and now - ch.last_ack >= REACK_EVERY_S:
                ch.acked_seq = -1  # a re-sent event: the device missed our ack, send it again
        self._send_acks(now)
        for dev, frm in b.replay.items():
            ch = self._chains[dev]
            if now - ch.last_replay < REPLAY_EVERY_S:
                continue
            ch.last_replay = now
            log.info("asking %s to replay from seq %d", dev, frm)
            self._publish(topics.replay(self.p, dev), str(frm).encode())

    # ---- shared linking (hub/ingest/shared_link.py) ------------------------------------------------
    def _process_shared(self, msgs: list[tuple[str, bytes, int, bool]]) -> None:
        """Check every message, then link per device in the shared store (one transaction each)."""
        self._lag_ms = int(time.time() * 1000) - min(m[2] for m in msgs)
        b = _Batch()
        by_dev: dict[str, list[Incoming]] = {}
        for topic, payload, received, _retain in msgs:
            self.stats["messages"] += 1
            try:
                got = self._checked(topic, payload, received, b)
                if got is None:
                    continue
                ev, text = got
                by_dev.setdefault(ev.device, []).append(
                    Incoming(ev, text, received, quiet=topic.endswith("/checkpoints")))
                b.saw(ev, received)
            except Exception as exc:  # isolated: this message only
                log.exception("hub message on %s failed", topic[:120])
                b.reject("internal", f"{topic[:80]}: {exc!r}"[:200])
        for dev, inc in by_dev.items():
            try:
                res = self.links.link(dev, inc, self._witness_shared, b.seen.get(dev))
            except Exception as exc:  # this device's messages only; the device re-sends them
                log.exception("hub could not link %d event(s) of %s", len(inc), dev)
                b.reject("internal", f"{dev}: {exc!r}"[:200])
                continue
            self._after_link(res, b)
        if self._dropped:
            n, self._dropped = self._dropped, 0
            b.reject("overload", f"{n} message(s) dropped: hub queue full")
        self.links.count_rejects(b.rejects)
        self.stats["batches"] += 1
        self.stats["rejected"] += sum(n for n, _ in b.rejects.values())
        for reason, (n, detail) in b.rejects.items():
            log.info("rejected %d message(s): %s (%s)", n, reason, detail[:120])
        self._publish_shared(b)

    def _after_link(self, res: LinkResult, b: _Batch) -> None:
        """What one device's link transaction means for this worker: acks it owes, replay,
        fork alerts; collected in `b` and sent by _publish_shared."""
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
            b.alerts.append(fork_alert(res.fork_opened))
            self._publish(topics.alerts(self.p, "hub"), json.dumps(fork_alert(res.fork_opened)).encode(),
                          retain=True)
        if res.fork_open:
            self._forked.add(dev)
            self._owed.pop(dev, None)  # forked: neither copy may prune anything
        else:
            if dev in self._forked:
                self._forked.discard(dev)
                log.warning("fork of %s resolved; acks resume", dev)
                if not self.links.open_forks():
                    self._publish(topics.alerts(self.p, "hub"), b"", retain=True)
                self._owed[dev] = res.head  # what was stored while forked was never acked
            now = time.monotonic()
            if res.advanced:
                self._owed[dev] = max(self._owed.get(dev, 0), res.head)
            elif res.reack and now - self._last_reack.get(dev, 0.0) >= REACK_EVERY_S:
                self._last_reack[dev] = now  # the device missed an ack: tell it the stored head
                self._owed[dev] = max(self._owed.get(dev, 0), res.head)
                self._last_ack.pop(dev, None)
                self.stats["reacks"] += 1
        if res.gap:
            b.replay[dev] = res.head + 1

    def _publish_shared(self, b: _Batch) -> None:
        if b.new and self.on_stored is not None:
            self.on_stored([ev for ev, _, _ in b.new])
        if b.alerts and self.on_alerts is not None:
            try:
                self.on_alerts(b.alerts)
            except Exception:
                log.exception("alert listener failed")
        self._send_owed_acks(time.monotonic())
        for dev, frm in b.replay.items():
            if self.links.claim_replay(dev, REPLAY_EVERY_S):
                self._replay(dev, frm)

    def _send_owed_acks(self, now: float) -> None:
        """Ack each device whose head THIS worker advanced, at most every ACK_EVERY_S; not a
        device another worker found forked since (read once per round, just before sending)."""
        due = [(dev, seq) for dev, seq in self._owed.items() if now - self._last_ack.get(dev, 0.0) >= ACK_EVERY_S]
        if not due:
            return
        forked = self.links.forked_devices()
        for dev, seq in due:
            del self._owed[dev]
            if dev in forked:
                continue  # neither copy may prune anything until an operator resolves the fork
            self._last_ack[dev] = now
            self.stats["acks"] += 1
            self.acks_sent.append((dev, seq))
            self._publish(topics.ack(self.p, dev), str(seq).encode())

    def _replay(self, dev: str, frm: int) -> None:
        self.stats["replays"] += 1
        log.info("asking %s to replay from seq %d", dev, frm)
        self._publish(topics.replay(self.p, dev), str(frm).encode())


def _host() -> str:
    return socket.gethostname()[:64]
