"""Device side: send journal events over MQTT and clear them only on the hub's acknowledgement.

One sender thread owns all publishing. The caller (capture pipeline) only appends to the
journal and calls `notify()`, which never blocks, whatever the broker does. Rows leave the
outbox only when the hub acks `<p>/<device>/ack` (highest contiguous seq it stored): a
broker PUBACK proves nothing about the hub. Unacked rows are re-sent after a reconnect,
after `ack_timeout_s` without ack progress, or from the seq the hub asks for on
`<p>/<device>/cmd/replay`. The window of events sent but not acked is bounded.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from camaudit.mqtt import topics
from camaudit.mqtt.client import connect_in_background, make_client
from camaudit.mqtt.discovery import discovery_messages

if TYPE_CHECKING:
    from camaudit.config.mqtt import MqttConfig
    from camaudit.core.record import Event
    from camaudit.mqtt.evidence_sender import EvidenceSender

log = logging.getLogger(__name__)

BATCH = 200  # rows read from the journal per round
ACK_FLUSH_S = 0.2  # outbox rows are cleared at most this often (a crash only means re-sends)


class JournalLike(Protocol):
    """The part of store.journal.Journal the publisher uses (thread-safe)."""

    @property
    def device(self) -> str: ...

    @property
    def head(self) -> tuple[int, str]: ...

    @property
    def public_key(self) -> bytes: ...

    def events(self, after_seq: int = 0, limit: int | None = None) -> list[Event]: ...

    def unacked(self, after_seq: int = 0, limit: int = 500) -> list[Event]: ...

    def ack(self, upto_seq: int) -> int: ...


def parse_seq(payload: bytes) -> int | None:
    """An ack / replay payload: a decimal seq, or JSON {"seq": n} / {"from": n}."""
    if len(payload) > 64:
        return None
    try:
        val: Any = json.loads(payload)
    except ValueError:
        return None
    if isinstance(val, dict):
        val = val.get("seq", val.get("from"))
    if isinstance(val, bool) or not isinstance(val, int) or val < 0:
        return None
    return val


def alert_payload(ev: Event, timezone: str | None = None) -> bytes:
    """Short human text + event ref, for `<p>/<device>/alerts`; `tz`: the venue's zone, so
    `camaudit alerts` prints the venue's local time."""
    body = ev.body
    out = {
        "tz": timezone,
        "device": ev.device,
        "seq": ev.seq,
        "ts": ev.ts,
        "feed": ev.feed,
        "text": body.get("text", ""),
        "capture": body.get("capture"),
        "reasons": body.get("reasons", []),
        "ref_seq": body.get("ref_seq"),
    }
    return json.dumps(out, sort_keys=True, separators=(",", ":")).encode()


def _utc_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


class Publisher:
    """Publishes a device journal to MQTT with at-least-once delivery to the hub."""

    def __init__(
        self,
        cfg: MqttConfig,
        journal: JournalLike,
        *,
        feeds: Sequence[str] = (),
        notices: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        evidence: EvidenceSender | None = None,
        timezone: str | None = None,
    ) -> None:
        self._cfg = cfg
        self._timezone = timezone
        self._evidence = evidence  # blurred frames of opted-in feeds (None: none are sent)
        self._journal = journal
        self._device = journal.device
        self._p = cfg.prefix
        self._feeds = list(feeds)
        self._notices = list(notices)
        self._clock = clock
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None
        # state shared with paho callbacks (guarded by _cv; never held around client.publish)
        self._connected = False
        self._dirty = False
        self._hub_acked = 0  # highest seq the hub acked (from the ack topic)
        self._rewind: int | None = None  # re-send from after this seq
        self._announce = False  # (re)publish status / retained states / discovery
        self._faces: dict[str, int] = {}
        self._notice_state: dict[str, str] = {}
        self._retained_dirty: set[str] = set()
        # sender-thread state
        self._cursor = 0
        self._replay_end = 0
        self._journal_acked = 0
        self._t_flush = 0.0
        self._t_wait = 0.0
        self._unconsented: dict[str, int] = {}
        self._unconsented_day = ""
        self._counted_seq = 0
        self.stats = {"sent": 0, "resent_rounds": 0, "acks": 0, "connects": 0}

    # ---- public API -------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background and start sending; returns at once even if the broker is down."""
        rows = self._journal.unacked(after_seq=0, limit=1)
        head_seq = self._journal.head[0]
        acked = rows[0].seq - 1 if rows else head_seq
        self._hub_acked = self._journal_acked = self._cursor = acked
        self._count_today(head_seq)
        p, dev = self._p, self._device
        client = make_client(
            self._cfg, f"camaudit-{dev}", will=(topics.status(p, dev), topics.OFFLINE)
        )
        # No paho-level limit: the hub-ack window (cfg.max_inflight) already bounds what is
        # out. With a limit, paho walks every outstanding message on each PUBACK (O(window)
        # per event: a third of this process's CPU behind the slower embedded broker).
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._thread = threading.Thread(target=self._run, name=f"mqtt-pub-{dev}", daemon=True)
        self._thread.start()
        connect_in_background(client, self._cfg)
        log.info("publisher for %s started (%s, outbox from seq %d)", dev, self._cfg.url, acked + 1)

    def notify(self) -> None:
        """New events are in the journal: wake the sender (never blocks on the network)."""
        with self._cv:
            self._dirty = True
            self._cv.notify()

    def set_faces(self, feed: str, count: int) -> None:
        """Retained current face count of a feed (published only when it changes)."""
        with self._cv:
            if self._faces.get(feed) == count:
                return
            self._faces[feed] = count
            if feed not in self._feeds:
                self._feeds.append(feed)
            self._retained_dirty.add(topics.faces(self._p, self._device, feed))
            self._dirty = True
            self._cv.notify()

    def set_notice(self, notice_id: str, state: str) -> None:
        """Retained notice state (VISIBLE / MISSING / UNKNOWN)."""
        with self._cv:
            if self._notice_state.get(notice_id) == state:
                return
            self._notice_state[notice_id] = state
            if notice_id not in self._notices:
                self._notices.append(notice_id)
            self._retained_dirty.add(topics.notice(self._p, self._device, notice_id))
            self._dirty = True
            self._cv.notify()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def hub_acked(self) -> int:
        return self._hub_acked

    def evidence_pending(self) -> int:
        """Evidence frames queued for the hub and not yet acked by it (0: none or not sending)."""
        return self._evidence.outbox.counts().get("queued", 0) if self._evidence is not None else 0

    def stop(self, timeout: float = 5.0) -> None:
        """Publish retained `offline`, disconnect and end the threads (bounded by `timeout`)."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        self._stop.set()
        self.notify()
        self._thread.join(max(0.1, deadline - time.monotonic()))
        client = self._client
        if self._connected:
            try:
                info = client.publish(
                    topics.status(self._p, self._device), topics.OFFLINE, qos=1, retain=True
                )
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                log.warning("could not publish offline status: %s", exc)
        client.disconnect()
        client.loop_stop()
        self._thread = None
        self._flush_ack()
        if self._evidence is not None:
            self._evidence.outbox.close()
        log.info("publisher for %s stopped (hub acked seq %d)", self._device, self._hub_acked)

    # ---- paho callbacks (network thread) -------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("MQTT connect to %s refused: %s", self._cfg.url, rc)
            return
        p, dev = self._p, self._device
        subs = [(topics.ack(p, dev), 1), (topics.replay(p, dev), 1)]
        if self._evidence is not None:
            subs.append((topics.evidence_ack(p, dev), 1))
            self._evidence.on_connect()
        client.subscribe(subs)
        with self._cv:
            self._connected = True
            self._announce = True
            self._rewind = -1  # means: from the hub's ack
            self._dirty = True
            self._cv.notify()
        self.stats["connects"] += 1
        log.info("MQTT connected to %s", self._cfg.url)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        with self._cv:
            was = self._connected
            self._connected = False
        if was and not self._stop.is_set():
            log.warning("MQTT connection to %s lost (%s); will retry", self._cfg.url, rc)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if self._evidence is not None and msg.topic == topics.evidence_ack(self._p, self._device):
            self._evidence.on_ack(msg.payload)
            self.notify()  # a slot is free: send the next frame
            return
        seq = parse_seq(msg.payload)
        if seq is None:
            log.warning("ignoring bad payload on %s", msg.topic)
            return
        is_ack = msg.topic.endswith("/ack")
        if is_ack and seq > self._journal.head[0]:
            log.warning("ignoring ack of seq %d beyond the journal head", seq)
            return
        with self._cv:
            if is_ack:
                if seq > self._hub_acked:
                    self._hub_acked = seq
                    self._t_wait = time.monotonic()
                    self.stats["acks"] += 1
            else:
                frm = max(0, seq - 1)
                self._rewind = frm if self._rewind is None or self._rewind < 0 else min(self._rewind, frm)
                log.info("hub asked for replay from seq %d", seq)
            self._dirty = True
            self._cv.notify()

    # ---- sender thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except Exception:  # keep sending whatever one round did (e.g. a locked DB)
                log.exception("publisher round failed; retrying")
                self._stop.wait(1.0)

    def _round(self) -> None:
        with self._cv:
            if not self._dirty:
                self._cv.wait(timeout=0.25)
            self._dirty = False
            connected = self._connected
            acked = self._hub_acked
            rewind, self._rewind = self._rewind, None
            announce, self._announce = self._announce, False
            retained = self._retained_dirty
            self._retained_dirty = set()
        self._flush_ack(acked, force=False)
        if self._evidence is not None:  # queue frames; send those whose naming event the hub acked
            try:
                self._evidence.round(self._client.publish, self._p, self._device, acked,
                                     connected=connected)
            except Exception:  # a frame never costs the events their sending
                log.exception("evidence sending round failed; retrying")
        if not connected:
            if announce or retained:  # try again once connected
                with self._cv:
                    self._announce = self._announce or announce
                    self._retained_dirty |= retained
            return
        now = time.monotonic()
        if self._roll_day():  # midnight UTC: today's counts start again at 0
            retained |= {topics.unconsented_today(self._p, self._device, f) for f in self._feeds}
        if announce:
            self._publish_announce()
        elif retained:
            self._publish_retained(retained)
        if rewind is not None:
            if rewind < 0:
                self._cursor, self._replay_end = acked, 0
            else:
                self._cursor = min(self._cursor, rewind)
                self._replay_end = max(self._replay_end, acked)
            self._t_wait = now
        if self._cursor < acked and self._cursor >= self._replay_end:
            self._cursor = acked  # the hub acked rows a previous run sent
        if self._cursor > acked and now - self._t_wait > self._cfg.ack_timeout_s:
            log.warning(
                "no hub ack for %.0f s (acked %d, sent %d): re-sending",
                self._cfg.ack_timeout_s, acked, self._cursor,
            )
            self.stats["resent_rounds"] += 1
            self._cursor = acked
            self._t_wait = now
        free = self._cfg.max_inflight - max(0, self._cursor - acked)
        if free <= 0:
            return
        limit = min(free, BATCH)
        if self._cursor < min(acked, self._replay_end):  # replay of rows the hub acked once
            upto = min(acked, self._replay_end)
            rows = self._journal.events(after_seq=self._cursor, limit=min(limit, upto - self._cursor))
        else:
            rows = self._journal.unacked(after_seq=self._cursor, limit=limit)
        if not rows:
            return
        if self._cursor <= acked:
            self._t_wait = now
        for ev in rows:
            if not self._connected or self._stop.is_set():
                break
            self._send(ev)
            self._cursor = ev.seq
        with self._cv:
            self._dirty = True  # there may be more

    def _send(self, ev: Event) -> None:
        p, dev = self._p, self._device
        data = ev.to_json()
        self._client.publish(topics.events(p, dev), data, qos=1)
        if ev.type == "checkpoint":
            self._client.publish(topics.checkpoints(p, dev), data, qos=1)
        elif ev.type == "alert":
            self._client.publish(topics.alerts(p, dev), alert_payload(ev, self._timezone), qos=1)
        self.stats["sent"] += 1
        if ev.seq > self._counted_seq:
            self._counted_seq = ev.seq
            if self._count_capture(ev):
                self._publish_retained({topics.unconsented_today(p, dev, ev.feed or "")})

    def _flush_ack(self, acked: int | None = None, *, force: bool = True) -> None:
        """Clear outbox rows up to the hub's ack (batched: one journal write per 0.2 s)."""
        acked = self._hub_acked if acked is None else acked
        if acked <= self._journal_acked:
            return
        now = time.monotonic()
        if not force and now - self._t_flush < ACK_FLUSH_S and acked - self._journal_acked < 1000:
            return
        self._t_flush = now
        if acked > self._journal_acked:
            n = self._journal.ack(acked)
            self._journal_acked = acked
            log.debug("hub acked seq %d (%d outbox rows cleared)", acked, n)

    # ---- retained state, discovery -------------------------------------------------------
    def _publish_announce(self) -> None:
        p, dev = self._p, self._device
        if self._cfg.homeassistant:
            for topic, payload in discovery_messages(
                self._cfg.discovery_prefix, p, dev, self._feeds, self._notices
            ):
                self._client.publish(topic, payload, qos=1, retain=True)
        key = self._journal.public_key.hex().encode()
        self._client.publish(topics.key(p, dev), key, qos=1, retain=True)
        self._client.publish(topics.status(p, dev), topics.ONLINE, qos=1, retain=True)
        everything = {topics.faces(p, dev, f) for f in self._faces}
        everything |= {topics.notice(p, dev, n) for n in self._notice_state}
        everything |= {topics.unconsented_today(p, dev, f) for f in self._feeds}
        self._publish_retained(everything)

    def _publish_retained(self, which: set[str]) -> None:
        p, dev = self._p, self._device
        with self._cv:
            faces = dict(self._faces)
            notices = dict(self._notice_state)
        self._roll_day()
        for feed, n in faces.items():
            t = topics.faces(p, dev, feed)
            if t in which:
                self._client.publish(t, str(n).encode(), qos=1, retain=True)
        for nid, state in notices.items():
            t = topics.notice(p, dev, nid)
            if t in which:
                self._client.publish(t, state.encode(), qos=1, retain=True)
        for feed in self._feeds:
            t = topics.unconsented_today(p, dev, feed)
            if t in which:
                n = self._unconsented.get(feed, 0)
                self._client.publish(t, str(n).encode(), qos=1, retain=True)

    def _roll_day(self) -> bool:
        """Start a new UTC day's unconsented counts; True when the day changed."""
        today = _utc_day(int(self._clock() * 1000))
        if today == self._unconsented_day:
            return False
        self._unconsented_day = today
        self._unconsented = {}
        return True

    def _count_capture(self, ev: Event) -> bool:
        if ev.type != "capture.end" or ev.body.get("verdict") != "unconsented":
            return False
        self._roll_day()
        if _utc_day(ev.ts) != self._unconsented_day:
            return False
        feed = ev.feed or ""
        self._unconsented[feed] = self._unconsented.get(feed, 0) + 1
        return True

    def _count_today(self, head_seq: int) -> None:
        """Today's unconsented captures from the recent journal (for the HA sensor)."""
        self._roll_day()
        after = max(0, head_seq - 5000)
        while True:
            rows = self._journal.events(after_seq=after, limit=1000)
            if not rows:
                break
            for ev in rows:
                self._count_capture(ev)
            after = rows[-1].seq
        self._counted_seq = head_seq
