"""One client connection (asyncio.Protocol): parsing, CONNECT and authentication, the
packets a client sends, output buffering, closing (and the will).

One `data_received` parses every complete packet in the bytes it got (no copy per packet);
a packet still incomplete waits in `buf` until `need` bytes are there.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from typing import TYPE_CHECKING

from camaudit.hub.mqttd import codec
from camaudit.hub.mqttd.codec import MalformedPacket, Will, decode_pid, decode_publish, parse_header
from camaudit.hub.mqttd.session import Session
from camaudit.hub.mqttd.topics import valid_filter, valid_topic

if TYPE_CHECKING:
    from camaudit.hub.mqttd.server import Broker

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
HIGH_WATER = 1 << 20  # transport buffer above which a subscriber's messages wait in its queue
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux
ACK_AFTER_S = 0.001  # force the kernel's ACK when nothing was sent back this long
ACK_BUSY_BYTES = 65536  # ... unless this much went to the client in the last 0.1-0.2 s

NEW, AUTH, OPEN, CLOSED = range(4)


class Connection(asyncio.Protocol):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.loop = broker.loop
        self.transport: asyncio.Transport | None = None
        self.state = NEW
        self.buf = bytearray()
        self.need = 0  # bytes `buf` must hold before the next packet can be parsed
        self.out = bytearray()
        self.paused = False
        self.session: Session | None = None
        self.will: Will | None = None
        self.client_id = ""
        self.peer = "?"
        self.keepalive = 0
        self.timeout = CONNECT_TIMEOUT_S
        self.last_rx = 0.0
        self._connect: codec.Connect | None = None
        self.admin = False  # may publish to the broker's protected topics
        self.denied = 0  # publishes dropped by the protected-topic rule
        self._sock: socket.socket | None = None  # for TCP_QUICKACK
        self._ack_timer = False
        self._tx_at = self._tx_window_at = 0.0
        self._tx_window = self._tx_before = 0  # bytes sent in this 0.1 s window, the one before

    # ---- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) and self.loop is not None
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if QUICKACK is not None and sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            self._sock = sock
        self.last_rx = self.loop.time()
        self.broker.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(f"connection lost ({exc})" if exc else "connection closed", will=True)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        sess = self.session
        if sess is not None and sess.conn is self and sess.queue:
            sess.drain()

    def data_received(self, data: bytes) -> None:
        assert self.loop is not None
        self.last_rx = self.loop.time()
        if self.state == AUTH:  # hold what comes until the password is checked
            self.buf += data
            return
        if self.state == CLOSED:
            return
        buf = self.buf
        if buf:
            buf += data
            if len(buf) < self.need:
                return
            data = bytes(buf)
            buf.clear()
        self._feed(data)
        if not self.out and self._sock is not None and not self._ack_timer and (
                self._tx_window + self._tx_before < ACK_BUSY_BYTES):  # see _ack_if_silent
            self._ack_timer = True
            self.loop.call_later(ACK_AFTER_S, self._ack_if_silent)

    def _ack_if_silent(self) -> None:
        """Nothing was sent back since bytes came in (e.g. a PUBACK): have the kernel ACK
        them now rather than ~40 ms later. Clients like paho leave Nagle on, so a delayed
        ACK holds their next small packet back: 10-40 ms on every message of a 100 msg/s
        stream. Not for a client the broker streams to (ACK_BUSY_BYTES in the last 0.1-0.2 s,
        e.g. the hub under load): the ACK rides on that data soon enough, and forcing it
        would end Nagle's merging of the client's PUBACKs: ~3x the reads, +60% broker CPU."""
        self._ack_timer = False
        if self._tx_at >= self.last_rx or self._sock is None or self.state == CLOSED:
            return
        assert QUICKACK is not None
        try:
            self._sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except OSError:
            self._sock = None

    # ---- parsing -------------------------------------------------------------------------
    def _feed(self, data: bytes) -> None:
        self.need = 0
        try:
            self._parse(data)
        except MalformedPacket as exc:
            self.close(f"protocol error: {exc}", will=True, level=logging.WARNING)

    def _parse(self, data: bytes) -> None:
        pos, end = 0, len(data)
        max_packet = self.broker.max_packet
        while pos < end:
            h = parse_header(data, pos, end)
            if h is None:
                break
            b0, s, e = h
            if e - s > max_packet:
                self.close(f"packet of {e - s} bytes over the {max_packet}-byte limit",
                           will=True, level=logging.WARNING)
                return
            if e > end:
                self.need = e - pos
                break
            pos = e
            t = b0 >> 4
            if t == codec.PUBLISH and self.state == OPEN:
                self._publish(b0, data, s, e)
                continue
            if t == codec.PUBACK and self.state == OPEN and not b0 & 0x0F:
                assert self.session is not None
                self.session.acked(decode_pid(data, s, e))
                continue
            self._control(t, b0, data, s, e)
            if self.state != OPEN:
                if self.state == AUTH:
                    self.buf += data[pos:]
                return
        if pos < end:
            self.buf += data[pos:]

    def _publish(self, b0: int, data: bytes, s: int, e: int) -> None:
        topic, qos, pid, payload = decode_publish(b0, data, s, e)
        if self.broker.protected and not self.admin and self.broker.is_protected(codec.topic_name(topic)):
            # As mosquitto's ACLs: acknowledged (so the client does not re-send it forever)
            # but not delivered; MQTT 3.1.1 has no way to refuse one publish.
            self.denied += 1
            if self.denied == 1:
                log.warning("client %s (user %s) may not publish to %s: dropped", self.client_id,
                            self._connect.username if self._connect else None, codec.topic_name(topic))
            if qos == 1:
                self.write(bytes((0x40, 2, pid >> 8, pid & 0xFF)))
            elif qos == 2:
                self.write(codec.encode_ack(codec.PUBREC, pid))
            return
        if qos == 2:
            assert self.session is not None
            if pid not in self.session.qos2_in:  # else a re-send: already routed
                self.broker.route(topic, payload, qos, bool(b0 & 1))
                self.session.qos2_in.add(pid)
            self.write(codec.encode_ack(codec.PUBREC, pid))
            return
        self.broker.route(topic, payload, qos, bool(b0 & 1))  # (a bad topic raises: no ack)
        if qos:
            self.write(bytes((0x40, 2, pid >> 8, pid & 0xFF)))

    def _control(self, t: int, b0: int, data: bytes, s: int, e: int) -> None:
        if self.state == NEW and t != codec.CONNECT:
            raise MalformedPacket(f"packet type {t} before CONNECT")
        if codec.REQUIRED_FLAGS.get(t, -1) != b0 & 0x0F:
            raise MalformedPacket(f"packet type {t} with flags {b0 & 0x0F:#x}")
        if self.state == NEW:
            self._on_connect(codec.decode_connect(data, s, e))
            return
        sess = self.session
        assert sess is not None
        if t == codec.PUBREL:
            pid = decode_pid(data, s, e)
            sess.qos2_in.discard(pid)
            self.write(codec.encode_ack(codec.PUBCOMP, pid))
        elif t == codec.PUBREC:  # the broker sends QoS <= 1; answer anyway so the client moves on
            self.write(codec.encode_ack(codec.PUBREL, decode_pid(data, s, e)))
        elif t == codec.PUBCOMP:
            decode_pid(data, s, e)
        elif t == codec.SUBSCRIBE:
            pid, subs = codec.decode_subscribe(data, s, e)
            granted = [min(q, 1) if valid_filter(f) else codec.SUBACK_FAILURE for f, q in subs]
            self.write(codec.encode_suback(pid, granted))
            for (f, _), g in zip(subs, granted, strict=True):
                if g != codec.SUBACK_FAILURE:
                    self.broker.subscribe(sess, f, g)
        elif t == codec.UNSUBSCRIBE:
            pid, filters = codec.decode_unsubscribe(data, s, e)
            for f in filters:
                self.broker.unsubscribe(sess, f)
            self.write(codec.encode_ack(codec.UNSUBACK, pid))
        elif t == codec.PINGREQ:
            self.write(codec.PINGRESP_PACKET)
        elif t == codec.DISCONNECT:
            self.will = None
            self.close("disconnected", will=False)
        else:
            raise MalformedPacket(f"unexpected packet type {t} from a client")

    # ---- CONNECT ---------------------------------------------------------------------------
    def _on_connect(self, c: codec.Connect) -> None:
        if c.level != (4 if c.protocol == "MQTT" else 3):
            self._refuse(codec.BAD_PROTOCOL, f"protocol {c.protocol} level {c.level}")
            return
        if c.will is not None and not valid_topic(c.will.topic):
            raise MalformedPacket(f"bad will topic {c.will.topic!r}")
        cid = c.client_id
        if not cid:
            if not c.clean_session:
                self._refuse(codec.BAD_CLIENT_ID, "empty client id with clean_session=0")
                return
            cid = "auto-" + secrets.token_hex(8)
        self.client_id, self._connect = cid, c
        auth = self.broker.auth
        if auth is None:
            self._accept(c)
        elif c.username is None:
            self._refuse(codec.NOT_AUTHORIZED, "no user name")
        elif c.password is None:
            self._refuse(codec.BAD_CREDENTIALS, f"user {c.username!r} without password")
        else:
            known = auth.cached(c.username, c.password)
            if known is True:
                self._accept(c)
            elif known is False:
                self._refuse(codec.BAD_CREDENTIALS, f"unknown user {c.username!r}")
            else:
                self.state = AUTH
                assert self.loop is not None
                fut = self.loop.run_in_executor(None, auth.verify, c.username, c.password)
                fut.add_done_callback(self._auth_done)

    def _auth_done(self, fut: asyncio.Future[bool]) -> None:
        if self.state != AUTH:
            return  # closed meanwhile
        c = self._connect
        assert c is not None
        if fut.cancelled() or fut.exception() is not None or not fut.result():
            self._refuse(codec.BAD_CREDENTIALS, f"wrong password for user {c.username!r}")
            return
        self._accept(c)
        data = bytes(self.buf)
        self.buf.clear()
        if data:
            self._feed(data)

    def _refuse(self, rc: int, why: str) -> None:
        self.write(codec.encode_connack(False, rc))
        self.close(f"refused: {why}", will=False, level=logging.WARNING)

    def _accept(self, c: codec.Connect) -> None:
        broker, cid = self.broker, self.client_id
        if (c.will is not None and broker.protected and c.username not in broker.admins
                and broker.is_protected(c.will.topic)):
            self._refuse(codec.NOT_AUTHORIZED, f"user {c.username!r} may not leave a will on {c.will.topic}")
            return
        old = broker.sessions.get(cid)
        if old is not None and isinstance(old.conn, Connection):
            old.conn.close(f"taken over by {self.peer}", will=True)
            old = broker.sessions.get(cid)
        if old is not None and (c.clean_session or old.clean):
            broker.drop_session(old)
            old = None
        sess = old
        if sess is None:
            sess = Session(cid, c.clean_session)
            if broker.max_queued is not None:
                sess.max_queued = broker.max_queued
            broker.sessions[cid] = sess
        self.session, self.will, self.state = sess, c.will, OPEN
        self.admin = c.username in broker.admins
        self.keepalive = c.keepalive
        self.timeout = 1.5 * c.keepalive
        self.write(codec.encode_connack(old is not None, codec.ACCEPTED))
        log.info("client %s connected from %s (%s%s, keepalive %d s)", cid, self.peer,
                 f"user {c.username}, " if c.username else "",
                 "session resumed" if old is not None else "new session", c.keepalive)
        sess.attach(self)

    # ---- output, closing -----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.out:
            self.broker.mark_dirty(self)
        self.out += data

    def flush(self) -> None:
        out = self.out
        if not out or self.state == CLOSED:
            return
        self.out = bytearray()
        assert self.transport is not None and self.loop is not None
        self.transport.write(out)
        now = self._tx_at = self.loop.time()
        if now - self._tx_window_at > 0.1:
            self._tx_before = self._tx_window if now - self._tx_window_at < 0.2 else 0
            self._tx_window, self._tx_window_at = 0, now
        self._tx_window += len(out)
        sess = self.session
        if sess is not None and sess.queue and not self.paused and sess.conn is self:
            sess.drain()

    def close(self, why: str, *, will: bool, level: int = logging.INFO) -> None:
        """End this connection (idempotent); publish the will if `will` and one is set."""
        if self.state == CLOSED:
            return
        opened = self.state == OPEN
        self.state = CLOSED
        self.broker.conns.discard(self)
        sess, w = self.session, self.will
        self.will = None
        if sess is not None and sess.conn is self:
            sess.detach()
            if sess.clean:
                self.broker.drop_session(sess)
        if opened or level > logging.INFO:
            log.log(level, "client %s (%s) %s%s", self.client_id or "-", self.peer, why,
                    "; publishing its will" if will and w is not None else "")
        if will and w is not None:
            self.broker.publish_will(w)
        assert self.transport is not None
        if self.out and not self.transport.is_closing():
            self.transport.write(self.out)
        self.out = bytearray()
        self.transport.close()
