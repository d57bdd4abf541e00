"""Check one incoming MQTT message at the hub, before any chain state is involved.

Order matters: size first (a 10 MB payload is never parsed), then topic, JSON (duplicate
keys refused), the typed schema of hub/ingest/schema.py (per event type: types, ranges, lengths,
ts against the hub's clock), device named by topic vs body, enrollment, hash, signature.
Each failure has a short reason code that the hub counts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from camaudit.core.record import Event, RecordError, check_hash
from camaudit.hub.ingest.schema import Rejected, parse_json, validate_record
from camaudit.mqtt import topics

#: Reason codes (rejects table).
REASONS = (
    "oversize", "wrong_topic", "bad_json", "duplicate_key", "bad_schema", "out_of_range",
    "device_mismatch", "unknown_device", "bad_hash", "missing_signature", "bad_signature",
    "not_checkpoint", "conflict", "fork", "bad_link", "bad_checkpoint", "key_mismatch", "overload",
    "internal",
)



class Reject(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def check_message(
    prefix: str,
    topic: str,
    payload: bytes,
    key_of: Callable[[str], bytes | None],
    max_bytes: int,
    now_ms: int,
) -> tuple[Event, str]:
    """Return (event, its JSON text) of a well-formed, enrolled, correctly signed event.

    Raises Reject(reason) otherwise. `key_of(device)` gives an enrolled device's raw key.
    """
    if len(payload) > max_bytes:
        raise Reject("oversize", f"{len(payload)} bytes on {topic[:80]}")
    where = topics.split(prefix, topic)
    if where is None or where[1] not in ("events", "checkpoints"):
        raise Reject("wrong_topic", topic[:120])
    topic_device, kind = where
    try:
        obj, text = parse_json(payload)
        validate_record(obj, now_ms)
    except Rejected as r:
        raise Reject(r.reason, r.detail) from None
    try:
        ev = Event.from_dict(obj)
    except RecordError as exc:
        raise Reject("bad_schema", str(exc)) from None
    if ev.device != topic_device:
        raise Reject("device_mismatch", f"topic names {topic_device!r}, record {ev.device!r}")
    if kind == "checkpoints" and ev.type != "checkpoint":
        raise Reject("not_checkpoint", f"{ev.type} on {topic[:80]}")
    key = key_of(ev.device)
    if key is None:
        raise Reject("unknown_device", ev.device)
    try:
        check_hash(ev)
    except (RecordError, ValueError, TypeError) as exc:  # NaN / non-JSON values cannot be hashed
        raise Reject("bad_hash", str(exc)) from None
    if not ev.sig:
        raise Reject("missing_signature", f"{ev.device} seq {ev.seq}")
    if not _signature_ok(ev.hash, ev.sig, key):
        raise Reject("bad_signature", f"{ev.device} seq {ev.seq}: bad signature")
    return ev, text


@lru_cache(maxsize=4096)
def _public_key(raw: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def _signature_ok(hash_hex: str, sig_hex: str, key: bytes) -> bool:
    """record.check_signature with the key object cached (the same Ed25519 check)."""
    from cryptography.exceptions import InvalidSignature

    try:
        _public_key(key).verify(bytes.fromhex(sig_hex), hash_hex.encode("ascii"))
    except (ValueError, InvalidSignature):
        return False
    return True

