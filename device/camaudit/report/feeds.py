"""Which feeds a journal (or a hub's copy of it) has ever seen: `--feed` must name one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from camaudit.errors import CamauditError
from camaudit.store.db import open_readonly


class UnknownFeedError(CamauditError):
    """`--feed` names a feed the records never mention."""


def check_feed(feed: str | None, known: Iterable[str], where: str) -> None:
    """UnknownFeedError naming the known feeds unless `feed` is None or one of them."""
    names = sorted(set(known))
    if feed is None or feed in names:
        return
    listed = ", ".join(names) if names else "none"
    raise UnknownFeedError(f"--feed {feed!r}: {where} never saw that feed; known feeds: {listed}")


def feeds_of(rows: Iterable[tuple[str | None, str, str]]) -> set[str]:
    """From (feed column, type, json) rows: event feeds, and the feeds device.online names."""
    out: set[str] = set()
    for feed, type_, text in rows:
        if feed:
            out.add(feed)
        if type_ == "device.online":
            try:
                listed = json.loads(text).get("body", {}).get("feeds") or []
            except (ValueError, AttributeError):
                listed = []
            out.update(f for f in listed if isinstance(f, str))
    return out


def journal_feeds(db: Path) -> set[str]:
    conn = open_readonly(db)
    try:
        rows = conn.execute(
            "SELECT DISTINCT feed, type, CASE WHEN type = 'device.online' THEN json ELSE '' END "
            "FROM events WHERE feed IS NOT NULL OR type = 'device.online'"
        ).fetchall()
    finally:
        conn.close()
    return feeds_of(rows)


_ZONE_SQL = (
    "SELECT json FROM events WHERE type IN ('device.online', 'notice.registered'){dev} "
    "ORDER BY seq DESC LIMIT 1"
)


def zone_of(row: tuple[object] | None) -> str | None:
    if row is None:
        return None
    text = row[0]
    try:
        zone = json.loads(bytes(text).decode() if isinstance(text, bytes) else str(text))["body"]["timezone"]
    except (ValueError, KeyError, TypeError):
        return None
    return zone if isinstance(zone, str) and zone else None


def journal_zone(db: Path) -> str | None:
    """The venue's time zone as the device last journalled it."""
    conn = open_readonly(db)
    try:
        return zone_of(conn.execute(_ZONE_SQL.format(dev="")).fetchone())
    finally:
        conn.close()
