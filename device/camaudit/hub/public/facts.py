"""The public facts of one notice, derived from stored values only (pure: no I/O, no clock).

Inputs are what the hub store holds: the notice's newest `notice.registered` body (the text
the device signed), the newest feed.up/feed.down and camera.* record type per feed, and
event counts in 15-minute buckets (every zone offset in tzdata is a multiple of 15 min, so
a bucket never straddles a local midnight). Output: plain JSON values, whose only times are
local dates (YYYY-MM-DD): no capture time finer than a day, no image, nothing about a person,
no device-signed free text but the notice's registered text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from camaudit.core.venue_time import local

DAYS = 30
BUCKET_MS = 15 * 60_000
DAY_MS = 86_400_000
HEALTH_TYPES = ("camera.covered", "camera.moved", "camera.blurred")
CAMERA_TYPES = (*HEALTH_TYPES, "camera.restored")
FEED_TYPES = ("feed.up", "feed.down")
COUNTED = ("captures", "unconsented", "alerts", "camera_health")
# the registered fields a passer-by sees, in this order (notices/marker.py PRINTED_FIELDS)
NOTICE_FIELDS = ("controller", "purposes", "rights", "contact", "full_notice", "impacts",
                 "legitimate_interest", "dpo", "hours", "retention_days", "languages")
HEALTH_WORDS = {"ok": "running, picture fine", "covered": "covered (dark or uniform picture)",
                "moved": "turned away from its scene", "blurred": "blurred (lens smeared)",
                "down": "not running (no frames)", "unknown": "no report yet"}


def registered_text(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The notice's registered text (the printed fields, typed), or None when it was never
    registered or has been withdrawn."""
    if not body or body.get("withdrawn"):
        return None
    out: dict[str, Any] = {}
    for key in NOTICE_FIELDS:
        v = body.get(key)
        if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and key == "retention_days"):
            out[key] = v
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[key] = list(v)
        elif isinstance(v, dict) and key == "hours" and all(isinstance(x, str) for x in v.values()):
            out[key] = {str(k): x for k, x in v.items()}
        else:
            out[key] = None
    out["hash"] = body.get("hash") if isinstance(body.get("hash"), str) else None
    return out


def covers(body: Mapping[str, Any] | None) -> list[str]:
    raw = (body or {}).get("covers")
    return sorted({str(c) for c in raw if isinstance(c, str)}) if isinstance(raw, list) else []


def camera_state(last_feed: str | None, last_camera: str | None, device_online: bool) -> str:
    """One camera's state from its newest feed.* and camera.* record types: ok, down,
    covered, moved, blurred or unknown (nothing heard, or the device is offline)."""
    if not device_online or last_feed is None:
        return "down" if last_feed == "feed.down" else "unknown"
    if last_feed == "feed.down":
        return "down"
    if last_camera in HEALTH_TYPES:
        return last_camera.split(".", 1)[1]
    return "ok"


def window_start(now_ms: int, tz: ZoneInfo, days: int = DAYS) -> tuple[int, list[date]]:
    """(UTC ms of the first counted local midnight, the `days` local dates up to today)."""
    today = local(now_ms, tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    return int(start.timestamp() * 1000), [first + timedelta(days=i) for i in range(days)]


def day_counts(buckets: Iterable[tuple[int, str, int]], tz: ZoneInfo, days: list[date]) -> list[dict[str, Any]]:
    """[{day, captures, unconsented, alerts, camera_health}] for each of `days` from
    (bucket start ms, what, count) rows; `what` is one of COUNTED."""
    table = {d: dict.fromkeys(COUNTED, 0) for d in days}
    for start_ms, what, n in buckets:
        d = local(start_ms, tz).date()
        if d in table and what in table[d]:
            table[d][what] += int(n)
    return [{"day": d.isoformat(), **table[d]} for d in days]


def dtpr(text: Mapping[str, Any], *, page_url: str, json_url: str, form_url: str) -> dict[str, Any]:
    """DTPR-style facts (Digital Trust for Places & Routines): each field says where it comes
    from (docs/public-page.md)."""
    retention = text.get("retention_days")
    return {
        "accountable_organisation": text.get("controller"),
        "purpose": text.get("purposes") or [],
        "technology_type": "camera",
        "data_type": ["video (not stored by the audit)", "face detections: counts, sizes, scores"],
        "identifiability": "face detection, no recognition",
        "retention": (f"{retention} days (as the notice states)" if isinstance(retention, int)
                      else "not stated on the notice"),
        "access": {"contact": text.get("contact"), "dpo": text.get("dpo"),
                   "full_notice": text.get("full_notice"), "was_i_filmed": form_url,
                   "page": page_url, "json": json_url},
    }


def osm_tags(device: str, feed: str, settings: Mapping[str, Any], operator: str | None) -> dict[str, str]:
    """OpenStreetMap tags of one camera: man_made=surveillance, surveillance:type=camera,
    surveillance (indoor/outdoor/public, default public) and surveillance:zone from the
    hub's `public.cameras` setting, camera:direction only when configured, operator from that
    setting or the notice's controller."""
    tags = {"man_made": "surveillance", "surveillance:type": "camera",
            "surveillance": str(settings.get("surveillance") or "public")}
    if settings.get("zone"):
        tags["surveillance:zone"] = str(settings["zone"])
    if settings.get("direction") is not None:
        tags["camera:direction"] = str(settings["direction"])
    if settings.get("mount"):
        tags["camera:mount"] = str(settings["mount"])
    if operator:
        tags["operator"] = operator
    return tags


def public_facts(
    device: str,
    notice: str,
    registration: Mapping[str, Any] | None,
    *,
    notice_state: str | None,
    device_online: bool,
    last_types: Mapping[str, tuple[str | None, str | None]],
    buckets: Iterable[tuple[int, str, int]],
    tz: ZoneInfo,
    now_ms: int,
    urls: Mapping[str, str],
    cameras: Mapping[str, Mapping[str, Any]] | None = None,
    operator: str | None = None,
) -> dict[str, Any] | None:
    """Everything the public page, its JSON and its OSM tags show of one notice; None when
    the notice was never registered by that device (or is withdrawn).
    `last_types`: feed -> (newest feed.* type, newest camera.* type);
    `cameras`: the hub's per-camera OSM settings, keyed 'device/feed'."""
    text = registered_text(registration)
    if text is None:
        return None
    _, days = window_start(now_ms, tz)
    feeds = covers(registration)
    cams = []
    for feed in feeds:
        last_feed, last_cam = last_types.get(feed, (None, None))
        state = camera_state(last_feed, last_cam, device_online)
        settings = (cameras or {}).get(f"{device}/{feed}", {})
        cams.append({"feed": feed, "state": state, "words": HEALTH_WORDS[state],
                     "running": state not in ("down", "unknown"),
                     "healthy": state == "ok",
                     "osm": osm_tags(device, feed, settings, operator or text.get("controller"))})
    rows = day_counts(buckets, tz, days)
    totals = {k: sum(r[k] for r in rows) for k in COUNTED}
    return {
        "schema": "camaudit.public/1",
        "device": device,
        "notice": notice,
        "timezone": tz.key,
        "today": days[-1].isoformat(),
        "notice_registered": text,
        "notice_state": notice_state if notice_state in ("VISIBLE", "MISSING", "UNKNOWN") else None,
        "cameras": cams,
        "days": rows,
        "totals": totals,
        "dtpr": dtpr(text, page_url=urls["page"], json_url=urls["json"], form_url=urls["form"]),
    }
