"""Per-feed time series of captures by verdict, as SVG rendered on the server (pure).

The x axis is time along the span shown (the page's From / To filter, else the first to the
last capture of all feeds, so every feed's chart shares one axis), one bar per bucket,
empty buckets included:
- hour buckets while the span is at most MAX_HOURS hours: labelled by the hour's start
  in the venue's zone, with the date under the first hour of each day;
- else day buckets (the venue's local calendar days: a DST day has 23 or 25 hours), at most
  MAX_DAYS of them; a longer span shows its last MAX_DAYS days and says so on the chart.
The store counts captures per UTC hour (hub/store/hub_store.py `hourly`): for a zone whose offset is
a whole number of hours those are exactly the local hours; in a zone offset by :30 or :45
the buckets are still whole hours, labelled by their local start (e.g. 05:30), and an hour
that straddles local midnight counts in the day it starts in.
Both axes are labelled: y = captures (with ticks), x = hour starting / day, zone named.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from html import escape

HOUR_MS = 3_600_000
MAX_HOURS = 72
MAX_DAYS = 92
SANE = (1_577_836_800_000, 4_102_444_800_000)  # 2020-01-01 .. 2100-01-01 UTC: the hub stores no other ts
VERDICT_ORDER = ("consented", "unknown", "unconsented")
COLORS = {"unconsented": "#c0392b", "consented": "#27ae60", "unknown": "#7f8c8d"}


@dataclass(frozen=True)
class Series:
    """Buckets along a span: `starts` (UTC ms, each bucket's start), `counts[verdict][i]`."""

    unit: str  # "hour" | "day"
    starts: tuple[int, ...]
    counts: dict[str, tuple[int, ...]]
    hidden_days: int = 0  # days of the span before the first bucket shown (span > MAX_DAYS)

    def total(self, i: int) -> int:
        return sum(c[i] for c in self.counts.values())


def _local(ms: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(tz)


def _day_start(ms: int, tz: tzinfo) -> int:
    """UTC ms of the local midnight starting the day `ms` falls in."""
    d = _local(ms, tz).date()
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def _next_day(start_ms: int, tz: tzinfo) -> int:
    d = _local(start_ms, tz).date() + timedelta(days=1)
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def _prev_day(start_ms: int, tz: tzinfo) -> int:
    d = _local(start_ms, tz).date() - timedelta(days=1)
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def span_of(rows: list[tuple[str, int, str, int]], since_ms: int | None, until_ms: int | None) -> tuple[int, int]:
    """[start, end) of the chart: the filter's bounds, else the data's first and last hour."""
    hours = [h for _, h, _, _ in rows]
    start = since_ms if since_ms is not None else min(hours)
    end = until_ms if until_ms is not None else max(hours) + HOUR_MS
    start, end = (min(max(t, SANE[0]), SANE[1]) for t in (start, end))  # a typed-in year 9999
    return start, max(end, start + 1)


def series(hours: dict[int, dict[str, int]], tz: tzinfo, start: int, end: int) -> Series:
    """Bucket per-UTC-hour counts `{hour start ms: {verdict: n}}` along [start, end)."""
    verdicts = sorted({v for c in hours.values() for v in c},
                      key=lambda v: (VERDICT_ORDER.index(v) if v in VERDICT_ORDER else 9, v))
    first_hour = start - start % HOUR_MS
    if (end - first_hour + HOUR_MS - 1) // HOUR_MS <= MAX_HOURS:
        starts = list(range(first_hour, end, HOUR_MS))
        return Series("hour", tuple(starts),
                      {v: tuple(hours.get(h, {}).get(v, 0) for h in starts) for v in verdicts})
    first = _day_start(start, tz)
    days = [_day_start(end - 1, tz)]  # back from the span's last day: at most MAX_DAYS steps
    while len(days) < MAX_DAYS and days[0] > first:
        days.insert(0, _prev_day(days[0], tz))
    hidden = 0
    if days[0] > first:
        hidden = (_local(days[0], tz).date() - _local(first, tz).date()).days
    index = {d: i for i, d in enumerate(days)}
    counts = {v: [0] * len(days) for v in verdicts}
    for h, by in hours.items():
        i = index.get(_day_start(h, tz))
        if i is None:
            continue  # before the days shown (counted in hidden_days' caption) or outside
        for v, n in by.items():
            counts[v][i] += n
    return Series("day", tuple(days), {v: tuple(c) for v, c in counts.items()}, hidden)


def feed_charts(
    rows: list[tuple[str, int, str, int]], tz: tzinfo = UTC, *,
    since_ms: int | None = None, until_ms: int | None = None,
) -> dict[str, str]:
    """rows: (feed, UTC hour start ms, verdict, count) -> {feed: svg markup}, all on one span."""
    if not rows:
        return {}
    by_feed: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for feed, hour, verdict, n in rows:
        by_feed[feed][hour][verdict] = by_feed[feed][hour].get(verdict, 0) + n
    start, end = span_of(rows, since_ms, until_ms)
    return {feed: _svg(feed, series(hours, tz, start, end), tz) for feed, hours in sorted(by_feed.items())}


def device_feed_charts(
    rows: list[tuple[str, str, int, str, int]], tz: tzinfo = UTC, *,
    since_ms: int | None = None, until_ms: int | None = None,
) -> list[dict[str, str]]:
    """rows: (device, feed, UTC hour start ms, verdict, count) -> [{device, feed, svg}] by
    device then feed, all on one span: one chart per device AND feed, so same-named feeds of
    different devices are never added up."""
    if not rows:
        return []
    by: dict[tuple[str, str], dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for device, feed, hour, verdict, n in rows:
        by[(device, feed)][hour][verdict] = by[(device, feed)][hour].get(verdict, 0) + n
    start, end = span_of([(f, h, v, n) for _, f, h, v, n in rows], since_ms, until_ms)
    return [{"device": d, "feed": f, "svg": _svg(f"{f} of device {d}", series(hours, tz, start, end), tz)}
            for (d, f), hours in sorted(by.items())]


def _zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz.tzname(None) or "UTC")


def _ticks(top: int) -> list[int]:
    if top <= 4:
        return list(range(top + 1))
    return sorted({0, top // 2, top})


def _svg(feed: str, s: Series, tz: tzinfo) -> str:
    n = len(s.starts)
    top = max((s.total(i) for i in range(n)), default=0) or 1
    w, h, pad_l, pad_b, pad_t = 640, 220, 52, 58, 14
    base = h - pad_b
    scale = (base - pad_t) / top
    bw = min(40.0, (w - pad_l - 8) / max(n, 1))
    zone = escape(_zone_name(tz))
    what = "hour starting" if s.unit == "hour" else "day"
    parts = [
        f'<svg class="chart" role="img" aria-label="captures per {s.unit}, feed {escape(feed)}, '
        f'times in {zone}" data-unit="{s.unit}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad_l}" y1="{base}" x2="{w - 4}" y2="{base}" stroke="#999"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{base}" stroke="#999"/>',
        f'<text class="axis-title y" x="12" y="{(pad_t + base) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(pad_t + base) / 2:.0f})">captures</text>',
        f'<text class="axis-title x" x="{(pad_l + w) / 2:.0f}" y="{h - 4}" text-anchor="middle">'
        f"{what} ({zone})</text>",
    ]
    if s.hidden_days:
        parts.append(f'<text class="axis note" x="{w - 4}" y="{pad_t - 2}" text-anchor="end">'
                     f"last {n} days of the span; {s.hidden_days} earlier day(s) not shown: "
                     "narrow From / To</text>")
    for t in _ticks(top):
        y = base - t * scale
        parts.append(f'<text class="axis tick" x="{pad_l - 6}" y="{y + 3:.1f}" text-anchor="end">{t}</text>')
        if t:
            parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{w - 4}" y2="{y:.1f}" stroke="#eee"/>')
    every = max(1, (n + 7) // 8)
    last_group = ""
    for i, start in enumerate(s.starts):
        x = pad_l + i * bw
        y = float(base)
        local = _local(start, tz)
        when = local.strftime("%Y-%m-%d %H:%M %Z") if s.unit == "hour" else local.strftime("%Y-%m-%d")
        for verdict, counts in s.counts.items():
            c = counts[i]
            if not c:
                continue
            bh = c * scale
            y -= bh
            parts.append(
                f'<rect class="bar {escape(verdict)}" data-start="{start}" x="{x + 1:.1f}" y="{y:.1f}" '
                f'width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" fill="{COLORS.get(verdict, "#7f8c8d")}">'
                f"<title>{when}: {c} {escape(verdict)}</title></rect>"
            )
        if i % every == 0 and x <= w - 40:  # a label past the right edge would be cut off
            tick = local.strftime("%H:%M") if s.unit == "hour" else local.strftime("%d")
            parts.append(f'<text class="axis" x="{x:.1f}" y="{base + 14}">{tick}</text>')
            group = local.strftime("%Y-%m-%d") if s.unit == "hour" else local.strftime("%Y-%m")
            if group != last_group:
                parts.append(f'<text class="axis day" x="{x:.1f}" y="{base + 28}">{group}</text>')
                last_group = group
    parts.append("</svg>")
    return "".join(parts)
