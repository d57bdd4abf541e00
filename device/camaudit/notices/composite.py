"""Put a rendered sign into a camera frame (for the marker bench and for tests).

`composite_sign` warps the sign onto a quadrilateral of the frame; `perspective_quad` gives
the quadrilateral of a sign of a given width seen at an angle (yaw about the vertical axis,
tilt about the horizontal axis).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Quad = Sequence[tuple[float, float]]  # top-left, top-right, bottom-right, bottom-left


def perspective_quad(
    cx: float,
    cy: float,
    width_px: float,
    aspect: float = math.sqrt(2.0),
    yaw_deg: float = 0.0,
    tilt_deg: float = 0.0,
    distance: float = 4.0,
) -> list[tuple[float, float]]:
    """Corners (TL, TR, BR, BL) of a width_px-wide sign centred at (cx, cy), turned by yaw/tilt,
    seen by a pinhole camera `distance` sign-widths away."""
    w, h = 1.0, aspect
    pts = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    ya, ti = math.radians(yaw_deg), math.radians(tilt_deg)
    out = []
    for x, y in pts:
        # yaw about the vertical axis, then tilt about the horizontal axis
        x1, z1 = x * math.cos(ya), x * math.sin(ya)
        y1, z2 = y * math.cos(ti) - z1 * math.sin(ti), y * math.sin(ti) + z1 * math.cos(ti)
        s = distance / (distance + z2)
        out.append((cx + x1 * s * width_px, cy + y1 * s * width_px))
    return out


def composite_sign(frame_bgr: np.ndarray, sign_bgr: np.ndarray, quad_px: Quad) -> np.ndarray:
    """A copy of the frame with the sign warped onto quad_px (TL, TR, BR, BL, frame pixels)."""
    quad = np.asarray(quad_px, dtype=np.float32).reshape(4, 2)
    # shrink the sign close to its on-frame size first, so the warp does not alias
    span = max(
        float(np.linalg.norm(quad[1] - quad[0])), float(np.linalg.norm(quad[2] - quad[3]))
    )
    sh, sw = sign_bgr.shape[:2]
    if span * 1.5 < sw:
        scale = span * 1.5 / sw
        sign_bgr = cv2.resize(
            sign_bgr, (max(2, round(sw * scale)), max(2, round(sh * scale))), interpolation=cv2.INTER_AREA
        )
        sh, sw = sign_bgr.shape[:2]
    fh, fw = frame_bgr.shape[:2]
    x0 = max(0, int(np.floor(quad[:, 0].min())) - 1)
    y0 = max(0, int(np.floor(quad[:, 1].min())) - 1)
    x1 = min(fw, int(np.ceil(quad[:, 0].max())) + 2)
    y1 = min(fh, int(np.ceil(quad[:, 1].max())) + 2)
    out = frame_bgr.copy()
    if x1 <= x0 or y1 <= y0:
        return out  # entirely outside the frame
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, quad - np.array([x0, y0], dtype=np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(sign_bgr, m, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    a = mask.astype(np.float32)[:, :, None] / 255.0
    patch = out[y0:y1, x0:x1].astype(np.float32) * (1.0 - a) + warped.astype(np.float32) * a
    out[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)
    return out


def quad_bbox(quad_px: Quad, frame_shape: tuple[int, ...], margin: float = 0.5) -> tuple[float, float, float, float]:
    """A relative watch region around the quad, grown by `margin` of its size on each side."""
    q = np.asarray(quad_px, dtype=np.float64)
    x0, y0 = q.min(axis=0)
    x1, y1 = q.max(axis=0)
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    fh, fw = frame_shape[:2]
    return (
        max(0.0, (x0 - mx) / fw),
        max(0.0, (y0 - my) / fh),
        min(1.0, (x1 + mx) / fw),
        min(1.0, (y1 + my) / fh),
    )
