"""The hub's own safe view of an evidence frame a device sent (hub/evidence/inbox.py).

The hub never keeps bytes a device made. A frame is decoded (its size read from the header
and bounded first), its pixels are pixelated again by the device's own code
(camaudit.pipeline.evidence.safe_view, no boxes: the same `SCENE_CELLS` grid on the same
frame size), and the frame is accepted only if its pixels already ARE that safe view: in
every cell, the luma of the pixels the device did not draw as a green box outline is fitted
by at most four flat rectangles (the cell's pixelated value and the flat fill of a face box
crossing it) within `PIXEL_TOL` levels RMS (`evidence_not_safe_view` otherwise). What the hub stores and serves is a fresh JPEG of its
own pixelation (no EXIF, no thumbnail, nothing after the end of the image): a face hidden
in a thumbnail, after the image's end, or in an unpixelated patch never reaches the store.
The device's green box outlines and flat fills are averaged into their cells by that
re-pixelation. The check refuses a device that sends more than the safe view; the guarantee
is the re-pixelation: a patch within the tolerance (a face at 12% contrast) is stored only
as 48-cell blocks, like every frame.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from camaudit.pipeline.evidence import SCENE_CELLS, cell_px, safe_view

MAX_SIDE = 4096
MAX_PIXELS = 4096 * 3072  # a 12 MP Pi HQ camera frame fits
MIN_SIDE = 16
PIXEL_TOL = 22.0  # RMS luma error allowed in any one cell after the flat-rectangle fit
# (measured: at most 19.0 over 148 device safe views of the eight shared clips at 320x180 to
# 4096x2304; 27 to 43 for a 200 px raw face, upright or turned, pasted into a safe view)
QUALITY = 85


class NotSafe(Exception):
    """(reason, detail): why a frame is refused (the inbox turns it into a reject)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def decode(data: bytes) -> np.ndarray:
    """The BGR pixels of a JPEG of sane dimensions; the size is checked from the header
    before any pixel is decoded (a decompression bomb costs nothing)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as im:
            w, h = im.size
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE) or w * h > MAX_PIXELS:
                raise NotSafe("evidence_bad_size", f"{w}x{h}")
            rgb = np.asarray(im.convert("RGB"))
    except NotSafe:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met at open
        raise NotSafe("evidence_bad_size", str(exc)[:120]) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise NotSafe("evidence_not_jpeg", str(exc)[:120]) from None
    out: np.ndarray = np.ascontiguousarray(rgb[:, :, ::-1])
    return out


def _luma(bgr: np.ndarray) -> np.ndarray:
    b, g, r = (bgr[:, :, i].astype(np.float32) for i in range(3))
    out: np.ndarray = 0.114 * b + 0.587 * g + 0.299 * r
    return out


def _outline(bgr: np.ndarray) -> np.ndarray:
    """Pixels the device may have drawn as a green box outline (and their neighbours, which
    JPEG's chroma smears), excluded from the comparison: the hub's re-pixelation averages
    them into their cells anyway, so nothing they hide is stored."""
    import cv2

    b, g, r = (bgr[:, :, i].astype(np.int16) for i in range(3))
    green = ((g - np.maximum(b, r)) > 60).astype(np.uint8)
    return cv2.dilate(green, np.ones((5, 5), np.uint8)).astype(bool)


def cell_errors(bgr: np.ndarray, pixelated: np.ndarray, cells: int = SCENE_CELLS) -> np.ndarray:
    """Per cell of the pixelation grid: the mean |luma difference| over the pixels that are
    not green outline (0 for a cell that is all outline)."""
    h, w = bgr.shape[:2]
    c = cell_px(bgr.shape, cells)
    gw, gh = max(1, math.ceil(w / c)), max(1, math.ceil(h / c))
    diff = np.abs(_luma(bgr) - _luma(pixelated))
    keep = ~_outline(bgr)
    d = np.zeros((gh * c, gw * c), np.float32)
    k = np.zeros((gh * c, gw * c), np.float32)
    d[:h, :w] = np.where(keep, diff, 0.0)
    k[:h, :w] = keep
    sums = d.reshape(gh, c, gw, c).sum(axis=(1, 3))
    counts = k.reshape(gh, c, gw, c).sum(axis=(1, 3))
    out: np.ndarray = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return out


def split_rms(luma: np.ndarray, keep: np.ndarray) -> float:
    """RMS luma error of the best fit of one cell by at most four flat rectangles (one
    vertical and one horizontal cut): a cell the device's flat-filled face box crosses."""
    n = float(keep.sum())
    if n == 0:
        return 0.0
    kv = np.where(keep, luma, 0.0).astype(np.float64)

    def integral(a: np.ndarray) -> np.ndarray:
        out = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
        out[1:, 1:] = a.cumsum(0).cumsum(1)
        return out

    p1, pn = integral(kv), integral(keep.astype(np.float64))
    total2 = float((kv * kv).sum())
    best = total2

    def rects(p: np.ndarray) -> list[np.ndarray]:
        h, w = p.shape[0] - 1, p.shape[1] - 1
        a = p[:, :]  # a[yc, xc] = sum over [0:yc, 0:xc]
        top = p[:, w:w + 1] - a
        left = p[h:h + 1, :] - a
        rest = p[h, w] - p[:, w:w + 1] - p[h:h + 1, :] + a
        return [a, top, left, rest]

    fit = np.zeros_like(p1)
    for s1, sn in zip(rects(p1), rects(pn), strict=True):
        fit += np.divide(s1 * s1, sn, out=np.zeros_like(s1), where=sn > 0)
    best = float(total2 - fit.max())
    return math.sqrt(max(best, 0.0) / n)


def hub_view(data: bytes, tol: float = PIXEL_TOL) -> tuple[int, int, bytes]:
    """(width, height, the hub's JPEG) of a device frame whose pixels already are the safe
    view; NotSafe otherwise."""
    bgr = decode(data)
    pixelated = safe_view(bgr, [])
    worst = worst_cell(bgr, pixelated)
    if worst[0] > tol:
        raise NotSafe("evidence_not_safe_view",
                      f"cell at ({worst[1]},{worst[2]}) is {worst[0]:.1f} luma levels (RMS) from "
                      f"flat (at most {tol:g}): not the device's safe view")
    return bgr.shape[1], bgr.shape[0], encode(pixelated)


def worst_cell(bgr: np.ndarray, pixelated: np.ndarray, tol: float = PIXEL_TOL) -> tuple[float, int, int]:
    """(error, x, y) of the cell farthest from the safe view: cells whose mean error against
    the pixelation passes `tol` are fitted by flat rectangles (split_rms)."""
    c = cell_px(bgr.shape)
    coarse = cell_errors(bgr, pixelated)
    luma, keep = _luma(bgr), ~_outline(bgr)
    worst = (0.0, 0, 0)
    for gy, gx in zip(*np.nonzero(coarse > tol / 4), strict=True):
        y0, x0 = int(gy) * c, int(gx) * c
        err = split_rms(luma[y0:y0 + c, x0:x0 + c], keep[y0:y0 + c, x0:x0 + c])
        if err > worst[0]:
            worst = (err, x0, y0)
    return worst


def encode(bgr: np.ndarray) -> bytes:
    """A baseline JPEG of these pixels with no metadata (a JFIF header only)."""
    from PIL import Image

    buf = io.BytesIO()
    img: Any = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    img.save(buf, "JPEG", quality=QUALITY, optimize=False, progressive=False)
    return buf.getvalue()
