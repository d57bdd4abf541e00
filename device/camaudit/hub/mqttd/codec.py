"""MQTT 3.1.1 packets: encoding and decoding, pure (no I/O, no state).

Decoders take the received bytes and the packet's body bounds (from `parse_header`) so a
buffer holding many packets is parsed without copying each one out first. They raise
`MalformedPacket` on anything the specification calls a protocol violation; the server
closes that connection.

A PUBLISH topic travels here as it is on the wire, "topic field" = 2-byte length + UTF-8
bytes: the broker forwards it unchanged, so it is never re-encoded per subscriber.
"""

from __future__ import annotations

from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

MAX_REMAINING = 268_435_455  # 4-byte remaining-length varint
PINGREQ_PACKET = b"\xc0\x00"
PINGRESP_PACKET = b"\xd0\x00"
DISCONNECT_PACKET = b"\xe0\x00"

# CONNACK return codes
ACCEPTED, BAD_PROTOCOL, BAD_CLIENT_ID, UNAVAILABLE, BAD_CREDENTIALS, NOT_AUTHORIZED = range(6)
SUBACK_FAILURE = 0x80

# flags the fixed header must carry, per packet type (PUBLISH's are its own)
REQUIRED_FLAGS = {CONNECT: 0, CONNACK: 0, PUBACK: 0, PUBREC: 0, PUBREL: 2, PUBCOMP: 0,
                  SUBSCRIBE: 2, SUBACK: 0, UNSUBSCRIBE: 2, UNSUBACK: 0, PINGREQ: 0,
                  PINGRESP: 0, DISCONNECT: 0}


class MalformedPacket(ValueError):
    """The bytes break MQTT 3.1.1: the connection must be closed."""


class Will(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Connect(NamedTuple):
    protocol: str  # "MQTT" (level 4) or "MQIsdp" (level 3)
    level: int
    client_id: str
    clean_session: bool
    keepalive: int
    will: Will | None
    username: str | None
    password: bytes | None


# ---- remaining length -------------------------------------------------------------------
_SMALL_LENGTHS = tuple(bytes((n,)) for n in range(128))


def encode_length(n: int) -> bytes:
    """The remaining-length varint (1-4 bytes) of `n`."""
    if n < 128:
        if n < 0:
            raise ValueError(f"negative length {n}")
        return _SMALL_LENGTHS[n]
    if n < 16384:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n > MAX_REMAINING:
        raise ValueError(f"length {n} over the MQTT maximum {MAX_REMAINING}")
    out = bytearray()
    while n:
        d, n = n & 0x7F, n >> 7
        out.append(d | 0x80 if n else d)
    return bytes(out)


def decode_length(data: bytes, pos: int, end: int | None = None) -> tuple[int, int] | None:
    """(value, position after the varint) of the varint at `data[pos:]`, None if incomplete."""
    if end is None:
        end = len(data)
    n = shift = 0
    while True:
        if pos >= end:
            return None
        d = data[pos]
        pos += 1
        n |= (d & 0x7F) << shift
        if d < 0x80:
            return n, pos
        shift += 7
        if shift > 21:
            raise MalformedPacket("remaining length longer than 4 bytes")


def parse_header(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(first byte, body start, body end) of the packet at `data[pos:end]`, or None while
    the fixed header itself is incomplete. The body may still be incomplete (body end > end)."""
    if end - pos < 2:
        return None
    b0 = data[pos]
    if data[pos + 1] < 0x80:  # fast path: remaining length < 128
        return b0, pos + 2, pos + 2 + data[pos + 1]
    got = decode_length(data, pos + 1, end)
    if got is None:
        return None
    n, start = got
    return b0, start, start + n


# ---- fields -----------------------------------------------------------------------------
def _field(data: bytes, i: int, end: int) -> tuple[bytes, int]:
    if i + 2 > end:
        raise MalformedPacket("truncated length-prefixed field")
    n = (data[i] << 8) | data[i + 1]
    j = i + 2 + n
    if j > end:
        raise MalformedPacket("truncated length-prefixed field")
    return data[i + 2:j], j


def _text(data: bytes, i: int, end: int) -> tuple[str, int]:
    raw, j = _field(data, i, end)
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("string is not UTF-8") from None
    if "\x00" in s:
        raise MalformedPacket("string holds U+0000")
    return s, j


def _wire_text(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 0xFFFF:
        raise ValueError("string over 65535 bytes")
    return len(b).to_bytes(2, "big") + b


def topic_field(topic: str) -> bytes:
    """The on-the-wire topic field (2-byte length + UTF-8) of `topic`."""
    return _wire_text(topic)


def _packet(b0: int, *parts: bytes) -> bytes:
    n = sum(len(p) for p in parts)
    return b"".join((bytes((b0,)), encode_length(n), *parts))


# ---- CONNECT / CONNACK ------------------------------------------------------------------
def decode_connect(data: bytes, s: int, e: int) -> Connect:
    protocol, i = _text(data, s, e)
    if i + 4 > e:
        raise MalformedPacket("truncated CONNECT")
    level, flags, keepalive = data[i], data[i + 1], (data[i + 2] << 8) | data[i + 3]
    if protocol not in ("MQTT", "MQIsdp"):
        raise MalformedPacket(f"unknown protocol name {protocol!r}")
    if level not in (3, 4):  # e.g. MQTT 5: the rest is laid out differently; refused with rc 1
        return Connect(protocol, level, "", True, keepalive, None, None, None)
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag set")
    will_flag, will_qos, will_retain = bool(flags & 0x04), (flags >> 3) & 3, bool(flags & 0x20)
    if will_qos == 3 or (not will_flag and (will_qos or will_retain)):
        raise MalformedPacket("bad will flags")
    has_user, has_pass = bool(flags & 0x80), bool(flags & 0x40)
    if has_pass and not has_user and level >= 4:
        raise MalformedPacket("password flag without user name flag")
    client_id, i = _text(data, i + 4, e)
    will = None
    if will_flag:
        topic, i = _text(data, i, e)
        payload, i = _field(data, i, e)
        will = Will(topic, payload, will_qos, will_retain)
    username = password = None
    if has_user:
        username, i = _text(data, i, e)
    if has_pass:
        password, i = _field(data, i, e)
    return Connect(protocol, level, client_id, bool(flags & 0x02), keepalive, will, username, password)


def encode_connect(c: Connect) -> bytes:
    flags = (0x02 if c.clean_session else 0) | (0x80 if c.username is not None else 0)
    flags |= 0x40 if c.password is not None else 0
    parts = [_wire_text(c.protocol), bytes((c.level,)), b"", c.keepalive.to_bytes(2, "big"),
             _wire_text(c.client_id)]
    if c.will is not None:
        flags |= 0x04 | (c.will.qos << 3) | (0x20 if c.will.retain else 0)
        parts += [_wire_text(c.will.topic), len(c.will.payload).to_bytes(2, "big"), c.will.payload]
    if c.username is not None:
        parts.append(_wire_text(c.username))
    if c.password is not None:
        parts += [len(c.password).to_bytes(2, "big"), c.password]
    parts[2] = bytes((flags,))
    return _packet(0x10, *parts)


def encode_connack(session_present: bool, rc: int) -> bytes:
    return bytes((0x20, 2, 1 if session_present else 0, rc))


def decode_connack(data: bytes, s: int, e: int) -> tuple[bool, int]:
    if e - s != 2:
        raise MalformedPacket("CONNACK body is not 2 bytes")
    return bool(data[s] & 1), data[s + 1]


# ---- PUBLISH and its acknowledgements ---------------------------------------------------
def decode_publish(b0: int, data: bytes, s: int, e: int) -> tuple[bytes, int, int, bytes]:
    """(topic field, qos, packet id (0 for QoS 0), payload) of a PUBLISH body."""
    qos = (b0 >> 1) & 3
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3")
    if e - s < 2:
        raise MalformedPacket("truncated PUBLISH")
    t = s + 2 + ((data[s] << 8) | data[s + 1])
    if qos:
        if t + 2 > e:
            raise MalformedPacket("truncated PUBLISH")
        pid = (data[t] << 8) | data[t + 1]
        if not pid:
            raise MalformedPacket("PUBLISH with packet id 0")
        return data[s:t], qos, pid, data[t + 2:e]
    if t > e:
        raise MalformedPacket("truncated PUBLISH")
    return data[s:t], 0, 0, data[t:e]


def encode_publish(topic: bytes, payload: bytes, qos: int = 0, retain: bool = False,
                   pid: int = 0, dup: bool = False) -> bytes:
    """A PUBLISH packet; `topic` is the topic field (see `topic_field`)."""
    b0 = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    if qos:
        n = len(topic) + 2 + len(payload)
        return b"".join((bytes((b0,)), encode_length(n), topic, pid.to_bytes(2, "big"), payload))
    return b"".join((bytes((b0,)), encode_length(len(topic) + len(payload)), topic, payload))


def topic_name(topic: bytes) -> str:
    """The topic of a topic field (MalformedPacket unless valid UTF-8 without U+0000)."""
    return _text(topic, 0, len(topic))[0]


def encode_ack(ptype: int, pid: int) -> bytes:
    """PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK for packet id `pid`."""
    return bytes(((ptype << 4) | REQUIRED_FLAGS[ptype], 2, pid >> 8, pid & 0xFF))


def decode_pid(data: bytes, s: int, e: int) -> int:
    if e - s != 2:
        raise MalformedPacket("acknowledgement body is not 2 bytes")
    return (data[s] << 8) | data[s + 1]


# ---- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------
def _leading_pid(data: bytes, s: int, e: int, what: str) -> int:
    pid = decode_pid(data, s, s + 2) if e - s >= 2 else 0
    if not pid:
        raise MalformedPacket(f"{what} without packet id")
    return pid


def decode_subscribe(data: bytes, s: int, e: int) -> tuple[int, list[tuple[str, int]]]:
    pid = _leading_pid(data, s, e, "SUBSCRIBE")
    i, subs = s + 2, []
    while i < e:
        f, i = _text(data, i, e)
        if i >= e:
            raise MalformedPacket("SUBSCRIBE filter without QoS")
        qos = data[i]
        if qos > 2:
            raise MalformedPacket("SUBSCRIBE QoS byte over 2")
        subs.append((f, qos))
        i += 1
    if not subs:
        raise MalformedPacket("SUBSCRIBE without filters")
    return pid, subs


def encode_subscribe(pid: int, subs: list[tuple[str, int]]) -> bytes:
    return _packet(0x82, pid.to_bytes(2, "big"), *(_wire_text(f) + bytes((q,)) for f, q in subs))


def encode_suback(pid: int, rcs: list[int]) -> bytes:
    return _packet(0x90, pid.to_bytes(2, "big"), bytes(rcs))


def decode_suback(data: bytes, s: int, e: int) -> tuple[int, list[int]]:
    if e - s < 3:
        raise MalformedPacket("truncated SUBACK")
    return decode_pid(data, s, s + 2), list(data[s + 2:e])


def decode_unsubscribe(data: bytes, s: int, e: int) -> tuple[int, list[str]]:
    pid = _leading_pid(data, s, e, "UNSUBSCRIBE")
    i, filters = s + 2, []
    while i < e:
        f, i = _text(data, i, e)
        filters.append(f)
    if not filters:
        raise MalformedPacket("UNSUBSCRIBE without filters")
    return pid, filters


def encode_unsubscribe(pid: int, filters: list[str]) -> bytes:
    return _packet(0xA2, pid.to_bytes(2, "big"), *(_wire_text(f) for f in filters))
