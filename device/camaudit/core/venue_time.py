"""The one rule for time (DESIGN.md, "time"): a time typed without an offset is the venue's
local time, and every printed time names its zone.

Pure: every function takes the zone (a ZoneInfo, from `zone()`) and returns values; no
clock, no machine zone. The CLI, the reports, the letters and the hub's forms all parse and
format through here, so a Pi in UTC and a venue in Paris agree on what "14:00" means.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


def zone(name: str | None) -> ZoneInfo:
    """The venue's zone from its IANA name; UTC when none is configured. ValueError names a
    zone this machine does not know."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')") from None


def zone_or_utc(name: str | None) -> ZoneInfo:
    """Like zone(), but an unknown name falls back to UTC (for records made elsewhere)."""
    try:
        return zone(name)
    except ValueError:
        return UTC_ZONE


def parse(text: str, tz: ZoneInfo, *, end: bool = False) -> int:
    """UTC ms of an ISO 8601 date or date-time. Without an offset it is local time in `tz`.
    A bare date (YYYY-MM-DD) is that day's start, or with `end` its last millisecond.

    Across a DST change: a local time that does not exist (clocks jump forward over it) is
    an error naming the gap; one that happens twice (clocks go back) means its first
    occurrence for a start, its second for an `end`, so a window covers both.
    ValueError with a one-line message for anything else unreadable."""
    raw = text.strip()
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date/time (e.g. 2026-03-29T14:00)") from None
    bare_date = len(raw) == 10
    if when.tzinfo is None:
        local = when.replace(tzinfo=tz, fold=1 if end and not bare_date else 0)
        back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back != when:
            raise ValueError(
                f"{raw} does not exist in {tz.key}: the clocks jump forward over it "
                "(give an offset, or a time outside the change)")
        when = local
    ms = int(when.astimezone(UTC).timestamp() * 1000)
    if end and bare_date:
        # the day's last ms in the venue's zone (a DST day is 23 or 25 hours long)
        next_day = datetime.combine(when.date() + timedelta(days=1), datetime.min.time(), tzinfo=when.tzinfo)
        ms = int(next_day.astimezone(UTC).timestamp() * 1000) - 1
    return ms


def local(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)


def fmt(ms: int | None, tz: ZoneInfo, *, date: bool = True, seconds: bool = True) -> str:
    """'2026-03-29 14:00:00 CEST' (the zone's abbreviation names it; '-' for no time)."""
    if ms is None:
        return "-"
    t = local(ms, tz)
    pattern = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return f"{t.strftime(pattern)} {zone_abbrev(t)}"


def fmt_clock(ms: int, tz: ZoneInfo) -> str:
    """'14:00:00 CEST': a live line's time, zone named."""
    return fmt(ms, tz, date=False)


def zone_abbrev(t: datetime) -> str:
    """CET/CEST/EST..., or 'UTC+05:30' where the zone has no letters (tzdata's '+0530')."""
    name = t.tzname() or ""
    if name and name[0] not in "+-":
        return name
    off = t.strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}" if off else "UTC"


def offset_text(ms: int, tz: ZoneInfo) -> str:
    """'UTC+02:00': the zone's offset from UTC at `ms`."""
    off = local(ms, tz).strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}" if off else "UTC"
