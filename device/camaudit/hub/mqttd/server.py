"""The broker: asyncio server, sessions, routing, retained messages, keepalive.

What the broker answers or forwards is appended to each connection's output buffer and
written once per event-loop pass for all connections (`Broker.flush`), so a burst of
publishes costs one `send` per client, not one per packet. Routing: topic field ->
[(session, qos)] from a cache rebuilt lazily after any (un)subscribe or session change.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from camaudit.hub.mqttd import codec
from camaudit.hub.mqttd.auth import PasswordFile
from camaudit.hub.mqttd.codec import MalformedPacket, Will
from camaudit.hub.mqttd.connection import OPEN, Connection
from camaudit.hub.mqttd.session import Session
from camaudit.hub.mqttd.topics import SubscriptionIndex, matches, valid_filter, valid_topic

MAX_PACKET = 16 * 1024 * 1024
TICK_S = 0.25
ROUTE_CACHE_MAX = 10_000


class Broker:
    """An MQTT 3.1.1 broker; `await start(host, port)`, `await close()`."""

    def __init__(self, *, password_file: Path | None = None, max_packet: int = MAX_PACKET,
                 max_queued: int | None = None, protected: tuple[str, ...] = (),
                 admins: frozenset[str] = frozenset()) -> None:
        self.auth = PasswordFile(password_file) if password_file is not None else None
        # Topic filters only `admins` may publish to (or leave a will on). Needs a password
        # file: an anonymous broker knows no users, so it protects nothing.
        for f in protected:
            if not valid_filter(f):
                raise ValueError(f"bad protected topic filter {f!r}")
        self.protected = protected if self.auth is not None else ()
        self.admins = admins
        self._protected_cache: dict[str, bool] = {}
        self.max_packet = max_packet
        self.max_queued = max_queued
        self.sessions: dict[str, Session] = {}
        self.index: SubscriptionIndex[Session] = SubscriptionIndex()
        self.routes: dict[bytes, list[tuple[Session, int]]] = {}
        self.retained: dict[str, tuple[bytes, bytes, int]] = {}  # topic -> (field, payload, qos)
        self.conns: set[Connection] = set()
        self.dirty: list[Connection] = []
        self._flush_scheduled = False
        self._server: asyncio.Server | None = None
        self._tick: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.loop = loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), host, port,
                                                ssl=ssl_context, backlog=1024)
        self._tick = loop.call_later(TICK_S, self._check_keepalive)

    async def close(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
        if self._server is not None:
            self._server.close()
        for c in list(self.conns):
            c.close("broker stopping", will=False)
        if self._server is not None:
            await self._server.wait_closed()

    # ---- routing -------------------------------------------------------------------------
    def route(self, topic: bytes, payload: bytes, qos: int, retain: bool) -> None:
        """Deliver a message published on topic field `topic` to every matching session."""
        targets = self.routes.get(topic)
        if targets is None:
            name = codec.topic_name(topic)
            if not valid_topic(name):
                raise MalformedPacket(f"bad topic name {name!r}")
            targets = list(self.index.match(name).items())
            if len(self.routes) >= ROUTE_CACHE_MAX:
                self.routes.clear()
            self.routes[topic] = targets
        if retain:
            name = codec.topic_name(topic)
            if payload:
                self.retained[name] = (topic, payload, min(qos, 1))
            else:
                self.retained.pop(name, None)
        for sess, granted in targets:
            sess.deliver(topic, payload, qos if qos < granted else granted, False)

    def is_protected(self, name: str) -> bool:
        """Whether topic `name` is one only admins may publish to."""
        hit = self._protected_cache.get(name)
        if hit is None:
            hit = any(matches(f, name) for f in self.protected)
            if len(self._protected_cache) >= ROUTE_CACHE_MAX:
                self._protected_cache.clear()
            self._protected_cache[name] = hit
        return hit

    def publish_will(self, will: Will) -> None:
        self.route(codec.topic_field(will.topic), will.payload, will.qos, will.retain)

    def subscribe(self, sess: Session, f: str, qos: int) -> None:
        sess.subs[f] = qos
        self.index.add(f, sess, qos)
        self.routes.clear()
        for name, (topic, payload, rqos) in list(self.retained.items()):
            if matches(f, name):
                sess.deliver(topic, payload, min(rqos, qos), True)

    def unsubscribe(self, sess: Session, f: str) -> None:
        if sess.subs.pop(f, None) is not None:
            self.index.remove(f, sess)
            self.routes.clear()

    def drop_session(self, sess: Session) -> None:
        for f in sess.subs:
            self.index.remove(f, sess)
        sess.subs.clear()
        self.routes.clear()
        if self.sessions.get(sess.client_id) is sess:
            del self.sessions[sess.client_id]

    # ---- output, timers ------------------------------------------------------------------
    def mark_dirty(self, conn: Connection) -> None:
        self.dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            assert self.loop is not None
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every connection's output of this loop pass (one `send` each)."""
        self._flush_scheduled = False
        dirty, self.dirty = self.dirty, []
        for c in dirty:
            c.flush()

    def _check_keepalive(self) -> None:
        assert self.loop is not None
        now = self.loop.time()
        for c in list(self.conns):
            if c.timeout and now - c.last_rx > c.timeout:
                if c.state == OPEN:
                    c.close(f"silent for {now - c.last_rx:.1f} s (keepalive {c.keepalive} s)",
                            will=True)
                else:
                    c.close("no CONNECT in time", will=False)
        self._tick = self.loop.call_later(TICK_S, self._check_keepalive)
