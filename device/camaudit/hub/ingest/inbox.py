"""From the socket to the collector's queue, and the collector's messages back out.

paho's network thread (in a child process by default, receiver.py; or in this process)
only queues raw messages; the collector's worker thread takes them in batches (`batch`).
A full queue drops the message (counted, then reported as the `overload` reject): the
device re-sends it, since nothing is acked that was not stored."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from camaudit.hub.ingest.batch import Message
from camaudit.mqtt.client import connect_in_background, make_client

if TYPE_CHECKING:
    from camaudit.config.mqtt import MqttConfig

log = logging.getLogger(__name__)

QUEUE_MAX = 200_000
MAX_BATCH = 2000
FILL_BATCH = 200  # below this many messages, wait up to FILL_S for more before writing
FILL_S = 0.01


class Inbox:
    """The collector's MQTT connection: subscribe, queue what arrives, publish acks/replays."""

    def __init__(self, cfg: MqttConfig, client_id: str, *, v5: bool) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.v5 = v5
        self.q: queue.Queue[Message] = queue.Queue(maxsize=QUEUE_MAX)
        self.dropped = 0
        self.connected = threading.Event()
        self.resync = threading.Event()  # (re)subscribed: ask devices to re-send
        self._stop = threading.Event()
        self._subs: list[tuple[str, int]] = []
        self._client: Any = None
        self._proc: Any = None
        self._conn: Any = None
        self._conn_lock = threading.Lock()
        self._rx_thread: threading.Thread | None = None

    # ---- start / stop ---------------------------------------------------------------
    def start(self, subscriptions: list[tuple[str, int]], *, receiver_process: bool) -> None:
        self._subs = subscriptions
        if receiver_process:
            self._start_receiver()
            return
        client = make_client(self.cfg, self.client_id, clean_session=False, v5=self.v5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._client = client
        connect_in_background(client, self.cfg)

    def _start_receiver(self) -> None:
        import multiprocessing

        from camaudit.hub.ingest.receiver import receiver_main

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=receiver_main, name="hub-receiver", daemon=True,
            args=(self.cfg.model_dump(), self.client_id, self._subs, child, self.v5),
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._rx_thread = threading.Thread(target=self._rx_loop, name="hub-rx", daemon=True)
        self._rx_thread.start()

    def stop(self, timeout: float) -> None:
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

    # ---- in -------------------------------------------------------------------------
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
                    self._put(m)
            elif msg[0] == "up":
                self.connected.set()
                self.resync.set()
                log.info("hub connected to %s", self.cfg.url)
            elif msg[0] == "down":
                if self.connected.is_set() and not self._stop.is_set():
                    log.warning("hub lost its broker connection; retrying")
                self.connected.clear()

    def _put(self, m: Message) -> None:
        try:
            self.q.put_nowait(m)
        except queue.Full:
            self.dropped += 1  # the device re-sends: nothing is acked that was not stored

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("hub MQTT connect to %s refused: %s", self.cfg.url, rc)
            return
        client.subscribe(self._subs)
        log.info("hub connected to %s", self.cfg.url)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, rcs: Any, props: Any) -> None:
        self.connected.set()
        self.resync.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("hub lost its broker connection (%s); retrying", rc)
        self.connected.clear()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._put((msg.topic, msg.payload, int(time.time() * 1000), msg.retain))

    def take_dropped(self) -> int:
        n, self.dropped = self.dropped, 0
        return n

    def batch(self, first: Message) -> list[Message]:
        """Take what is queued, up to MAX_BATCH; while the batch is small, wait up to FILL_S
        for more: messages that trickle in (a broker may deliver them one by one) are then checked
        and written in one transaction and acked once, not a few at a time."""
        msgs = [first]
        deadline = time.monotonic() + FILL_S
        while len(msgs) < MAX_BATCH:
            try:
                msgs.append(self.q.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if len(msgs) >= FILL_BATCH or left <= 0:
                break
            try:
                msgs.append(self.q.get(timeout=left))
            except queue.Empty:
                break
        return msgs

    # ---- out ------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self._conn is not None:
            # receiver gone: nothing to do, devices re-send and the hub acks later
            with self._conn_lock, contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(("pub", topic, payload, qos, retain))
        elif self._client is not None:
            self._client.publish(topic, payload, qos=qos, retain=retain)
