"""`notice.registered`: what each posted notice said, journalled so a pack proves it.

At every start the device compares each configured notice (its printed texts, hours,
languages, what it covers and which feed watches it, and the venue's time zone) with the
last `notice.registered` record of that notice in the journal, and journals a new one when
it is new or anything changed. A report then shows the texts in force at any moment from
the signed records, not from whatever the config says on the day of the export.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from camaudit.config.model import Config
from camaudit.config.notices import NoticeConfig
from camaudit.notices.marker import PRINTED_FIELDS, marker_payload, notice_hash

log = logging.getLogger(__name__)

EVENT = "notice.registered"
Sink = Callable[[str, str | None, Mapping[str, Any], int], Any]


def registration_body(notice_id: str, notice: NoticeConfig, timezone: str) -> dict[str, Any]:
    """The record body of one notice as configured (JSON values only)."""
    printed = notice.model_dump(mode="json", include=set(PRINTED_FIELDS))
    return {
        "notice": notice_id,
        **printed,
        "covers": sorted(notice.covers),
        "watch_feed": notice.watch.feed if notice.watch is not None else None,
        "timezone": timezone,
        "hash": notice_hash(notice_id, notice),
        "marker": marker_payload(notice_id, notice),
    }


def last_registrations(journal_db: Path) -> dict[str, dict[str, Any]]:
    """The body of the newest `notice.registered` record of each notice in the journal."""
    if not Path(journal_db).is_file():
        return {}
    conn = sqlite3.connect(Path(journal_db).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT json FROM events WHERE type = ? ORDER BY seq", (EVENT,)
        ).fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        conn.close()
    out: dict[str, dict[str, Any]] = {}
    for (text,) in rows:
        body = json.loads(text).get("body") or {}
        if isinstance(body.get("notice"), str):
            out[body["notice"]] = body
    return out


def register_notices(
    cfg: Config, journal_db: Path, sink: Sink, ts_ms: int, *, again: bool = False
) -> list[str]:
    """Journal a `notice.registered` for every notice that is new or changed (every notice
    when `again`: the daily re-statement that keeps an export of any day self-contained),
    and one with `"withdrawn": true` for a notice no longer configured; return their ids."""
    before = last_registrations(journal_db)
    written = []
    for notice_id, notice in sorted(cfg.notices.items()):
        body = registration_body(notice_id, notice, cfg.device.timezone)
        if before.get(notice_id) == body and not again:
            continue
        log.info("notice %s: registered (%s)", notice_id, "changed" if notice_id in before else "new")
        sink(EVENT, None, body, ts_ms)
        written.append(notice_id)
    for notice_id, last in sorted(before.items()):
        if notice_id in cfg.notices or last.get("withdrawn"):
            continue
        # taken out of the config: it no longer covers anything, and the journal says so
        log.info("notice %s: withdrawn (no longer configured)", notice_id)
        sink(EVENT, None, {"notice": notice_id, "withdrawn": True, "covers": [],
                           "timezone": cfg.device.timezone}, ts_ms)
        written.append(notice_id)
    return written


def registrations_start(conn: sqlite3.Connection, lo: int, device: str | None = None) -> int:
    """The lowest seq an export starting at `lo` must begin at to carry, for every notice,
    its newest `notice.registered` before `lo` (what the notice said when the span began).
    `device` selects one device's records in a hub store."""
    where = "type = ? AND seq < ?" + (" AND device = ?" if device is not None else "")
    params: tuple[object, ...] = (EVENT, lo) + ((device,) if device is not None else ())
    # (SQLite takes the bare column from the row holding the MAX)
    rows = conn.execute(
        f"SELECT MAX(seq), json_extract(json, '$.body.withdrawn') FROM events WHERE {where} "
        "GROUP BY json_extract(json, '$.body.notice')",
        params,
    ).fetchall()
    # a notice withdrawn before the span was not in force: no need to reach back to it
    return min([lo] + [int(r[0]) for r in rows if r[0] is not None and not r[1]])
