"""Evidence frames and snapshots that are safe for the faces the detector MISSED too.

The safe view (measured by bench/privacy.py, table in PRIVACY.md):
1. the whole frame is pixelated to a coarse grid of `SCENE_CELLS` cells on its longer side
   (area-averaged cells, hard block edges), so no face, found or not, keeps the detail a
   recogniser or a person would need; the layout of the scene (where people stand, doors,
   furniture, the notice) stays readable;
2. every detected face box, enlarged by `MARGIN`, is filled flat with its mean colour;
3. evidence frames then get each detected box outlined, so the frame still shows where the
   faces were.
Nothing of the raw frame is written: the safe view is made in memory before it touches disk.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from camaudit.core.types import Detection

log = logging.getLogger(__name__)

SCENE_CELLS = 48  # cells on the frame's longer side (bench/privacy.py: 0 faces found at 48)
MARGIN = 0.25  # grow each detected box by this share on every side: hair, ears, chin
BOX = (0, 220, 0)  # green outline of a detected face (BGR)


def cell_px(shape: tuple[int, ...], cells: int = SCENE_CELLS) -> int:
    """Side of one pixel-block for a frame of `shape` (at least 2 px)."""
    return max(2, math.ceil(max(shape[0], shape[1]) / cells))


def safe_view(image: np.ndarray, boxes: Iterable[Detection], cells: int = SCENE_CELLS) -> np.ndarray:
    """A new image: the whole frame pixelated to `cells` blocks on its longer side, then every
    (enlarged) detected box filled flat. `image` is not modified."""
    import cv2

    h, w = image.shape[:2]
    c = cell_px(image.shape, cells)
    gw, gh = max(1, math.ceil(w / c)), max(1, math.ceil(h / c))
    # pad to whole cells by edge replication so every block averages exactly c x c pixels
    padded = cv2.copyMakeBorder(image, 0, gh * c - h, 0, gw * c - w, cv2.BORDER_REPLICATE)
    small = cv2.resize(padded, (gw, gh), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (gw * c, gh * c), interpolation=cv2.INTER_NEAREST)[:h, :w].copy()
    for x0, y0, x1, y1 in _enlarged(boxes, w, h):
        roi = out[y0:y1, x0:x1]
        roi[...] = roi.mean(axis=(0, 1)).astype(out.dtype)
    return out


def _enlarged(boxes: Iterable[Detection], w: int, h: int) -> list[tuple[int, int, int, int]]:
    out = []
    for b in boxes:
        mx, my = b.w * MARGIN, b.h * MARGIN
        x0, y0 = max(0, int(b.x - mx)), max(0, int(b.y - my))
        x1, y1 = min(w, int(b.x2 + mx + 1)), min(h, int(b.y2 + my + 1))
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1, y1))
    return out


def evidence_image(image: np.ndarray, boxes: Iterable[Detection]) -> np.ndarray:
    """The safe view with each detected face box outlined."""
    import cv2

    boxes = list(boxes)
    out = safe_view(image, boxes)
    th = max(1, round(min(out.shape[:2]) / 300))
    for d in boxes:
        cv2.rectangle(out, (round(d.x), round(d.y)), (round(d.x2), round(d.y2)), BOX, th)
    return out


def save_evidence(image: np.ndarray, boxes: Iterable[Detection], directory: Path) -> str:
    """Make the safe evidence image, encode as JPEG, store as <sha256>.jpg; return "sha256:<hex>"."""
    import cv2

    ok, buf = cv2.imencode(".jpg", evidence_image(image, boxes), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise OSError("could not encode evidence frame")
    data = buf.tobytes()
    digest = hashlib.sha256(data).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{digest}.jpg"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    log.info("evidence frame %s stored (safe view, %d cells)", digest[:12], SCENE_CELLS)
    return f"sha256:{digest}"
