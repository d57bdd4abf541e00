"""A client's session: subscriptions, QoS 1 messages in flight, messages waiting to go out.

A session outlives its connection when the client asked for clean_session=0: messages for
it are then queued (QoS 1 only, at most `max_queued`, oldest dropped with a warning) and
go out, after the unacknowledged ones re-sent with DUP, when the client comes back.

Nothing is dropped for a connected but slow subscriber: while its connection cannot take
more (the transport's buffer above its high-water mark, `OUT_MAX` bytes waiting for this
loop pass, or `MAX_INFLIGHT` QoS 1 messages unacknowledged) messages wait in the queue,
which is unbounded while the client is connected and logged as it grows.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Protocol

from camaudit.hub.mqttd.codec import encode_publish

log = logging.getLogger(__name__)

MAX_INFLIGHT = 4096  # QoS 1 messages sent to one client and not yet PUBACKed (< 65535 ids)
MAX_QUEUED = 100_000  # messages kept for a disconnected persistent session
OUT_MAX = 1 << 20  # bytes written to one connection in one loop pass before queueing
QUEUE_WARN = 10_000

Msg = tuple[bytes, bytes, int, bool]  # topic field, payload, qos, retain


class Link(Protocol):
    """What a session needs of its connection."""

    out: bytearray
    paused: bool

    def write(self, data: bytes) -> None: ...


class Session:
    __slots__ = ("client_id", "clean", "subs", "inflight", "queue", "conn", "qos2_in",
                 "max_queued", "_pid", "_warn_at", "_dropped")

    def __init__(self, client_id: str, clean: bool, max_queued: int = MAX_QUEUED) -> None:
        self.client_id = client_id
        self.clean = clean
        self.subs: dict[str, int] = {}  # filter -> granted qos
        self.inflight: dict[int, Msg] = {}  # packet id -> message, in send order
        self.queue: deque[Msg] = deque()
        self.conn: Link | None = None
        self.qos2_in: set[int] = set()  # QoS 2 packet ids received, PUBREL not yet
        self.max_queued = max_queued
        self._pid = 0
        self._warn_at = QUEUE_WARN
        self._dropped = 0

    def __repr__(self) -> str:
        return f"Session({self.client_id!r})"

    def deliver(self, topic: bytes, payload: bytes, qos: int, retain: bool) -> None:
        """Send (or queue) one message at `qos` (0 or 1) to this session's client."""
        conn = self.conn
        if conn is None:
            if qos:
                self._queue_offline((topic, payload, qos, retain))
            return
        if self.queue or conn.paused or len(conn.out) >= OUT_MAX or (
                qos and len(self.inflight) >= MAX_INFLIGHT):
            self.queue.append((topic, payload, qos, retain))
            if len(self.queue) >= self._warn_at:
                log.warning("client %s is slow: %d messages queued for it", self.client_id,
                            len(self.queue))
                self._warn_at *= 10
            return
        if qos:
            pid = self._next_pid()
            self.inflight[pid] = (topic, payload, qos, retain)
            conn.write(encode_publish(topic, payload, qos, retain, pid))
        else:
            conn.write(encode_publish(topic, payload, 0, retain))

    def acked(self, pid: int) -> None:
        """PUBACK from the client."""
        if self.inflight.pop(pid, None) is not None and self.queue:
            self.drain()

    def drain(self) -> None:
        """Move queued messages out while the connection takes them."""
        conn, q, inflight = self.conn, self.queue, self.inflight
        if conn is None:
            return
        while q and not conn.paused and len(conn.out) < OUT_MAX:
            topic, payload, qos, retain = q[0]
            if qos:
                if len(inflight) >= MAX_INFLIGHT:
                    break
                pid = self._next_pid()
                inflight[pid] = q.popleft()
                conn.write(encode_publish(topic, payload, qos, retain, pid))
            else:
                q.popleft()
                conn.write(encode_publish(topic, payload, 0, retain))
        if len(q) < QUEUE_WARN:
            self._warn_at = QUEUE_WARN

    def attach(self, conn: Link) -> None:
        """A connection takes this session over: re-send what is unacknowledged, then the queue."""
        self.conn = conn
        if self._dropped:
            log.warning("client %s back: %d queued messages were dropped while it was away",
                        self.client_id, self._dropped)
            self._dropped = 0
        for pid, (topic, payload, qos, retain) in self.inflight.items():
            conn.write(encode_publish(topic, payload, qos, retain, pid, dup=True))
        self.drain()

    def detach(self) -> None:
        self.conn = None
        q = self.queue
        if any(m[2] == 0 for m in q):
            self.queue = q = deque(m for m in q if m[2])
        while len(q) > self.max_queued:
            q.popleft()
            self._count_drop()

    def _queue_offline(self, msg: Msg) -> None:
        q = self.queue
        q.append(msg)
        if len(q) > self.max_queued:
            q.popleft()
            self._count_drop()

    def _count_drop(self) -> None:
        self._dropped += 1
        if self._dropped == 1:
            log.warning("client %s away with %d messages queued: dropping the oldest",
                        self.client_id, self.max_queued)

    def _next_pid(self) -> int:
        pid, inflight = self._pid, self.inflight
        while True:
            pid = pid + 1 if pid < 65535 else 1
            if pid not in inflight:
                self._pid = pid
                return pid
