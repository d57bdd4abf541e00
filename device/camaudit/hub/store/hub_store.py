"""The hub's store: enrolled devices, verified events, rejects, witnesses, forks.

One schema, written once (camaudit.hub.store.sql), on SQLite (default: a file, `hub.db`) or
PostgreSQL (`postgresql://` URL, several hub processes at once). Events are stored with
PRIMARY KEY (device, seq): a re-sent event can never be stored twice, whichever worker
receives it. Only events that passed every check are written here; rejected messages are
only counted (by reason) in `rejects`. The schema is versioned (meta `schema_version`) and
migrated at open, under the write lock (SQLite) or an advisory lock (PostgreSQL), so several
processes may open one store at once. Writers from several processes stay correct: heads
only move forward (`WHERE seq < ?`), counters add, and rows are locked in one order
(devices sorted) so two workers' batches cannot deadlock. No query parses JSON: what the
queries need of an event body (capture, verdict, reasons, notice) is a column filled at
write time.
"""

from __future__ import annotations

import logging

from camaudit.core.record import GENESIS_PREV, Event
from camaudit.hub.store.queries import StoreQueries
from camaudit.hub.store.records import (
    HubError,
    _now_ms,
    _text,
    alert_view,
    check_base,
    fork_alert,
    is_url,
)
from camaudit.hub.store.schema import SCHEMA_VERSION, migrate
from camaudit.hub.store.writer import BatchWriter

__all__ = ["SCHEMA_VERSION", "HubError", "HubStore", "alert_view", "check_base", "fork_alert", "is_url",
           "migrate"]

log = logging.getLogger(__name__)


class HubStore(BatchWriter, StoreQueries):
    """The hub store: enrollment and chain heads here; writing (writer.py), forks (forks.py)
    and reading (queries.py) beside it, all on one connection (base.py)."""

    # ---- enrollment -------------------------------------------------------------------
    def enroll(self, device: str, public_key_hex: str, how: str = "enroll") -> None:
        try:
            raw = bytes.fromhex(public_key_hex)
        except ValueError:
            raise HubError(f"enroll {device}: public key is not hex") from None
        if len(raw) != 32:
            raise HubError(f"enroll {device}: an Ed25519 public key is 32 bytes (64 hex digits)")
        if not device or len(device) > 64 or "/" in device or "+" in device or "#" in device \
                or "\x00" in device:
            raise HubError(f"enroll: bad device id {device!r}")
        with self._db() as c, c.transaction():
            c.execute("INSERT INTO devices (device, public_key, how, enrolled_ms) VALUES (?,?,?,?) "
                      "ON CONFLICT(device) DO NOTHING", (device, raw.hex(), how, _now_ms()))
            (stored,) = c.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
            if stored != raw.hex():
                raise HubError(f"enroll {device}: already enrolled with another key; remove it first")
            c.execute("INSERT INTO heads (device, seq, hash, max_seen, online, duplicates) "
                      "VALUES (?, 0, ?, 0, 0, 0) ON CONFLICT(device) DO NOTHING", (device, GENESIS_PREV))
        log.info("device %s enrolled (%s)", device, how)

    def set_base(self, device: str, after_seq: int, after_hash: str) -> None:
        """Start the hub's copy of `device`'s chain after seq `after_seq`, whose hash is
        `after_hash` (the device's pruned point, shown by `camaudit device-key`). Refused if
        the hub already holds that seq or a later one: a base only ever moves forward, over
        seqs the device no longer has."""
        check_base(device, after_seq, after_hash)
        with self._db() as c, c.transaction():
            row = c.execute(
                "SELECT seq FROM heads WHERE device = ?" + (" FOR UPDATE" if c.dialect == "postgresql" else ""),
                (device,)).fetchone()
            if row is None:
                raise HubError(f"enroll {device}: not enrolled")
            if row[0] >= after_seq:
                raise HubError(f"enroll {device}: the hub already holds seq {row[0]} >= {after_seq}")
            c.execute(
                "INSERT INTO bases (device, after_seq, after_hash, set_ms) VALUES (?,?,?,?) "
                "ON CONFLICT(device) DO UPDATE SET after_seq = excluded.after_seq, "
                "after_hash = excluded.after_hash, set_ms = excluded.set_ms",
                (device, after_seq, after_hash, _now_ms()),
            )
            c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (after_seq, after_hash, device))
        log.warning("device %s: the hub's chain starts after seq %d (pruned on the device)",
                    device, after_seq)

    def base(self, device: str) -> tuple[int, str] | None:
        """(after_seq, after_hash) if the hub's chain of `device` starts past genesis."""
        with self._db() as c:
            row = c.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?", (device,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def public_key(self, device: str) -> bytes | None:
        with self._db() as c:
            row = c.execute("SELECT public_key FROM devices WHERE device = ?", (device,)).fetchone()
        return bytes.fromhex(row[0]) if row else None

    def keys(self) -> dict[str, bytes]:
        with self._db() as c:
            rows = c.execute("SELECT device, public_key FROM devices").fetchall()
        return {d: bytes.fromhex(k) for d, k in rows}

    # ---- chain heads ------------------------------------------------------------------
    def head_event(self, device: str) -> Event | None:
        with self._db() as c:
            row = c.execute(
                "SELECT e.json FROM heads h JOIN events e ON e.device = h.device AND e.seq = h.seq "
                "WHERE h.device = ?",
                (device,),
            ).fetchone()
        return Event.from_json(_text(row[0])) if row else None

    def hash_at(self, device: str, seq: int) -> str | None:
        with self._db() as c:
            row = c.execute("SELECT hash FROM events WHERE device = ? AND seq = ?", (device, seq)).fetchone()
        return row[0] if row else None

    def set_online(self, device: str, online: bool, when_ms: int) -> None:
        with self._db() as c:
            c.execute("UPDATE heads SET online = ?, last_seen_ms = ? WHERE device = ?",
                      (int(online), when_ms, device))

    def meta(self, key: str) -> str | None:
        with self._db() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                      "value = excluded.value", (key, value))
