"""Per-feed chart of captures per hour by verdict, as SVG rendered on the server.

Both axes are labelled: y = captures in that hour (with ticks), x = the hour's start in the
venue's zone (named), with the date under the first hour of each day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, tzinfo
from html import escape

HOUR_MS = 3_600_000
MAX_BARS = 48
COLORS = {"unconsented": "#c0392b", "consented": "#27ae60", "unknown": "#7f8c8d"}


def feed_charts(rows: list[tuple[str, int, str, int]], tz: tzinfo = UTC) -> dict[str, str]:
    """rows: (feed, hour start ms, verdict, count) -> {feed: svg markup}."""
    by_feed: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for feed, hour, verdict, n in rows:
        by_feed[feed][hour][verdict] = by_feed[feed][hour].get(verdict, 0) + n
    return {feed: _svg(feed, hours, tz) for feed, hours in sorted(by_feed.items())}


def _zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz.tzname(None) or "UTC")


def _ticks(top: int) -> list[int]:
    if top <= 4:
        return list(range(top + 1))
    return sorted({0, top // 2, top})


def _svg(feed: str, hours: dict[int, dict[str, int]], tz: tzinfo) -> str:
    last = max(hours)
    first = max(min(hours), last - (MAX_BARS - 1) * HOUR_MS)
    slots = list(range(first, last + HOUR_MS, HOUR_MS))
    top = max(sum(hours.get(h, {}).values()) for h in slots) or 1
    w, h, pad_l, pad_b, pad_t = 640, 220, 52, 58, 14
    base = h - pad_b
    scale = (base - pad_t) / top
    bw = min(40.0, (w - pad_l - 8) / len(slots))
    zone = escape(_zone_name(tz))
    parts = [
        f'<svg class="chart" role="img" aria-label="captures per hour, feed {escape(feed)}, '
        f'times in {zone}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{pad_l}" y1="{base}" x2="{w - 4}" y2="{base}" stroke="#999"/>',
        f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{base}" stroke="#999"/>',
        f'<text class="axis-title y" x="12" y="{(pad_t + base) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(pad_t + base) / 2:.0f})">captures</text>',
        f'<text class="axis-title x" x="{(pad_l + w) / 2:.0f}" y="{h - 4}" text-anchor="middle">'
        f"hour starting ({zone})</text>",
    ]
    for t in _ticks(top):
        y = base - t * scale
        parts.append(f'<text class="axis tick" x="{pad_l - 6}" y="{y + 3:.1f}" text-anchor="end">{t}</text>')
        if t:
            parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{w - 4}" y2="{y:.1f}" stroke="#eee"/>')
    every = max(1, len(slots) // 8)
    last_day = ""
    for i, hour in enumerate(slots):
        x = pad_l + i * bw
        y = float(base)
        local = datetime.fromtimestamp(hour / 1000, UTC).astimezone(tz)
        when = local.strftime("%Y-%m-%d %H:%M %Z")
        for verdict in ("consented", "unknown", "unconsented"):
            n = hours.get(hour, {}).get(verdict, 0)
            if not n:
                continue
            bh = n * scale
            y -= bh
            parts.append(
                f'<rect class="bar {verdict}" x="{x + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                f'height="{bh:.1f}" fill="{COLORS.get(verdict, "#7f8c8d")}">'
                f"<title>{when}: {n} {verdict}</title></rect>"
            )
        if i % every == 0:
            parts.append(f'<text class="axis" x="{x:.1f}" y="{base + 14}">{local.strftime("%H:%M")}</text>')
            day = local.strftime("%Y-%m-%d")
            if day != last_day:
                parts.append(f'<text class="axis day" x="{x:.1f}" y="{base + 28}">{day}</text>')
                last_day = day
    parts.append("</svg>")
    return "".join(parts)
