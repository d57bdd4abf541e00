"""The hub as a witness: it countersigns device checkpoints with its own Ed25519 key.

A witness statement is the canonical JSON of {device, checkpoint (event seq), seq, hash,
ts (hub time, ms)}; `hub_sig` is the hub's Ed25519 signature of those bytes. Anyone holding
the hub's public key can later show that the hub saw this chain head at that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from camaudit.core.record import Event, RecordError, canonical_json, check_sig_of

if TYPE_CHECKING:
    from camaudit.hub.ingest.keys import DeviceKeys
    from camaudit.store.keys import DeviceKey


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


class Countersigner:
    """The hub's side of a checkpoint: check what it vouches for against the stored chain,
    then sign a witness statement with the hub key (a row of the `witness` table)."""

    def __init__(self, hub_key: DeviceKey, keys: DeviceKeys) -> None:
        self.hub_key = hub_key
        self.keys = keys

    @staticmethod
    def claim(ev: Event) -> tuple[int, str, str]:
        """(seq, hash, sig) a checkpoint vouches for, checked for shape and range."""
        body = ev.body
        cp_seq, cp_hash, cp_sig = body.get("seq"), body.get("hash"), body.get("sig")
        if not isinstance(cp_seq, int) or not isinstance(cp_hash, str) or not isinstance(cp_sig, str):
            raise RecordError(f"seq {ev.seq}: checkpoint body lacks seq/hash/sig")
        if not 0 <= cp_seq < ev.seq:
            raise RecordError(f"seq {ev.seq}: checkpoint vouches for seq {cp_seq}")
        return cp_seq, cp_hash, cp_sig

    def witness(self, ev: Event, base_seq: int, base_hash: str,
                hash_at: Callable[[int], str | None]) -> dict[str, Any] | None:
        """The witness row of checkpoint `ev`; None if it vouches for a seq pruned before the
        hub had it. `hash_at` reads the stored chain (shared linking: in its transaction)."""
        cp_seq, cp_hash, cp_sig = self.claim(ev)
        if cp_seq < base_seq:
            return None  # vouches for a seq pruned before the hub had it: nothing to witness
        known = base_hash if cp_seq == base_seq else hash_at(cp_seq)
        return self.countersign(ev, cp_seq, cp_hash, cp_sig, known)

    def countersign(self, ev: Event, cp_seq: int, cp_hash: str, cp_sig: str, known: str | None) -> dict[str, Any]:
        if known != cp_hash:
            raise RecordError(f"seq {ev.seq}: checkpoint hash does not match seq {cp_seq}")
        check_sig_of(cp_hash, cp_sig, self.keys[ev.device], what=f"seq {ev.seq}: checkpoint")
        ts = int(time.time() * 1000)
        sig = self.hub_key.sign(statement(ev.device, ev.seq, cp_seq, cp_hash, ts)).hex()
        return {"device": ev.device, "seq": ev.seq, "cp_seq": cp_seq, "cp_hash": cp_hash,
                "ts": ts, "hub_key": self.hub_key.public_hex, "hub_sig": sig}
