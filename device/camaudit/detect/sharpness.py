"""Sharpness of a face box, measured from the frame's pixels (an adapter: needs OpenCV).

The face box, in grey, is resized to 32 x 32 (area averaging), so the measure is about
detail relative to the face's own size, not the face's size in pixels. The detail is the
mean absolute Laplacian of that patch; it is divided by the patch's contrast (its standard
deviation), so a dim but well-focused face is not called blurred for being dark. Below
CONTRAST_FLOOR grey levels the contrast no longer counts down: there the Laplacian is
mostly compression and sensor noise (a defocused face in a dark audience has a standard
deviation of 7 grey levels and a noise "detail" that, divided by 7, looks as crisp as a
sharp face), so detail is measured against the floor instead. Defocus and motion blur
remove the high frequencies the Laplacian sees; the ratio falls. The core gets only the
number (Detection.sharpness) and compares it with detector.min_sharpness. How the floor
and the threshold were chosen, with the separation measured: docs/tracks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from camaudit.core.types import Detection

PATCH = 32
CONTRAST_FLOOR = 16.0  # grey levels (0-255) of the patch's standard deviation


def detail_and_contrast(frame: np.ndarray, det: Detection) -> tuple[float, float] | None:
    """(mean absolute Laplacian, standard deviation) of the box's 32 x 32 grey patch of a
    BGR (or grey) uint8 frame; None for an empty box."""
    import cv2

    fh, fw = frame.shape[:2]
    x1, y1 = max(0, int(det.x)), max(0, int(det.y))
    x2, y2 = min(fw, int(round(det.x2))), min(fh, int(round(det.y2)))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    crop = frame[y1:y2, x1:x2]
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    patch = cv2.resize(crop, (PATCH, PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)
    lap = cv2.Laplacian(patch, cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    return float(np.abs(lap).mean()), float(patch.std())


def sharpness(frame: np.ndarray, det: Detection) -> float | None:
    """The measure for one box: detail / max(contrast, CONTRAST_FLOOR); None for an empty box."""
    dc = detail_and_contrast(frame, det)
    if dc is None:
        return None
    detail, contrast = dc
    return detail / max(contrast, CONTRAST_FLOOR)


def with_sharpness(
    frame: np.ndarray, dets: list[Detection], min_h: float = 0, settled: Sequence[Detection] = ()
) -> list[Detection]:
    """`dets` with .sharpness set for boxes at least `min_h` tall that do not overlap
    (IoU >= 0.5) one of `settled` (the others are not measured: they fail on size anyway,
    or belong to a track already identifiable)."""
    return [
        replace(d, sharpness=sharpness(frame, d))
        if d.h >= min_h and not any(b.iou(d) >= 0.5 for b in settled)
        else d
        for d in dets
    ]
