"""What a report shows, derived from signed records alone (pure: no I/O, no clock).

`build(records, meta)` reads a contiguous run of one device's records and returns a
`Report`: the device and venue as the device journalled them, the notices in force
(`notice.registered`), every capture with its notice state at its start, the notice
VISIBLE/MISSING/UNKNOWN timeline, and identifiable captures per hour and per day by
verdict. Times are UTC ms; `Clock` formats them in the venue's zone and in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from camaudit.core import venue_time
from camaudit.core.alerts import reason_words
from camaudit.core.clock_sync import unsynced_seqs
from camaudit.core.identify import definition_words, tracks_in_words
from camaudit.core.record import Event
from camaudit.report.camera_health import BlindPeriod, blind_periods
from camaudit.report.limits import Seen, observe
from camaudit.report.notice_facts import NoticeAt, NoticeHistory, event_time
from camaudit.store.captures import CaptureRow

VERDICTS = ("consented", "unconsented", "open")


@dataclass(frozen=True)
class Clock:
    """Formats UTC ms in the venue's zone (named) and in UTC."""

    zone: str

    @property
    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(self.tz)

    def both(self, ms: int | None) -> str:
        """'2026-12-03 14:05:07 CET (13:05:07 UTC)'."""
        if ms is None:
            return "-"
        loc = self.local(ms)
        utc = datetime.fromtimestamp(ms / 1000, tz=UTC)
        same_day = loc.date() == utc.date()
        u = utc.strftime("%H:%M:%S UTC" if same_day else "%Y-%m-%d %H:%M:%S UTC")
        return f"{loc.strftime('%Y-%m-%d %H:%M:%S')} {venue_time.zone_abbrev(loc)} ({u})"

    def utc(self, ms: int | None) -> str:
        if ms is None:
            return ""
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def iso_local(self, ms: int | None) -> str:
        if ms is None:
            return ""
        return self.local(ms).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class NoticeVersion:
    """One `notice.registered` record: what the notice said from `since`."""

    notice: str
    since: int
    seq: int
    body: Mapping[str, Any]

    def text(self, key: str) -> str:
        v = self.body.get(key)
        if v is None:
            return ""
        if isinstance(v, list):
            return "; ".join(str(x) for x in v)
        if isinstance(v, dict):
            return ", ".join(f"{k}: {x}" for k, x in v.items())
        return str(v)

    def rows(self, fields: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """(label, text) of every field set, each translation after its field."""
        out = []
        if self.body.get("withdrawn"):
            out.append(("Status", "withdrawn from the device's configuration: it covers no camera from here on"))
        trans = self.body.get("translations") or {}
        for key, label in fields:
            if self.text(key):
                out.append((label, self.text(key)))
            for lang, tr in sorted(trans.items()) if isinstance(trans, Mapping) else ():
                v = tr.get(key) if isinstance(tr, Mapping) else None
                if v:
                    out.append((f"{label} ({lang})", "; ".join(v) if isinstance(v, list) else str(v)))
        return out

    def controllers(self) -> list[str]:
        """The controller in each language, each distinct text once."""
        out = [str(self.body.get("controller", ""))]
        for tr in (self.body.get("translations") or {}).values():
            c = tr.get("controller") if isinstance(tr, Mapping) else None
            if c and c not in out:
                out.append(str(c))
        return [c for c in out if c]


@dataclass(frozen=True)
class Segment:
    notice: str
    state: str  # VISIBLE / MISSING / UNKNOWN / "not recorded"
    start: int
    end: int


@dataclass(frozen=True)
class CaptureItem:
    row: CaptureRow
    notice_states: Mapping[str, str]  # notice id -> state at the capture's start
    reasons_words: tuple[str, ...]
    # for a notice NOT_REPORTED at the start: its first reported (state, time) during the capture
    first_reports: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # the capture's people from its signed track.end records, in words ("2 identifiable:
    # frontal, sharp, 54 and 61 px; 1 not identifiable: 1 turned away"); "" without records
    tracks_words: str = ""
    clock_unsynced: bool = False  # stamped before the device's clock was synchronised
    # the notices covering its camera (state, first report, hours): report.notice_facts
    notices: tuple[NoticeAt, ...] = ()

    @property
    def identifiable(self) -> bool:
        return self.row.identifiable_tracks > 0

    @property
    def verdict(self) -> str:
        return self.row.verdict or "open"

    def evidence_digests(self) -> list[str]:
        return [
            e[7:] for e in self.row.evidence if isinstance(e, str) and e.startswith("sha256:")
        ]


@dataclass(frozen=True)
class Bars:
    """A bar chart: one bar per label, stacked by verdict. `ticks` (optional, one per bar,
    "" for none) is what the x axis prints under a bar, `groups` a second line (e.g. the
    date under the first hour of each day); without them every n-th label is printed."""

    title: str
    labels: tuple[str, ...]
    counts: Mapping[str, tuple[int, ...]]  # verdict -> count per label
    ticks: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def peak(self) -> int:
        return max((sum(c[i] for c in self.counts.values()) for i in range(len(self.labels))), default=0)


@dataclass(frozen=True)
class Report:
    device: str
    public_key: str
    venue: str | None
    clock: Clock
    feed: str | None
    since: int | None
    until: int | None
    created: int
    signed_by: str
    first_seq: int
    last_seq: int
    first_time: int
    last_time: int
    records: int
    notices: tuple[NoticeVersion, ...]
    captures: tuple[CaptureItem, ...]
    timeline: tuple[Segment, ...]
    per_hour: Bars
    per_day: Bars
    missing_evidence: tuple[str, ...]
    evidence_on_device: bool
    camera_health: tuple[BlindPeriod, ...] = ()  # covered / moved / blurred periods
    seen: Seen | None = None  # the audit's own coverage (report.limits)
    pdf_cert: str | None = None  # SHA-256 fingerprint of the report's signing certificate
    deletions: tuple[str, ...] = ()  # "records before T were deleted on D under policy P: ..."
    # what "identifiable" meant, with the thresholds the track records state
    identifiable_definition: tuple[str, ...] = ()

    @property
    def controllers(self) -> list[str]:
        out: list[str] = []
        for n in self.notices:
            for c in n.controllers():
                if c not in out:
                    out.append(c)
        return out

    def verdict_counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for c in self.captures:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    def identifiable_counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for c in self.captures:
            if c.identifiable:
                out[c.verdict] = out.get(c.verdict, 0) + 1
        return out


def latest_captures(events: Sequence[Event], feed: str | None) -> list[CaptureRow]:
    latest: dict[tuple[str | None, str], Event] = {}
    for ev in events:
        if (feed is None or ev.feed == feed) and ev.type.startswith("capture.") and "capture" in ev.body:
            latest[(ev.feed, str(ev.body["capture"]))] = ev
    rows = [CaptureRow.from_event(ev) for ev in latest.values()]
    rows.sort(key=lambda r: (r.start if r.start is not None else r.ts, r.seq))
    return rows


def _in_span(row: CaptureRow, since: int | None, until: int | None) -> bool:
    start = row.start if row.start is not None else row.ts
    end = row.end if row.end is not None else start
    return (since is None or end >= since) and (until is None or start <= until)


def _zone(events: Sequence[Event]) -> tuple[str, str | None]:
    zone, venue = "UTC", None
    for ev in events:
        if ev.type in ("device.online", "notice.registered"):
            z = ev.body.get("timezone")
            if isinstance(z, str) and z:
                zone = z
        if ev.type == "device.online" and isinstance(ev.body.get("venue"), str):
            venue = ev.body["venue"]
    return zone, venue


def build(records: Sequence[Event], meta: Mapping[str, Any]) -> Report:
    """The report of `records` (one device's, seq order). meta: device, public_key,
    created (ms), signed_by, and optionally feed, since, until, missing_evidence,
    evidence_on_device."""
    if not records:
        raise ValueError("a report needs at least one record")
    zone, venue = _zone(records)
    clock = Clock(zone)
    feed = meta.get("feed")
    since, until = meta.get("since"), meta.get("until")
    versions: list[NoticeVersion] = []
    shown: dict[str, Mapping[str, Any]] = {}
    for ev in records:
        if ev.type != "notice.registered":
            continue
        nid = str(ev.body.get("notice"))
        if shown.get(nid) == ev.body:
            continue  # the daily re-statement of an unchanged notice
        shown[nid] = ev.body
        versions.append(NoticeVersion(nid, event_time(ev), ev.seq, ev.body))
    notices = tuple(versions)
    history = NoticeHistory.from_records(records)
    covers = history.covers
    changes = list(history.changes)  # (time, notice, state)
    first_time = min(event_time(e) for e in records)
    last_time = max(event_time(e) for e in records)
    rows = [r for r in latest_captures(records, feed) if _in_span(r, since, until)]
    tracks = tracks_by_capture(records, feed)
    late = unsynced_seqs(records)
    late_captures = {(ev.feed, str(ev.body.get("capture"))) for ev in records
                     if ev.seq in late and ev.type.startswith("capture.")}
    items = []
    for r in rows:
        start = r.start if r.start is not None else r.ts
        end = r.end if r.end is not None else r.ts
        facts = history.at(r.feed, start, end)
        states = {n.notice: n.state for n in facts}
        firsts = {n.notice: n.first_report for n in facts if n.first_report is not None}
        mine = tracks.get((r.feed, r.capture), [])
        items.append(CaptureItem(r, states, tuple(reason_words(x) for x in r.reasons), firsts,
                                 tracks_in_words(mine) if mine else "",
                                 clock_unsynced=(r.feed, r.capture) in late_captures, notices=facts))
    timeline = _timeline(changes, sorted(covers), first_time, last_time)
    per_hour, per_day = _charts(items, clock, first_time, last_time)
    return Report(
        device=str(meta.get("device") or records[0].device),
        public_key=str(meta.get("public_key", "")),
        venue=venue,
        clock=clock,
        feed=feed,
        since=since,
        until=until,
        created=int(meta.get("created", last_time)),
        signed_by=str(meta.get("signed_by", "device")),
        first_seq=records[0].seq,
        last_seq=records[-1].seq,
        first_time=first_time,
        last_time=last_time,
        records=len(records),
        notices=notices,
        captures=tuple(items),
        timeline=timeline,
        per_hour=per_hour,
        per_day=per_day,
        missing_evidence=tuple(meta.get("missing_evidence") or ()),
        evidence_on_device=bool(meta.get("evidence_on_device", False)),
        camera_health=blind_periods(records, feed),
        seen=observe(records, feed),
        pdf_cert=str(meta["pdf_cert"]) if meta.get("pdf_cert") else None,
        deletions=tuple(str(d) for d in meta.get("deletions") or ()),
        identifiable_definition=tuple(definition_words(
            [t for it in items for t in tracks.get((it.row.feed, it.row.capture), [])])),
    )


def tracks_by_capture(records: Sequence[Event], feed: str | None) -> dict[tuple[str | None, str], list[Mapping[str, Any]]]:
    """The signed `track.end` bodies of `records` by (feed, capture), in record order."""
    out: dict[tuple[str | None, str], list[Mapping[str, Any]]] = {}
    for ev in records:
        if ev.type == "track.end" and (feed is None or ev.feed == feed) and "capture" in ev.body:
            out.setdefault((ev.feed, str(ev.body["capture"])), []).append(ev.body)
    return out


def _timeline(
    changes: list[tuple[int, str, str]], notices: list[str], t0: int, t1: int
) -> tuple[Segment, ...]:
    out = []
    for nid in notices:
        state, since = "not recorded", t0
        for ts, n, st in changes:
            if n != nid or st == state:
                continue
            if ts > since:
                out.append(Segment(nid, state, since, ts))
            state, since = st, max(ts, t0)
        out.append(Segment(nid, state, since, max(t1, since)))
    return tuple(out)


HOUR_MS = 3_600_000
MAX_CHART_DAYS = 92  # the per-hour chart shows at most this many days (the per-day chart all)


CHART_SANE = (946_684_800_000, 4_102_444_800_000)  # 2000..2100: a start past these is not charted


def _start_of(c: CaptureItem) -> int:
    return c.row.start if c.row.start is not None else c.row.ts


def _axis_labels(labels: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(tick, group) per bucket -> the tick labels shown (every _tick_every-th bucket) and the
    group labels (a shown bucket's group, when it differs from the last one shown)."""
    every = _tick_every(len(labels))
    ticks, groups, last = [], [], ""
    for i, (tick, group) in enumerate(labels):
        shown = i % every == 0
        ticks.append(tick if shown else "")
        groups.append(group if shown and group != last else "")
        if shown:
            last = group
    return ticks, groups


def _tick_every(n: int, target: int = 8) -> int:
    return max(1, (n + target - 1) // target)


def _charts(items: list[CaptureItem], clock: Clock, t0: int, t1: int) -> tuple[Bars, Bars]:
    """Time series of identifiable captures by verdict along [t0, t1] (the report's span), in
    the venue's zone, empty buckets included: one bar per local hour (the last
    MAX_CHART_DAYS days of a longer span, said in its title) and one per local day."""
    zone = clock.zone
    charted = [c for c in items if c.identifiable and CHART_SANE[0] <= _start_of(c) <= CHART_SANE[1]]
    starts = [_start_of(c) for c in charted]
    lo, hi = min([t0, *starts]), max([t1, *starts])
    # hours: local hour starts, stepping whole hours from the first (exact in every zone
    # whose DST shift is a whole hour)
    first_local = clock.local(lo).replace(minute=0, second=0, microsecond=0)
    h0 = int(first_local.timestamp() * 1000)
    n_hours = (hi - h0) // HOUR_MS + 1
    cut = ""
    if n_hours > MAX_CHART_DAYS * 24:
        skip = n_hours - MAX_CHART_DAYS * 24
        h0, n_hours = h0 + skip * HOUR_MS, MAX_CHART_DAYS * 24
        cut = f", last {MAX_CHART_DAYS} days of the span"
    per_hour = {v: [0] * n_hours for v in VERDICTS}
    # days: local calendar days (a DST day is 23 or 25 hours)
    d0 = clock.local(lo).date()
    n_days = (clock.local(hi).date() - d0).days + 1
    per_day = {v: [0] * n_days for v in VERDICTS}
    for c in charted:
        if c.verdict not in per_hour:  # a verdict outside the closed set (an odd signed record):
            continue                   # listed in the tables as recorded, not charted
        start = _start_of(c)
        hi_idx = (start - h0) // HOUR_MS
        if 0 <= hi_idx < n_hours:
            per_hour[c.verdict][hi_idx] += 1
        per_day[c.verdict][(clock.local(start).date() - d0).days] += 1
    hour_locals = [clock.local(h0 + i * HOUR_MS) for i in range(n_hours)]
    hour_ticks, hour_groups = _axis_labels([(loc.strftime("%H:%M"), loc.strftime("%Y-%m-%d"))
                                            for loc in hour_locals])
    day_list = [d0.fromordinal(d0.toordinal() + i) for i in range(n_days)]
    day_ticks, day_groups = _axis_labels([(d.strftime("%d"), d.strftime("%Y-%m")) for d in day_list])
    return (
        Bars(
            f"Identifiable captures per hour{cut} (x: hour starting, {zone})",
            tuple(loc.strftime("%Y-%m-%d %H:%M %Z") for loc in hour_locals),
            {v: tuple(per_hour[v]) for v in VERDICTS},
            tuple(hour_ticks), tuple(hour_groups),
        ),
        Bars(
            f"Identifiable captures per day (x: day, {zone})",
            tuple(d.strftime("%Y-%m-%d") for d in day_list),
            {v: tuple(per_day[v]) for v in VERDICTS},
            tuple(day_ticks), tuple(day_groups),
        ),
    )
