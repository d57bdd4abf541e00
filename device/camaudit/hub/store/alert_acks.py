"""Operators' acknowledgements of alerts (who, when, a note), and the alerts still open.

An alert is a device's `alert` record (kind 'event', keyed by its seq) or an open fork
(kind 'fork', keyed by its fork seq). Acknowledging one does not change any record: it is
the hub's own note that a person saw it and what they did. An acknowledged alert leaves the
list of open alerts (`open_alerts`, published retained on `<p>/hub/alerts`); a fork stays
open for acks to the device until `camaudit hub resolve-fork`, whatever its acknowledgement.
"""

from __future__ import annotations

import json
from typing import Any

from camaudit.hub.store.forks import ForkStore
from camaudit.hub.store.records import HubError

MAX_WHO = 80
MAX_NOTE = 1000
KINDS = ("event", "fork")
RECENT_ALERTS = 50  # device alerts published and listed as open: the newest this many


def _clean(text: str, limit: int) -> str:
    """One line of printable text, at most `limit` characters."""
    return "".join(c if c.isprintable() else " " for c in text).strip()[:limit]


class AlertAcks(ForkStore):
    def alerts(self, limit: int = RECENT_ALERTS) -> list[dict[str, Any]]:
        """Open fork alerts, then device alerts newest received first (store.queries)."""
        raise NotImplementedError

    def acknowledge(self, kind: str, device: str, seq: int, who: str, note: str, now_ms: int) -> dict[str, Any]:
        """Record that `who` acknowledged the alert (kind, device, seq) at `now_ms` with
        `note`; the first acknowledgement stands (a second is refused). HubError for an
        alert the hub does not hold."""
        who, note = _clean(who, MAX_WHO), _clean(note, MAX_NOTE)
        if kind not in KINDS:
            raise HubError(f"acknowledge: unknown alert kind {kind!r}")
        if not who:
            raise HubError("acknowledge: say who you are")
        with self._db() as c, c.transaction():
            if kind == "event":
                held = c.execute("SELECT 1 FROM events WHERE device = ? AND seq = ? AND type = 'alert'",
                                 (device, seq)).fetchone()
            else:
                held = c.execute("SELECT 1 FROM fork_state WHERE device = ? AND fork_seq = ?",
                                 (device, seq)).fetchone()
            if held is None:
                raise HubError(f"acknowledge: no alert {kind} {device} seq {seq} on this hub")
            if c.execute("SELECT 1 FROM alert_acks WHERE kind = ? AND device = ? AND seq = ?",
                         (kind, device, seq)).fetchone() is not None:
                raise HubError(f"acknowledge: alert {device} seq {seq} is already acknowledged")
            c.execute("INSERT INTO alert_acks (kind, device, seq, who, note, acked_ms) VALUES (?, ?, ?, ?, ?, ?)",
                      (kind, device, seq, who, note, now_ms))
        return {"kind": kind, "device": device, "seq": seq, "who": who, "note": note, "acked_ms": now_ms}

    def alert_acks(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        with self._db() as c:
            rows = c.execute("SELECT kind, device, seq, who, note, acked_ms FROM alert_acks").fetchall()
        return {(k, d, int(s)): {"who": w, "note": n, "acked_ms": int(t)} for k, d, s, w, n, t in rows}

    def all_alerts(self, limit: int = RECENT_ALERTS) -> list[dict[str, Any]]:
        """Open forks first, then the newest `limit` device alerts, each with its
        acknowledgement (`ack`: {who, note, acked_ms} or None)."""
        out = self.alerts(limit)  # store.queries: newest RECEIVED first, device clocks ahead flagged
        acks = self.alert_acks()
        for a in out:
            a["ack"] = acks.get((a["kind"], str(a["device"]), int(a["seq"])))
        return out

    def open_alerts(self, limit: int = RECENT_ALERTS) -> list[dict[str, Any]]:
        """Every alert no operator has acknowledged: all open forks, recent device alerts."""
        return [a for a in self.all_alerts(limit) if a["ack"] is None]


def retained_payload(alerts: list[dict[str, Any]], zone: str) -> bytes:
    """The retained message on `<p>/hub/alerts`: {"alerts": [...], "tz": zone} with every
    alert naming the zone (`camaudit alerts` prints its times there); b"" (clears the
    retained message) when none is open."""
    if not alerts:
        return b""
    items = [{k: v for k, v in a.items() if k != "ack"} | {"tz": zone} for a in alerts]
    return json.dumps({"alerts": items, "tz": zone}, separators=(",", ":")).encode()
