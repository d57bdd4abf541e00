"""Consent policy (pure): for one feed at one moment, the verdict and every reason.

Reasons (sorted alphabetically, which is also their canonical order):
- ``no_notice``: no registered notice covers the feed.
- ``notice_missing``: notices cover the feed but none is seen posted at that moment. A notice
  whose state is MISSING, UNKNOWN (its watching feed is down, or it has not been checked yet),
  or absent from ``notice_states`` (unwatched) counts as *not shown*: the device cannot show
  that people were told, so an auditor must not count the capture as consented by it.
- ``outside_hours``: a covering notice states hours and the moment (in the venue's local time)
  is outside them.
- ``privacy_zone``: a face box overlaps a privacy zone of the feed (capture there is never
  acceptable: this reason holds even during a release session or with a valid notice).

Basis when consented: ``release:<ref>`` (an active release session for the feed; it wins over
notices) or ``notice:<id>`` (the first, by id, covering notice that is VISIBLE and within its
hours). With several covering notices the capture is consented if any one of them is valid;
when none is, the reasons are the union of what is wrong with each of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from camaudit.core.types import Detection

VerdictName = Literal["consented", "unconsented"]

NO_NOTICE = "no_notice"
NOTICE_MISSING = "notice_missing"
OUTSIDE_HOURS = "outside_hours"
PRIVACY_ZONE = "privacy_zone"
REASONS = (NO_NOTICE, NOTICE_MISSING, OUTSIDE_HOURS, PRIVACY_ZONE)

VISIBLE = "VISIBLE"

Point = tuple[float, float]
Polygon = Sequence[Point]


@dataclass(frozen=True)
class Verdict:
    verdict: VerdictName
    reasons: tuple[str, ...] = ()
    basis: str | None = None

    @property
    def consented(self) -> bool:
        return self.verdict == "consented"


@dataclass(frozen=True)
class Release:
    """A declared session covered by written releases: these feeds, [start_ms, end_ms)."""

    ref: str
    feeds: frozenset[str]
    start_ms: int
    end_ms: int

    def active(self, feed: str, ts_ms: int) -> bool:
        return feed in self.feeds and self.start_ms <= ts_ms < self.end_ms


@dataclass(frozen=True)
class Moment:
    """What the policy looks at: one feed, one instant, the faces in view."""

    feed: str
    ts_ms: int
    faces: Sequence[Detection] = ()
    frame_size: tuple[int, int] = (0, 0)  # (width, height) of the frame the boxes are in
    notice_states: Mapping[str, str] = field(default_factory=dict)  # id -> VISIBLE/MISSING/UNKNOWN
    releases: Sequence[Release] = ()  # releases known at that moment (e.g. from the CLI store)


# ---------------------------------------------------------------------------------------------
# Opening hours, stated in the venue's local time.

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    """A stated-hours spec does not parse; the message says which part."""


def _parse_days(spec: str) -> list[int]:
    s = spec.strip().lower()
    if s in ("daily", "all", "mon-sun"):
        return list(range(7))
    out: list[int] = []
    for part in s.split(","):
        part = part.strip()
        if "-" in part:
            a, _, b = part.partition("-")
            if a.strip() not in DAYS or b.strip() not in DAYS:
                raise HoursError(f"day range {part!r}: use mon..sun, e.g. 'mon-fri'")
            i, j = DAYS.index(a.strip()), DAYS.index(b.strip())
            k = i
            out.append(k)
            while k != j:
                k = (k + 1) % 7
                out.append(k)
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise HoursError(f"day {part!r}: use mon, tue, wed, thu, fri, sat, sun or 'daily'")
    return out


def _parse_time(text: str, *, end: bool) -> int:
    m = _TIME.match(text.strip())
    if not m:
        raise HoursError(f"time {text.strip()!r}: use HH:MM (24-hour)")
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and (mi != 0 or not end)):
        raise HoursError(f"time {text.strip()!r} is not a valid time of day")
    return (h * 60 + mi) * 60_000


@dataclass(frozen=True)
class WeeklyHours:
    """Open intervals in milliseconds since Monday 00:00 local time (end exclusive)."""

    intervals: tuple[tuple[int, int], ...]

    def is_open_local(self, local: datetime) -> bool:
        t = (
            local.weekday() * _DAY_MS
            + ((local.hour * 60 + local.minute) * 60 + local.second) * 1000
            + local.microsecond // 1000
        )
        return any(a <= t < b for a, b in self.intervals)

    def is_open(self, ts_ms: int, tz: ZoneInfo) -> bool:
        local = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).astimezone(tz)
        return self.is_open_local(local)


def overnight_ranges(spec: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, range) of every range in valid `hours` that runs past midnight ("17:00-09:00"):
    accepted, but check-config says so, since it is often a swapped "09:00-17:00"."""
    out = []
    for key, value in spec.items():
        for part in str(value).split(","):
            a, _, b = part.partition("-")
            if _parse_time(b, end=True) < _parse_time(a, end=False):
                out.append((str(key), part.strip()))
    return out


def parse_hours(spec: Mapping[str, str]) -> WeeklyHours:
    """``{"mon-fri": "07:00-19:00", "sat": "09:00-12:00,13:00-17:00"}`` -> WeeklyHours.

    A range whose end is before its start runs past midnight into the next day
    ("22:00-02:00"). "24:00" is allowed as an end. A day may appear in only one key.
    Raises HoursError naming the offending key.
    """
    if not spec:
        raise HoursError("no days given (omit `hours` for a notice that states no hours)")
    intervals: list[tuple[int, int]] = []
    seen: dict[int, str] = {}
    for key, value in spec.items():
        try:
            days = _parse_days(str(key))
            ranges: list[tuple[int, int]] = []
            for part in str(value).split(","):
                a, sep, b = part.partition("-")
                if not sep:
                    raise HoursError(f"range {part.strip()!r}: use HH:MM-HH:MM")
                start, end = _parse_time(a, end=False), _parse_time(b, end=True)
                if start == end:
                    raise HoursError(f"range {part.strip()!r} is empty")
                ranges.append((start, end))
        except HoursError as exc:
            raise HoursError(f"{key}: {exc}") from None
        for d in days:
            if d in seen:
                raise HoursError(f"{key}: {DAYS[d]} is already given by {seen[d]!r}")
            seen[d] = str(key)
            for start, end in ranges:
                lo = d * _DAY_MS + start
                hi = d * _DAY_MS + end if end > start else (d + 1) * _DAY_MS + end
                if hi <= _WEEK_MS:
                    intervals.append((lo, hi))
                else:  # Sunday night into Monday morning
                    intervals.append((lo, _WEEK_MS))
                    intervals.append((0, hi - _WEEK_MS))
    return WeeklyHours(tuple(sorted(intervals)))


def load_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')") from None


# ---------------------------------------------------------------------------------------------
# Geometry: does a face box overlap a polygon (both in pixels)?


def _clip(poly: list[Point], inside: Callable[[Point], bool], cut: Callable[[Point, Point], Point]) -> list[Point]:
    out: list[Point] = []
    for i, cur in enumerate(poly):
        prev = poly[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(cut(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(cut(prev, cur))
    return out


def _cut_x(x: float) -> Callable[[Point, Point], Point]:
    def cut(a: Point, b: Point) -> Point:
        t = (x - a[0]) / (b[0] - a[0])
        return (x, a[1] + t * (b[1] - a[1]))

    return cut


def _cut_y(y: float) -> Callable[[Point, Point], Point]:
    def cut(a: Point, b: Point) -> Point:
        t = (y - a[1]) / (b[1] - a[1])
        return (a[0] + t * (b[0] - a[0]), y)

    return cut


def overlap_area(box: Detection, poly: Sequence[Point]) -> float:
    """Area shared by the box and the polygon (Sutherland-Hodgman: the box is convex)."""
    pts: list[Point] = [(float(x), float(y)) for x, y in poly]
    pts = _clip(pts, lambda p: p[0] >= box.x, _cut_x(box.x))
    pts = _clip(pts, lambda p: p[0] <= box.x2, _cut_x(box.x2)) if pts else pts
    pts = _clip(pts, lambda p: p[1] >= box.y, _cut_y(box.y)) if pts else pts
    pts = _clip(pts, lambda p: p[1] <= box.y2, _cut_y(box.y2)) if pts else pts
    if len(pts) < 3:
        return 0.0
    s = 0.0
    for i, (x1, y1) in enumerate(pts):
        x2, y2 = pts[(i + 1) % len(pts)]
        s += x1 * y2 - x2 * y1
    return abs(s) / 2


def box_overlaps_polygon(box: Detection, poly: Sequence[Point]) -> bool:
    """True when the box and the polygon share area (touching edges only does not count)."""
    if box.w <= 0 or box.h <= 0 or len(poly) < 3:
        return False
    return overlap_area(box, poly) > 1e-9 * box.w * box.h


def faces_in_zones(
    faces: Iterable[Detection], zones: Sequence[Polygon], frame_size: tuple[int, int]
) -> int:
    """How many faces overlap at least one zone (zones in relative 0..1 coordinates)."""
    if not zones:
        return 0
    w, h = frame_size
    px = [[(x * w, y * h) for x, y in z] for z in zones]
    return sum(1 for f in faces if any(box_overlaps_polygon(f, z) for z in px))


# ---------------------------------------------------------------------------------------------
# The policy.


@dataclass(frozen=True)
class NoticeRule:
    """What the policy needs of one registered notice."""

    id: str
    covers: frozenset[str]
    hours: WeeklyHours | None = None  # None: the notice states no hours (always applies)


class Policy:
    """Decides a verdict for a moment from plain rule values (see module doc for the rules)."""

    def __init__(
        self,
        notices: Iterable[NoticeRule] = (),
        zones: Mapping[str, Sequence[Polygon]] | None = None,
        timezone: str = "UTC",
        releases: Iterable[Release] = (),
    ) -> None:
        self.notices: tuple[NoticeRule, ...] = tuple(sorted(notices, key=lambda n: n.id))
        self.zones: dict[str, tuple[Polygon, ...]] = {
            feed: tuple(polys) for feed, polys in (zones or {}).items()
        }
        self.timezone = timezone
        self.tz = load_timezone(timezone)
        self.releases: tuple[Release, ...] = tuple(releases)

    def notices_for(self, feed: str) -> tuple[NoticeRule, ...]:
        return tuple(n for n in self.notices if feed in n.covers)

    def decide(self, moment: Moment) -> Verdict:
        reasons: set[str] = set()
        zones = self.zones.get(moment.feed, ())
        if zones and moment.faces:
            if moment.frame_size[0] <= 0 or moment.frame_size[1] <= 0:
                raise ValueError("Moment.frame_size is needed to check privacy zones")
            if faces_in_zones(moment.faces, zones, moment.frame_size):
                reasons.add(PRIVACY_ZONE)

        release = next(
            (
                r
                for r in sorted((*self.releases, *moment.releases), key=lambda r: r.ref)
                if r.active(moment.feed, moment.ts_ms)
            ),
            None,
        )
        if release is not None:
            if reasons:
                return Verdict("unconsented", tuple(sorted(reasons)), None)
            return Verdict("consented", (), f"release:{release.ref}")

        covering = self.notices_for(moment.feed)
        if not covering:
            reasons.add(NO_NOTICE)
        basis: str | None = None
        notice_reasons: set[str] = set()
        for n in covering:
            wrong: set[str] = set()
            if moment.notice_states.get(n.id) != VISIBLE:
                wrong.add(NOTICE_MISSING)
            if n.hours is not None and not n.hours.is_open(moment.ts_ms, self.tz):
                wrong.add(OUTSIDE_HOURS)
            if not wrong and basis is None:
                basis = f"notice:{n.id}"
            notice_reasons |= wrong
        if basis is None:
            reasons |= notice_reasons
        if reasons:
            return Verdict("unconsented", tuple(sorted(reasons)), None)
        return Verdict("consented", (), basis)
