"""Per-feed chart of captures per hour by verdict, as inline SVG rendered on the server."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from html import escape

HOUR_MS = 3_600_000
MAX_BARS = 48
COLORS = {"unconsented": "#c0392b", "consented": "#27ae60", "unknown": "#7f8c8d"}


def feed_charts(rows: list[tuple[str, int, str, int]]) -> dict[str, str]:
    """rows: (feed, hour start ms, verdict, count) -> {feed: svg markup}."""
    by_feed: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for feed, hour, verdict, n in rows:
        by_feed[feed][hour][verdict] = by_feed[feed][hour].get(verdict, 0) + n
    return {feed: _svg(feed, hours) for feed, hours in sorted(by_feed.items())}


def _svg(feed: str, hours: dict[int, dict[str, int]]) -> str:
    last = max(hours)
    first = max(min(hours), last - (MAX_BARS - 1) * HOUR_MS)
    slots = list(range(first, last + HOUR_MS, HOUR_MS))
    top = max(sum(hours.get(h, {}).values()) for h in slots) or 1
    w, h, pad_l, pad_b = 640, 180, 36, 28
    y: float
    bw = min(40.0, (w - pad_l - 8) / len(slots))
    parts = [
        f'<svg class="chart" role="img" aria-label="captures per hour, feed {escape(feed)}" '
        f'viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{pad_l}" y="12" class="axis">max {top}/h</text>',
        f'<line x1="{pad_l}" y1="{h - pad_b}" x2="{w - 4}" y2="{h - pad_b}" stroke="#999"/>',
    ]
    scale = (h - pad_b - 20) / top
    for i, hour in enumerate(slots):
        x = pad_l + i * bw
        y = h - pad_b
        for verdict in ("consented", "unknown", "unconsented"):
            n = hours.get(hour, {}).get(verdict, 0)
            if not n:
                continue
            bh = n * scale
            y -= bh
            when = datetime.fromtimestamp(hour / 1000, UTC).strftime("%Y-%m-%d %H:00")
            parts.append(
                f'<rect class="bar {verdict}" x="{x + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" '
                f'height="{bh:.1f}" fill="{COLORS.get(verdict, "#7f8c8d")}">'
                f"<title>{when} UTC: {n} {verdict}</title></rect>"
            )
        if i % max(1, len(slots) // 8) == 0:
            label = datetime.fromtimestamp(hour / 1000, UTC).strftime("%H:00")
            parts.append(f'<text x="{x:.1f}" y="{h - 10}" class="axis">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)
