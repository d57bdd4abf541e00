"""The hub store's row shapes and the values it derives from events (no database here).

HubError, DeviceRow; the columns filled at write time from an event body (`_col`,
`_notice_key`); the views the web page and alerts take of rows (`notice_view`,
`fork_alert`, `alert_view`); the SQL pieces of the capture filter."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camaudit.core.record import Event
from camaudit.errors import CamauditError


class HubError(CamauditError):
    """The hub cannot run (store unusable, bad enrollment, broker failure)."""


@dataclass(frozen=True)
class DeviceRow:
    device: str
    public_key: str
    how: str
    enrolled_ms: int
    head_seq: int
    max_seen: int
    last_seen_ms: int | None
    online: bool
    duplicates: int

    @property
    def lag(self) -> int:
        return max(0, self.max_seen - self.head_seq)


def check_base(device: str, after_seq: int, after_hash: str) -> None:
    """A chain base (see HubStore.set_base) that can be right: seq >= 1, a 64-hex hash."""
    if after_seq < 1:
        raise HubError(f"enroll {device}: --after seq must be >= 1, got {after_seq}")
    if len(after_hash) != 64 or any(ch not in "0123456789abcdef" for ch in after_hash):
        raise HubError(f"enroll {device}: --after hash must be 64 hex digits")


def _now_ms() -> int:
    return int(time.time() * 1000)


def is_url(target: Path | str) -> bool:
    """A PostgreSQL URL (anything else names a SQLite file)."""
    return str(target).startswith(("postgresql://", "postgres://"))


def _text(value: Any) -> str:
    """A stored JSON column as text (old stores may hold bytes)."""
    return bytes(value).decode() if isinstance(value, bytes | bytearray | memoryview) else str(value)


def _col(value: Any) -> str | None:
    """A device-sent string for an index column: PostgreSQL TEXT cannot hold NUL, so both
    backends store U+FFFD for it (the event's JSON keeps what the device signed)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else None


def _notice_key(body: Mapping[str, Any]) -> str | None:
    v = body.get("notice")
    if v is None:
        return None
    return _col(v if isinstance(v, str) else json.dumps(v, sort_keys=True))



def _dicts(cur: Any) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# A device signs its own times; its clock (or its key's holder) may date records ahead.
# The dashboard's lists are ordered and windowed by AT_SQL: the device's time, never later
# than the hub received the record (a record dated a day ahead counts at its receipt, so it
# cannot stay on top of every other device's alerts); alerts are listed newest received
# first. A device time more than CLOCK_AHEAD_MS after receipt is flagged "device clock ahead".
AT_SQL = "(CASE WHEN received_ms < ts THEN received_ms ELSE ts END)"  # also indexed (schema v5)
CLOCK_AHEAD_MS = 10 * 60 * 1000


def clock_ahead(ts: int, received_ms: int | None) -> bool:
    """The device dated the record more than CLOCK_AHEAD_MS after the hub received it."""
    return received_ms is not None and ts - int(received_ms) > CLOCK_AHEAD_MS


def _capture_filter(
    device: str | None, feed: str | None, verdict: str | None, reason: str | None,
    since_ms: int | None, until_ms: int | None,
) -> tuple[str, tuple[Any, ...]]:
    where = ["type = 'capture.end'"]
    params: list[Any] = []
    for col, val in (("device", device), ("feed", feed), ("verdict", verdict)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    if reason:
        where.append("reasons LIKE ?")
        params.append(f"%,{reason},%")
    if since_ms is not None:
        where.append(f"{AT_SQL} >= ?")
        params.append(since_ms)
    if until_ms is not None:
        where.append(f"{AT_SQL} < ?")
        params.append(until_ms)
    return " AND ".join(where), tuple(params)


NOTICE_TYPES = "('notice.missing', 'notice.restored', 'notice.unknown')"  # SQL; uses (type, ts)
_STATE_OF_TYPE = {"notice.restored": "VISIBLE", "notice.missing": "MISSING", "notice.unknown": "UNKNOWN"}


def notice_view(d: dict[str, Any]) -> dict[str, Any]:
    """What the web page shows of a stored notice.* event (device-sent values, checked)."""
    raw = d.get("body")
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}
    covers = body.get("covers")
    hours = body.get("hours")
    return {
        "device": d.get("device"), "seq": d.get("seq"), "ts": d.get("ts"), "type": d.get("type"),
        "notice": str(body.get("notice", "?")),
        "state": str(body.get("state") or _STATE_OF_TYPE.get(str(d.get("type")), "UNKNOWN")),
        "covers": [str(c) for c in covers] if isinstance(covers, list) else None,
        "why": str(body["why"]) if isinstance(body.get("why"), str) else None,
        "hours": {str(k): str(v) for k, v in hours.items()} if isinstance(hours, dict) else None,
    }


def fork_alert(fork: dict[str, Any]) -> dict[str, Any]:
    """An operator alert for an open fork (web page, MQTT `<p>/hub/alerts`, `camaudit alerts`)."""
    dev, seq = fork["device"], fork["fork_seq"]
    return {
        "device": dev, "seq": seq, "ts": fork["detected_ms"], "feed": None,
        "text": (f"FORK: two validly signed versions of {dev} from seq {seq} (a cloned SD card?); "
                 f"acks to {dev} stopped; both kept; resolve with `camaudit hub resolve-fork {dev}`"),
        "capture": None, "reasons": ["fork"], "ref_seq": None, "kind": "fork",
    }


def alert_view(ev: Event, received_ms: int | None = None) -> dict[str, Any]:
    """What the web page shows of a verified alert event (`received_ms`: when the hub got it)."""
    b = ev.body
    return {
        "device": ev.device, "seq": ev.seq, "ts": ev.ts, "feed": ev.feed,
        "received": received_ms, "clock_ahead": clock_ahead(ev.ts, received_ms),
        "text": str(b.get("text", "")), "capture": b.get("capture"),
        "reasons": list(b.get("reasons") or []), "ref_seq": b.get("ref_seq"), "kind": "event",
    }
