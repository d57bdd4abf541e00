"""Chart geometry shared by the HTML (SVG) and PDF (vector drawing) reports (pure).

`layout(bars, w, h)` places the stacked bars, axis ticks and labels in a w x h box with
y growing downwards; each renderer only draws the shapes it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from camaudit.report.model import VERDICTS, Bars, Segment

COLORS = {
    "consented": "#2e7d32",
    "unconsented": "#c62828",
    "open": "#757575",
    "VISIBLE": "#2e7d32",
    "MISSING": "#c62828",
    "UNKNOWN": "#9e9e9e",
    "not recorded": "#e0e0e0",
}
STATE_ORDER = ("VISIBLE", "MISSING", "UNKNOWN", "not recorded")


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # start / middle / end
    size: float = 9.0


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str = "#666666"


@dataclass(frozen=True)
class Shapes:
    width: float
    height: float
    rects: tuple[Rect, ...]
    labels: tuple[Label, ...]
    lines: tuple[Line, ...]


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if peak / step <= 5:
            return step
    return max(1, peak // 5)


def bar_chart(bars: Bars, w: float = 520, h: float = 190, y_label: str = "captures") -> Shapes:
    left, right, top, bottom = 44.0, 8.0, 26.0, 46.0
    pw, ph = w - left - right, h - top - bottom
    peak = max(bars.peak, 1)
    step = _nice_step(peak)
    ymax = ((peak + step - 1) // step) * step
    n = max(len(bars.labels), 1)
    slot = pw / n
    bw = min(slot * 0.8, 36.0)
    rects, labels, lines = [], [], []
    labels.append(Label(left, 12, bars.title, "start", 10.5))
    labels.append(Label(left + 4, top - 4, y_label, "start", 7.5))
    lines.append(Line(left, top + ph, left + pw, top + ph))
    lines.append(Line(left, top, left, top + ph))
    for v in range(0, ymax + 1, step):
        y = top + ph - ph * v / ymax
        lines.append(Line(left - 3, y, left, y))
        labels.append(Label(left - 5, y + 3, str(v), "end", 8))
    every = max(1, (n + 11) // 12)
    ticks = bars.ticks if len(bars.ticks) == n else tuple(lab if i % every == 0 else "" for i, lab in enumerate(bars.labels))
    groups = bars.groups if len(bars.groups) == n else ("",) * n
    for i, lab in enumerate(bars.labels):
        x = left + i * slot + (slot - bw) / 2
        y = top + ph
        for verdict in VERDICTS:
            c = bars.counts.get(verdict, ())[i] if i < len(bars.counts.get(verdict, ())) else 0
            if not c:
                continue
            bh = ph * c / ymax
            y -= bh
            rects.append(Rect(x, y, bw, bh, COLORS[verdict], f"{lab}: {c} {verdict}"))
        if ticks[i]:
            labels.append(Label(x + bw / 2, top + ph + 12, ticks[i], "middle", 8))
        if groups[i]:
            labels.append(Label(x + bw / 2, top + ph + 22, groups[i], "middle", 7))
    _legend(rects, labels, VERDICTS, left, h - 14, 90)
    return Shapes(w, h, tuple(rects), tuple(labels), tuple(lines))


def timeline_chart(
    segments: tuple[Segment, ...], t0: int, t1: int, fmt_left: str, fmt_right: str, w: float = 520
) -> Shapes:
    notices = sorted({s.notice for s in segments})
    left, right, row = 110.0, 8.0, 22.0
    h = 20 + row * len(notices) + 34
    pw = w - left - right
    span = max(t1 - t0, 1)
    rects, labels, lines = [], [], []
    for i, nid in enumerate(notices):
        y = 14 + i * row
        labels.append(Label(left - 6, y + 12, nid, "end", 8.5))
        for s in segments:
            if s.notice != nid:
                continue
            x0 = left + pw * (s.start - t0) / span
            x1 = left + pw * (s.end - t0) / span
            rects.append(Rect(x0, y + 2, max(x1 - x0, 0.8), row - 6, COLORS[s.state], s.state))
    base = 14 + row * len(notices)
    lines.append(Line(left, base, left + pw, base))
    labels.append(Label(left, base + 11, fmt_left, "start", 7.5))
    labels.append(Label(left + pw, base + 11, fmt_right, "end", 7.5))
    _legend(rects, labels, STATE_ORDER, left, h - 13, 95)
    return Shapes(w, h, tuple(rects), tuple(labels), tuple(lines))


def _legend(rects: list[Rect], labels: list[Label], keys: Iterable[str], x: float, y: float, step: float) -> None:
    """A colour swatch and its name for each key, left to right from (x, y)."""
    for key in keys:
        rects.append(Rect(x, y, 9, 9, COLORS[key], key))
        labels.append(Label(x + 12, y + 8, key, "start", 8))
        x += step


def to_svg(shapes: Shapes, aria: str) -> str:
    from html import escape

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(aria)}" '
        f'viewBox="0 0 {shapes.width:.0f} {shapes.height:.0f}" class="chart">'
    ]
    for ln in shapes.lines:
        parts.append(
            f'<line x1="{ln.x1:.1f}" y1="{ln.y1:.1f}" x2="{ln.x2:.1f}" y2="{ln.y2:.1f}" stroke="{ln.color}"/>'
        )
    for r in shapes.rects:
        parts.append(
            f'<rect x="{r.x:.1f}" y="{r.y:.1f}" width="{r.w:.1f}" height="{r.h:.1f}" fill="{r.color}">'
            f"<title>{escape(r.title)}</title></rect>"
        )
    for lab in shapes.labels:
        parts.append(
            f'<text x="{lab.x:.1f}" y="{lab.y:.1f}" text-anchor="{lab.anchor}" '
            f'font-size="{lab.size}">{escape(lab.text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
