"""The hub's signed record of a deletion (hub/custody/prune.py writes it): a document

    {"device": ..., "body": <trust.retention.deletion_body(...)>, "hub_key": ..., "sig": ...}

`sig` is the hub key's Ed25519 signature of canonical {device, body}. Pure."""

from __future__ import annotations

import json
from typing import Any

from camaudit.core.record import canonical_json

FIELD = "hub_deletion"  # its place in a hub pack's device.json


def signed_part(doc: dict[str, Any]) -> bytes:
    return canonical_json({"device": doc["device"], "body": doc["body"]})


def check_hub_deletion(text: object, hub_key: bytes, device: str, seq: int, h: str) -> dict[str, Any]:
    """The body of a hub deletion document, checked: signed by `hub_key`, of `device`,
    naming (seq, h) as the point the records continue from. ValueError naming what is wrong."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from camaudit.trust.retention import names_point

    try:
        doc = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict) or not isinstance(doc.get("sig"), str):
        raise ValueError("not a hub deletion record")
    try:
        Ed25519PublicKey.from_public_bytes(hub_key).verify(bytes.fromhex(doc["sig"]), signed_part(doc))
    except (InvalidSignature, ValueError):
        raise ValueError("not signed by the hub key that signed the pack") from None
    if doc.get("device") != device or not names_point(doc["body"], seq, h):
        raise ValueError(f"not this device's record of the deletion before seq {seq + 1}")
    return dict(doc["body"])
