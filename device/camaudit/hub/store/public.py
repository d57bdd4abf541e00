"""What the public page reads of the store, and the "was I filmed?" requests it writes.

Reads return counts and record types only (never an event's JSON but a notice's
registration): counts per 15-minute bucket (hub/public/facts.py turns them into local days),
the newest feed.* / camera.* type per feed, the notice's newest registration and state."""

from __future__ import annotations

import json
import secrets
from typing import Any

from camaudit.hub.public.facts import CAMERA_TYPES, FEED_TYPES, HEALTH_TYPES
from camaudit.hub.public.request import FilmedRequest
from camaudit.hub.store.base import SqlStore
from camaudit.hub.store.records import _dicts, _now_ms, _text

MAX_REQUESTS = 10_000  # stored requests; beyond, new ones are refused until the operator clears some


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"  # our constants, never input


def registration(store: SqlStore, device: str, notice: str) -> dict[str, Any] | None:
    """The body of the newest notice.registered of (device, notice)."""
    with store._db() as c:
        row = c.execute(
            "SELECT json FROM events WHERE device = ? AND type = 'notice.registered' AND notice = ? "
            "ORDER BY seq DESC LIMIT 1", (device, notice)).fetchone()
    if row is None:
        return None
    try:
        body = json.loads(_text(row[0])).get("body")
    except (ValueError, AttributeError):
        return None
    return body if isinstance(body, dict) else None


def device_online(store: SqlStore, device: str) -> bool | None:
    """None: no such device."""
    with store._db() as c:
        row = c.execute("SELECT online FROM heads WHERE device = ?", (device,)).fetchone()
    return None if row is None else bool(row[0])


def last_types(store: SqlStore, device: str, feeds: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """feed -> (newest feed.up/feed.down type, newest camera.* type)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    with store._db() as c:
        for feed in feeds:
            got = []
            for types in (FEED_TYPES, CAMERA_TYPES):
                row = c.execute(f"SELECT type FROM events WHERE device = ? AND feed = ? AND type IN {_in(types)} "
                                "ORDER BY seq DESC LIMIT 1", (device, feed)).fetchone()
                got.append(None if row is None else str(row[0]))
            out[feed] = (got[0], got[1])
    return out


def buckets(store: SqlStore, device: str, feeds: list[str], since_ms: int) -> list[tuple[int, str, int]]:
    """(15-minute bucket start ms, what, count) of the device's records on `feeds` since
    `since_ms`; what: captures, unconsented, alerts, camera_health."""
    if not feeds:
        return []
    marks = ", ".join("?" for _ in feeds)
    q = 900_000
    out: list[tuple[int, str, int]] = []
    with store._db() as c:
        for what, cond in (("captures", "type = 'capture.end'"),
                           ("unconsented", "type = 'capture.end' AND verdict = 'unconsented'"),
                           ("alerts", "type = 'alert'"),
                           ("camera_health", f"type IN {_in(HEALTH_TYPES)}")):
            rows = c.execute(
                f"SELECT (ts / {q}) * {q}, COUNT(*) FROM events WHERE device = ? AND ts >= ? "
                f"AND feed IN ({marks}) AND {cond} GROUP BY 1", (device, since_ms, *feeds)).fetchall()
            out.extend((int(b), what, int(n)) for b, n in rows)
    return out


def notice_state(store: SqlStore, device: str, notice: str) -> str | None:
    """VISIBLE / MISSING / UNKNOWN from the newest notice.* state record."""
    from camaudit.hub.store.records import NOTICE_TYPES, notice_view

    with store._db() as c:
        row = c.execute(f"SELECT json FROM events WHERE device = ? AND notice = ? AND type IN {NOTICE_TYPES} "
                        "ORDER BY seq DESC LIMIT 1", (device, notice)).fetchone()
    return None if row is None else str(notice_view(json.loads(_text(row[0])))["state"])


class RequestsFull(Exception):
    pass


def add_request(store: SqlStore, device: str, notice: str, req: FilmedRequest) -> str:
    """Store one request; its reference ('R-' and 10 random characters). RequestsFull when
    MAX_REQUESTS are stored."""
    ref = "R-" + secrets.token_hex(5).upper()
    with store._db() as c, c.transaction():
        (n,) = c.execute("SELECT COUNT(*) FROM filmed_requests").fetchone()
        if int(n) >= MAX_REQUESTS:
            raise RequestsFull()
        c.execute("INSERT INTO filmed_requests (ref, device, notice, feed, since_ms, until_ms, contact, "
                  "received_ms) VALUES (?,?,?,?,?,?,?,?)",
                  (ref, device, notice, req.feed, req.since_ms, req.until_ms, req.contact, _now_ms()))
    return ref


def requests(store: SqlStore, limit: int = 200) -> list[dict[str, Any]]:
    """The newest requests, each with the captures, unconsented captures and alerts its
    device recorded on its camera in its window (for the operator)."""
    with store._db() as c:
        rows = _dicts(c.execute(
            "SELECT ref, device, notice, feed, since_ms, until_ms, contact, received_ms FROM filmed_requests "
            "ORDER BY received_ms DESC LIMIT ?", (limit,)))
        for r in rows:
            args = (r["device"], r["feed"], r["since_ms"], r["until_ms"])
            r["captures"], r["unconsented"] = c.execute(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN verdict = 'unconsented' THEN 1 ELSE 0 END), 0) "
                "FROM events WHERE device = ? AND feed = ? AND type = 'capture.end' AND ts >= ? AND ts <= ?",
                args).fetchone()
            (r["alerts"],) = c.execute(
                "SELECT COUNT(*) FROM events WHERE device = ? AND feed = ? AND type = 'alert' "
                "AND ts >= ? AND ts <= ?", args).fetchone()
    return rows
