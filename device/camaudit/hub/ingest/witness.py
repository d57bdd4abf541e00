"""The hub as a witness: it countersigns device checkpoints with its own Ed25519 key.

A witness statement is the canonical JSON of {device, checkpoint (event seq), seq, hash,
ts (hub time, ms)}; `hub_sig` is the hub's Ed25519 signature of those bytes. Anyone holding
the hub's public key can later show that the hub saw this chain head at that time.
"""

from __future__ import annotations

from typing import Any

from camaudit.core.record import RecordError, canonical_json


def statement(device: str, checkpoint_seq: int, cp_seq: int, cp_hash: str, ts_ms: int) -> bytes:
    return canonical_json(
        {"device": device, "checkpoint": checkpoint_seq, "seq": cp_seq, "hash": cp_hash, "ts": ts_ms}
    )


def check_witness(row: dict[str, Any], hub_public_key: bytes) -> None:
    """Raise RecordError unless `row` (a `witness` table row) is signed by the hub key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = statement(row["device"], row["seq"], row["cp_seq"], row["cp_hash"], row["ts"])
    try:
        Ed25519PublicKey.from_public_bytes(hub_public_key).verify(bytes.fromhex(row["hub_sig"]), data)
    except (ValueError, InvalidSignature):
        raise RecordError(f"witness of {row['device']} seq {row['seq']}: bad hub signature") from None
