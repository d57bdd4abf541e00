"""The event record (schema version 1): canonical JSON, hash chain, signatures.

Pure: values in, values out. Signing and verification take callables / raw key bytes so
that the key file handling stays in an adapter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SCHEMA_VERSION = 1
GENESIS_PREV = "0" * 64

EVENT_TYPES = frozenset(
    {
        "device.online",
        "device.fault",
        "feed.up",
        "feed.down",
        "capture.start",
        "capture.update",
        "capture.end",
        "notice.missing",
        "notice.restored",
        "notice.unknown",
        "notice.registered",
        "release.start",
        "release.end",
        "alert",
        "camera.covered",
        "camera.moved",
        "camera.blurred",
        "camera.restored",
        "camera.reference",
        "checkpoint",
        "witness",
        "retention.pruned",
    }
)

_KEYS = ("v", "device", "seq", "ts", "type", "feed", "body", "prev", "hash", "sig")


class RecordError(ValueError):
    """An event record is malformed, or its hash or signature does not hold."""


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json object_pairs_hook: refuse an object that names a key twice."""
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def canonical_json(obj: Any) -> bytes:
    """Keys sorted, no spaces, UTF-8, no NaN: the one byte form that is hashed and signed."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(unsigned: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical form of a record without `hash` and `sig`."""
    return hashlib.sha256(canonical_json(dict(unsigned))).hexdigest()


@dataclass(frozen=True)
class Event:
    """One signed journal record. `body` holds JSON values only."""

    device: str
    seq: int
    ts: int
    type: str
    feed: str | None
    body: Mapping[str, Any]
    prev: str
    hash: str = ""
    sig: str = ""
    v: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def unsigned(self) -> dict[str, Any]:
        """The fields covered by `hash` (future fields ride along in `extra`)."""
        d: dict[str, Any] = dict(self.extra)
        d.update(
            v=self.v,
            device=self.device,
            seq=self.seq,
            ts=self.ts,
            type=self.type,
            feed=self.feed,
            body=dict(self.body),
            prev=self.prev,
        )
        return d

    def to_dict(self) -> dict[str, Any]:
        d = self.unsigned()
        d["hash"] = self.hash
        d["sig"] = self.sig
        return d

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Parse and type-check a record (does not verify hash or signature)."""
        if not isinstance(d, Mapping):
            raise RecordError("record is not a JSON object")
        missing = [k for k in _KEYS if k not in d]
        if missing:
            raise RecordError(f"record lacks field(s): {', '.join(missing)}")
        checks: list[tuple[str, type | tuple[type, ...]]] = [
            ("v", int),
            ("device", str),
            ("seq", int),
            ("ts", int),
            ("type", str),
            ("body", dict),
            ("prev", str),
            ("hash", str),
            ("sig", str),
        ]
        for key, typ in checks:
            val = d[key]
            if not isinstance(val, typ) or isinstance(val, bool):
                raise RecordError(f"field {key!r} has the wrong type")
        if d["feed"] is not None and not isinstance(d["feed"], str):
            raise RecordError("field 'feed' has the wrong type")
        if d["v"] != SCHEMA_VERSION:
            raise RecordError(f"unsupported schema version {d['v']}")
        if d["seq"] < 1:
            raise RecordError("field 'seq' must be >= 1")
        if not d["device"] or len(d["device"]) > 64:
            raise RecordError("field 'device' must be 1-64 characters")
        if d["type"] not in EVENT_TYPES:
            raise RecordError(f"unknown event type {d['type']!r}")
        extra = {k: v for k, v in d.items() if k not in _KEYS}
        return cls(
            device=d["device"],
            seq=d["seq"],
            ts=d["ts"],
            type=d["type"],
            feed=d["feed"],
            body=d["body"],
            prev=d["prev"],
            hash=d["hash"],
            sig=d["sig"],
            v=d["v"],
            extra=extra,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Parse one record; a key given twice is refused (readers could disagree on it)."""
        try:
            d = json.loads(raw, object_pairs_hook=no_duplicate_keys)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"not JSON: {exc}") from None
        return cls.from_dict(d)


Signer = Callable[[bytes], bytes]


def seal(
    *,
    device: str,
    seq: int,
    ts: int,
    type: str,
    feed: str | None,
    body: Mapping[str, Any],
    prev: str,
    sign: Signer,
) -> Event:
    """Build a record, hash it and sign its hash (the ASCII hex digest)."""
    if type not in EVENT_TYPES:
        raise RecordError(f"unknown event type {type!r}")
    ev = Event(device=device, seq=seq, ts=ts, type=type, feed=feed, body=body, prev=prev)
    h = digest(ev.unsigned())
    sig = sign(h.encode("ascii")).hex()
    return Event(
        device=device, seq=seq, ts=ts, type=type, feed=feed, body=body, prev=prev, hash=h, sig=sig
    )


def check_hash(ev: Event) -> None:
    if digest(ev.unsigned()) != ev.hash:
        raise RecordError(f"seq {ev.seq}: hash does not match its content")


def check_signature(ev: Event, public_key: bytes) -> None:
    """Raise RecordError unless `sig` is the Ed25519 signature of `hash` by `public_key`."""
    check_sig_of(ev.hash, ev.sig, public_key, what=f"seq {ev.seq}")


def check_sig_of(hash_hex: str, sig_hex: str, public_key: bytes, what: str) -> None:
    try:
        sig = bytes.fromhex(sig_hex)
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig, hash_hex.encode("ascii"))
    except (ValueError, InvalidSignature):
        raise RecordError(f"{what}: bad signature") from None


def check_link(prev_event: Event | None, ev: Event) -> None:
    """The chain rule: gapless seq and `prev` = hash of the record before."""
    if prev_event is None:
        if ev.seq == 1 and ev.prev != GENESIS_PREV:
            raise RecordError("seq 1: prev is not the genesis value")
        return
    if ev.device != prev_event.device:
        raise RecordError(f"seq {ev.seq}: device changes mid-chain")
    if ev.seq != prev_event.seq + 1:
        raise RecordError(f"seq {ev.seq}: gap after seq {prev_event.seq}")
    if ev.prev != prev_event.hash:
        raise RecordError(f"seq {ev.seq}: prev does not match hash of seq {prev_event.seq}")


def checkpoint_body(seq: int, hash_hex: str, sign: Signer) -> dict[str, Any]:
    """Body of a `checkpoint` event: the chain head it vouches for, signed on its own."""
    return {"seq": seq, "hash": hash_hex, "sig": sign(hash_hex.encode("ascii")).hex()}
