"""Forks in the store: open forks, their quarantined versions, and an operator's resolution."""

from __future__ import annotations

import logging
from typing import Any

from camaudit.core.record import GENESIS_PREV, Event
from camaudit.hub.store.base import SqlStore
from camaudit.hub.store.records import HubError, _dicts, _now_ms, _text

log = logging.getLogger(__name__)


class ForkStore(SqlStore):
    def fork_seq(self, device: str) -> int | None:
        """The lowest forked seq of `device`'s open fork, or None (no fork, or resolved)."""
        with self._db() as c:
            row = c.execute(
                "SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL", (device,)
            ).fetchone()
        return int(row[0]) if row else None

    def fork_in_span(self, device: str, since_ms: int | None, until_ms: int | None) -> int | None:
        """The fork seq of `device`'s open fork if it touches since_ms <= ts <= until_ms: the
        span holds a stored record at or past the fork seq (the first-arrived copy, which may
        be the clone's), or a quarantined version falls in it (the stored span would leave the
        other copy out). None if no open fork touches the span."""
        fork_seq = self.fork_seq(device)
        if fork_seq is None:
            return None
        lo, hi = -(2**62) if since_ms is None else since_ms, 2**62 if until_ms is None else until_ms
        with self._db() as c:
            (top,) = c.execute("SELECT MAX(seq) FROM events WHERE device = ? AND ts >= ? AND ts <= ?",
                               (device, lo, hi)).fetchone()
            (other,) = c.execute("SELECT COUNT(*) FROM quarantine WHERE device = ? AND seq >= ? "
                                 "AND ts >= ? AND ts <= ?", (device, fork_seq, lo, hi)).fetchone()
        return fork_seq if (top is not None and int(top) >= fork_seq) or other else None

    def forks(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Forks: {device, fork_seq, detected_ms, copies, resolved_ms, resolution, quarantined}."""
        where = "WHERE f.resolved_ms IS NULL" if open_only else ""
        with self._db() as c:
            return _dicts(c.execute(
                "SELECT f.device, f.fork_seq, f.detected_ms, f.copies, f.resolved_ms, f.resolution, "
                "(SELECT COUNT(*) FROM quarantine q WHERE q.device = f.device) AS quarantined "
                f"FROM fork_state f {where} ORDER BY f.detected_ms DESC, f.device"))

    def quarantined(self, device: str) -> list[dict[str, Any]]:
        with self._db() as c:
            return _dicts(c.execute(
                "SELECT device, seq, hash, prev, ts, type, received_ms, why, json FROM quarantine "
                "WHERE device = ? ORDER BY seq, received_ms, hash", (device,)))

    def resolve_fork(self, device: str, keep: str) -> int:
        """Close `device`'s open fork. keep="stored": the chain the hub holds is the device's
        (the other copy gets a new id and key); keep="quarantined": the hub's records from the
        fork point on came from the other copy: they move to quarantine (nothing is deleted)
        and the hub's chain steps back so the real device re-sends. Returns rows moved."""
        if keep not in ("stored", "quarantined"):
            raise HubError(f"resolve {device}: --keep must be 'stored' or 'quarantined'")
        lock = " FOR UPDATE" if self.sql.dialect == "postgresql" else ""
        with self._db() as c, c.transaction():
            row = c.execute(
                f"SELECT fork_seq FROM fork_state WHERE device = ? AND resolved_ms IS NULL{lock}", (device,)
            ).fetchone()
            if row is None:
                raise HubError(f"resolve {device}: no open fork")
            fork_seq = int(row[0])
            moved = 0
            if keep == "quarantined":
                why = "superseded: operator kept the other copy"
                rows = [
                    (device, seq, h, Event.from_json(_text(text)).prev, ts, type_, received, _text(text), why)
                    for seq, h, ts, type_, received, text in c.execute(
                        "SELECT seq, hash, ts, type, received_ms, json FROM events "
                        "WHERE device = ? AND seq >= ? ORDER BY seq", (device, fork_seq)).fetchall()
                ]
                for r in rows:
                    moved += c.execute(
                        "INSERT INTO quarantine (device, seq, hash, prev, ts, type, received_ms, json, why) "
                        "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(device, seq, hash) DO NOTHING", r).rowcount
                c.execute("DELETE FROM witness WHERE device = ? AND seq >= ?", (device, fork_seq))
                c.execute("DELETE FROM events WHERE device = ? AND seq >= ?", (device, fork_seq))
                prev = c.execute("SELECT hash FROM events WHERE device = ? AND seq = ?",
                                 (device, fork_seq - 1)).fetchone()
                base = c.execute("SELECT after_seq, after_hash FROM bases WHERE device = ?",
                                 (device,)).fetchone()
                head = (fork_seq - 1, prev[0]) if prev else (tuple(base) if base else (0, GENESIS_PREV))
                c.execute("UPDATE heads SET seq = ?, hash = ? WHERE device = ?", (*head, device))
            c.execute("UPDATE fork_state SET resolved_ms = ?, resolution = ? WHERE device = ?",
                      (_now_ms(), keep, device))
        log.warning("fork of %s at seq %d resolved: kept the %s copy (%d row(s) moved)",
                    device, fork_seq, keep, moved)
        return moved
