"""Evidence frames: the whole frame with every face irreversibly blurred before it touches disk."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from camaudit.core.types import Detection

log = logging.getLogger(__name__)

MARGIN = 0.25  # grow each box by this share on every side: hair, ears, chin


def blur_faces(image: np.ndarray, boxes: Iterable[Detection]) -> np.ndarray:
    """A copy of `image` where each (enlarged) face box is pixelated, then smoothed.

    Pixelating to at most 6x6 cells first destroys the detail a recogniser would need; the
    blur only hides the block edges.
    """
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    for b in boxes:
        mx, my = b.w * MARGIN, b.h * MARGIN
        x0, y0 = max(0, int(b.x - mx)), max(0, int(b.y - my))
        x1, y1 = min(w, int(b.x2 + mx + 1)), min(h, int(b.y2 + my + 1))
        if x1 <= x0 or y1 <= y0:
            continue
        roi = out[y0:y1, x0:x1]
        cells = cv2.resize(roi, (6, 6), interpolation=cv2.INTER_AREA)
        block = cv2.resize(cells, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(x1 - x0, y1 - y0) // 4) | 1)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(block, (k, k), 0)
    return out


def save_evidence(image: np.ndarray, boxes: Iterable[Detection], directory: Path) -> str:
    """Blur, encode as JPEG, store as <sha256>.jpg; return "sha256:<hex>"."""
    import cv2

    blurred = blur_faces(image, boxes)
    ok, buf = cv2.imencode(".jpg", blurred, [cv2.IMWRITE_JPEG_QUALITY, 85])
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
    return f"sha256:{digest}"
