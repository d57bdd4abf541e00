#!/usr/bin/env python3
"""Draw bench/accuracy.py's results as one PNG: speed against hard AP, recall by face
height, and recall of faces >= 32 px at precision >= 0.9, with the issue's targets marked.

    .venv/bin/python bench/plot_accuracy.py models/accuracy_wider_dev.json -o models/accuracy_wider_dev.png

(bench/accuracy.py --plot FILE.png draws the same straight after a run.)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONTS = Path(__file__).resolve().parents[1] / "device" / "camaudit" / "notices" / "fonts"
W, H = 1500, 1000
OURS = ("int8", "fp32", "int8_320", "int8_1024", "accurate", "centerface_int8")
COLOURS = {
    "int8": (200, 30, 30),
    "fp32": (240, 130, 40),
    "int8_320": (230, 180, 0),
    "int8_1024": (150, 40, 160),
    "accurate": (120, 0, 60),
    "centerface_int8": (0, 150, 150),
    "yunet_cv2": (30, 90, 200),
    "centerface": (20, 140, 40),
    "haar": (110, 110, 110),
}
GRID = (225, 225, 225)
INK = (20, 20, 20)


@lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


class Panel:
    """A plot area at (x0, y0)-(x1, y1) in pixels mapping data ranges to it."""

    def __init__(self, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], xr: tuple[float, float],
                 yr: tuple[float, float], log_x: bool = False) -> None:  # fmt: skip
        self.d, self.box, self.xr, self.yr, self.log_x = draw, box, xr, yr, log_x

    def x(self, v: float) -> float:
        lo, hi = self.xr
        if self.log_x:
            v, lo, hi = math.log10(v), math.log10(lo), math.log10(hi)
        return self.box[0] + (v - lo) / (hi - lo) * (self.box[2] - self.box[0])

    def y(self, v: float) -> float:
        lo, hi = self.yr
        return self.box[3] - (v - lo) / (hi - lo) * (self.box[3] - self.box[1])

    def frame(self, title: str, xlabel: str, ylabel: str, yticks: list[float], xticks: list[float]) -> None:
        x0, y0, x1, y1 = self.box
        small = font(15)
        for t in yticks:
            self.d.line([(x0, self.y(t)), (x1, self.y(t))], fill=GRID)
            self.d.text((x0 - 8, self.y(t)), f"{t:g}", font=small, fill=INK, anchor="rm")
        for t in xticks:
            self.d.line([(self.x(t), y0), (self.x(t), y1)], fill=GRID)
            self.d.text((self.x(t), y1 + 8), f"{t:g}", font=small, fill=INK, anchor="mt")
        self.d.rectangle(self.box, outline=INK)
        self.d.text((x0, y0 - 34), title, font=font(19, bold=True), fill=INK)
        self.d.text(((x0 + x1) / 2, y1 + 32), xlabel, font=small, fill=INK, anchor="mt")
        self.d.text((x0 - 60, y0 - 12), ylabel, font=small, fill=INK, anchor="ls")

    def dashed_v(self, v: float, label: str, colour: tuple[int, int, int]) -> None:
        x = self.x(v)
        for y in range(self.box[1], self.box[3], 12):
            self.d.line([(x, y), (x, min(y + 6, self.box[3]))], fill=colour, width=2)
        self.d.text((x + 4, self.box[1] + 4), label, font=font(14), fill=colour)

    def dashed_h(self, v: float, label: str, colour: tuple[int, int, int], left: bool = False) -> None:
        y = self.y(v)
        for x in range(self.box[0], self.box[2], 12):
            self.d.line([(x, y), (min(x + 6, self.box[2]), y)], fill=colour, width=2)
        at = (self.box[0] + 4, y - 4) if left else (self.box[2] - 4, y - 4)
        self.d.text(at, label, font=font(14), fill=colour, anchor="lb" if left else "rb")


class Labels:
    """Places text labels next to points without overlapping the ones already placed."""

    def __init__(self, draw: ImageDraw.ImageDraw) -> None:
        self.d = draw
        self.taken: list[tuple[float, float, float, float]] = []

    def put(self, x: float, y: float, text: str, colour: tuple[int, int, int]) -> None:
        f = font(14)
        for dy in (0, 18, -18, 36, -36, 54, -54, 72, -72):
            box = self.d.textbbox((x + 11, y + dy), text, font=f, anchor="lm")
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in self.taken):
                break
        self.taken.append(box)
        if dy:
            self.d.line([(x + 6, y), (x + 11, y + dy)], fill=colour)
        self.d.text((x + 11, y + dy), text, font=f, fill=colour, anchor="lm")


def draw(doc: Mapping[str, Any]) -> Image.Image:
    dets: Mapping[str, Any] = doc["detectors"]
    meta = doc.get("meta", {})
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((40, 18), f"Face detectors on {meta.get('images', '?')} images of {Path(str(meta.get('set', '?'))).name} "
           f"({meta.get('faces_valid_hard', '?')} faces), {meta.get('long_side', '?')} px long side, 1 thread",
           font=font(22, bold=True), fill=INK)  # fmt: skip
    d.text((40, 50), "ours: filled circles; peers: squares. Dashed: the issue's targets, from the peers of the same run.",
           font=font(16), fill=INK)  # fmt: skip

    # 1: speed against hard AP
    ms = [r["ms_per_image"] for r in dets.values()]
    p = Panel(d, (110, 130, 760, 560), (min(ms) / 1.5, max(ms) * 1.5), (0.0, 1.0), log_x=True)
    ticks = [t for t in (2, 5, 10, 20, 50, 100, 200, 500) if p.xr[0] <= t <= p.xr[1]]
    p.frame("Hard AP against time per image", "ms per image (CPU time of the detect call, log scale)",
            "AP hard", [0, 0.2, 0.4, 0.6, 0.8, 1.0], ticks)  # fmt: skip
    if "yunet_cv2" in dets:
        p.dashed_v(dets["yunet_cv2"]["ms_per_image"] / 2, "2x faster than yunet_cv2", COLOURS["yunet_cv2"])
    if "centerface" in dets:
        p.dashed_v(dets["centerface"]["ms_per_image"] / 1.5, "1.5x faster than centerface", COLOURS["centerface"])
        p.dashed_h(dets["centerface"]["ap"]["hard"], "centerface hard AP", COLOURS["centerface"], left=True)
    labels = Labels(d)
    points = {n: (p.x(r["ms_per_image"]), p.y(r["ap"]["hard"])) for n, r in dets.items()}
    labels.taken += [(x - 9, y - 9, x + 9, y + 9) for x, y in points.values()]  # labels avoid markers
    for name, r in sorted(dets.items(), key=lambda kv: -kv[1]["ap"]["hard"]):
        x, y = points[name]
        c = COLOURS.get(name, INK)
        if name in OURS:
            d.ellipse((x - 8, y - 8, x + 8, y + 8), fill=c)
        else:
            d.rectangle((x - 7, y - 7, x + 7, y + 7), fill=c)
        labels.put(x, y, f"{name} {r['ms_per_image']:.1f} ms", c)

    # 2: recall by face height at each operating threshold
    bins = list(next(iter(dets.values()))["recall_by_height"])
    q = Panel(d, (880, 130, 1460, 560), (-0.3, len(bins) - 0.7), (0.0, 1.0))
    q.frame("Recall by face height (at each operating threshold)", "face height in the 640 px frame, px",
            "recall", [0, 0.2, 0.4, 0.6, 0.8, 1.0], [])  # fmt: skip
    for i, b in enumerate(bins):
        d.text((q.x(i), q.box[3] + 8), b, font=font(15), fill=INK, anchor="mt")
    for name, r in dets.items():
        pts = [(q.x(i), q.y(v)) for i, v in enumerate(r["recall_by_height"].values()) if v is not None]
        c = COLOURS.get(name, INK)
        d.line(pts, fill=c, width=4 if name in ("int8", "accurate") else 2)
        for x, y in pts:
            d.ellipse((x - 4, y - 4, x + 4, y + 4), fill=c)
    for i, name in enumerate(dets):  # legend, two columns low in the panel (few lines there)
        lx = q.x(2.45) + (i % 2) * 165
        ly = q.y(0.36) + (i // 2) * 22
        d.line([(lx, ly), (lx + 24, ly)], fill=COLOURS.get(name, INK), width=4)
        d.text((lx + 30, ly), name, font=font(14), fill=INK, anchor="lm")

    # 3: recall of faces >= 32 px at precision >= 0.9, one bar each
    names = list(dets)
    r = Panel(d, (110, 680, 1460, 930), (0, len(names)), (0.0, 1.0))
    r.frame("Recall of faces >= 32 px at precision >= 0.9 (best threshold)", "", "recall",
            [0, 0.2, 0.4, 0.6, 0.8, 1.0], [])  # fmt: skip
    if "centerface" in dets:
        r.dashed_h(dets["centerface"]["recall_ge32_at_p90"], "centerface: the accurate mode's bar", COLOURS["centerface"],
                   left=True)  # fmt: skip
    for i, name in enumerate(names):
        v = dets[name]["recall_ge32_at_p90"]
        x0, x1 = r.x(i + 0.2), r.x(i + 0.8)
        d.rectangle((x0, r.y(v), x1, r.y(0)), fill=COLOURS.get(name, INK))
        d.text(((x0 + x1) / 2, r.y(v) - 4), f"{v:.3f}", font=font(14), fill=INK, anchor="mb")
        d.text(((x0 + x1) / 2, r.box[3] + 8), name, font=font(15), fill=INK, anchor="mt")
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path, help="bench/accuracy.py --json-out file")
    ap.add_argument("-o", "--out", type=Path, required=True, help="the PNG to write")
    args = ap.parse_args()
    try:
        doc = json.loads(args.results.read_text())
        if not doc["detectors"]:
            raise ValueError("no detectors")
        img = draw(doc)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        sys.exit(f"{args.results}: not a bench/accuracy.py result: {exc}")
    img.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
