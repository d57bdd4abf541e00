"""The hub's pruning under a retention profile (trust.retention), with a hub-signed record.

`prune_device` deletes, for one device, the stored records older than the period (the
longest run from the oldest stored record whose every record is older than the cutoff),
never the device's newest stored record, never while the device has an open fork (nothing
is pruned there: DESIGN), and the evidence frames those records named. In the same
transaction it stores one deletion document, signed by the hub key:

    {"device": "cafe-01", "body": <trust.retention.deletion_body(...)>,
     "hub_key": "<hex>", "sig": "<Ed25519 of canonical {device, body}>"}

A hub pack whose records continue from that point carries it in device.json
(`hub_deletion`); its report says "records before T were deleted on D under policy P",
and `camaudit verify` accepts the pruned start only with it (store/pack_verify.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from camaudit.hub.store.records import _text
from camaudit.hub.store.sql import Sql
from camaudit.store.keys import DeviceKey
from camaudit.trust.hub_deletion import signed_part
from camaudit.trust.retention import deletion_body

log = logging.getLogger(__name__)


def prune_device(sql: Sql, key: DeviceKey, device: str, *, policy: str, period_ms: int,
                 now_ms: int) -> dict[str, Any] | None:
    """Prune one device; the body of the deletion record written, None if nothing was old
    enough (or the device has an open fork)."""
    cutoff = now_ms - period_ms
    with sql.lock, sql.transaction():
        if sql.dialect == "postgresql":
            sql.lock_row("heads", "device", device)
        fork = sql.execute("SELECT 1 FROM fork_state WHERE device = ? AND resolved_ms IS NULL",
                           (device,)).fetchone()
        if fork is not None:
            log.warning("device %s: open fork, nothing pruned", device)
            return None
        lo, head = sql.execute("SELECT MIN(seq), MAX(seq) FROM events WHERE device = ?", (device,)).fetchone()
        if lo is None:
            return None
        (young,) = sql.execute("SELECT MIN(seq) FROM events WHERE device = ? AND ts >= ?",
                               (device, cutoff)).fetchone()
        kept = min(int(head) - 1, (int(young) - 1) if young is not None else int(head) - 1)
        if kept < int(lo):
            return None
        (kept_hash,) = sql.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (device, kept)).fetchone()
        frames = sql.execute("DELETE FROM evidence_frames WHERE device = ? AND seq <= ?", (device, kept)).rowcount
        events = sql.execute("DELETE FROM events WHERE device = ? AND seq <= ?", (device, kept)).rowcount
        body = deletion_body(policy=policy, period_ms=period_ms, before_ms=cutoff, on_ms=now_ms, events=events,
                             frames=frames, first_seq=int(lo), kept_seq=kept, kept_hash=_text(kept_hash))
        doc: dict[str, Any] = {"device": device, "body": body, "hub_key": key.public_hex}
        doc["sig"] = key.sign(signed_part(doc)).hex()
        sql.execute("INSERT INTO hub_deletions (device, kept_seq, json) VALUES (?,?,?) ON CONFLICT (device, kept_seq) "
                    "DO UPDATE SET json = excluded.json", (device, kept, json.dumps(doc, sort_keys=True)))
    log.info("device %s: %d record(s) and %d evidence frame(s) before seq %d pruned under %s",
             device, events, frames, kept + 1, policy)
    return body


def prune_all(sql: Sql, key: DeviceKey, *, policy: str, period_ms: int, now_ms: int) -> list[dict[str, Any]]:
    with sql.lock:
        devices = [str(r[0]) for r in sql.execute("SELECT device FROM devices ORDER BY device").fetchall()]
    out = []
    for d in devices:
        body = prune_device(sql, key, d, policy=policy, period_ms=period_ms, now_ms=now_ms)
        if body is not None:
            out.append(body)
    return out


def deletion_naming(sql: Sql, device: str, seq: int) -> str | None:
    """The stored deletion document of `device` whose kept point is `seq` (JSON text)."""
    with sql.lock:
        row = sql.execute("SELECT json FROM hub_deletions WHERE device = ? AND kept_seq = ?", (device, seq)).fetchone()
    return _text(row[0]) if row else None
