"""The "was I filmed?" form, checked and bounded (pure: the zone and `now_ms` are given).

Fields: `since` and `until` (local date-times in the venue's zone, as a browser's
datetime-local sends them), `camera` (one of the notice's cameras) and `contact` (how the
operator can answer: an e-mail address, a phone number or a postal address; free text up
to MAX_CONTACT characters). The window is at most MAX_WINDOW_H hours long and lies within
the last MAX_AGE_DAYS days. An error names the field, never the value sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from camaudit.core import venue_time

MAX_BODY = 2048  # bytes of the urlencoded form
MAX_FIELD = 64  # characters of since/until/camera
MAX_CONTACT = 200
MAX_WINDOW_H = 24
MAX_AGE_DAYS = 31
FIELDS = ("since", "until", "camera", "contact")


class RequestRefused(ValueError):
    """The form cannot be recorded; the message names the field only."""


@dataclass(frozen=True)
class FilmedRequest:
    feed: str
    since_ms: int
    until_ms: int
    contact: str


def _one(form: Mapping[str, Sequence[str]], key: str, limit: int) -> str:
    values = form.get(key) or []
    if len(values) != 1:
        raise RequestRefused(f"{key}: give it exactly once")
    v = values[0].strip()
    if not v:
        raise RequestRefused(f"{key}: it is empty")
    if len(v) > limit:
        raise RequestRefused(f"{key}: longer than {limit} characters")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in v):
        raise RequestRefused(f"{key}: control characters are not accepted")
    return v


def check_request(form: Mapping[str, Sequence[str]], cameras: Sequence[str], tz: ZoneInfo,
                  now_ms: int) -> FilmedRequest:
    unknown = set(form) - set(FIELDS)
    if unknown:
        raise RequestRefused("the form has fields it does not ask for")
    feed = _one(form, "camera", MAX_FIELD)
    if feed not in cameras:
        raise RequestRefused("camera: not one of this notice's cameras")
    times = {}
    for key in ("since", "until"):
        try:
            times[key] = venue_time.parse(_one(form, key, MAX_FIELD), tz)
        except ValueError:
            raise RequestRefused(f"{key}: not a date and time (YYYY-MM-DDTHH:MM)") from None
    since, until = times["since"], times["until"]
    if until <= since:
        raise RequestRefused("until: it must be after since")
    if until - since > MAX_WINDOW_H * 3_600_000:
        raise RequestRefused(f"until: the window is longer than {MAX_WINDOW_H} hours")
    if since < now_ms - MAX_AGE_DAYS * 86_400_000 or since > now_ms:
        raise RequestRefused(f"since: it must lie within the last {MAX_AGE_DAYS} days")
    contact = _one(form, "contact", MAX_CONTACT)
    return FilmedRequest(feed, since, min(until, now_ms), contact)
