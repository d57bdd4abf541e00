"""`camaudit snapshot`: one frame with a coordinate grid, the privacy zones, the notices'
watch regions and the detected faces, so zones and regions can be set by looking.

The frame is the safe view of camaudit.pipeline.evidence (whole frame pixelated coarsely,
detected faces filled flat), so a face the detector missed is not kept in clear either."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from camaudit.core.types import Detection

ZONE = (0, 0, 255)  # red (BGR)
REGION = (255, 160, 0)  # blue
FACE = (0, 220, 0)  # green
GRID = (255, 255, 255)


def _label(img: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int], scale: float) -> None:
    th = max(1, round(scale * 2))
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, color, th, cv2.LINE_AA)


def annotate_snapshot(
    frame_bgr: np.ndarray,
    faces: Sequence[Detection],
    zones: Sequence[Sequence[tuple[float, float]]] = (),
    regions: Mapping[str, tuple[float, float, float, float]] | None = None,
    grid_step: float = 0.1,
) -> np.ndarray:
    """A new image: the safe view first (irreversible), then grid, zones, regions, boxes.

    Zones and regions are in relative (0..1) coordinates, like the config."""
    from camaudit.pipeline.evidence import safe_view

    out = safe_view(frame_bgr, faces)
    h, w = out.shape[:2]
    scale = max(0.35, min(w, h) / 900)
    # grid every grid_step, labelled in relative coordinates
    overlay = out.copy()
    n = round(1 / grid_step)
    for i in range(1, n):
        x, y = round(i * grid_step * w), round(i * grid_step * h)
        cv2.line(overlay, (x, 0), (x, h - 1), GRID, 1)
        cv2.line(overlay, (0, y), (w - 1, y), GRID, 1)
    out = cv2.addWeighted(overlay, 0.45, out, 0.55, 0)
    for i in range(1, n):
        v = f"{i * grid_step:.1f}"
        _label(out, v, (round(i * grid_step * w) + 2, round(14 * scale * 2)), GRID, scale)
        _label(out, v, (2, round(i * grid_step * h) - 3), GRID, scale)
    # privacy zones: translucent red fill + outline
    fill = out.copy()
    for k, z in enumerate(zones):
        pts = np.array([[round(x * w), round(y * h)] for x, y in z], dtype=np.int32)
        cv2.fillPoly(fill, [pts], ZONE)
        cv2.polylines(out, [pts], True, ZONE, max(1, round(2 * scale)))
        _label(out, f"privacy zone {k}", (int(pts[:, 0].min()) + 3, int(pts[:, 1].min()) + round(64 * scale)), ZONE, scale)
    out = cv2.addWeighted(fill, 0.25, out, 0.75, 0)
    for nid, (x0, y0, x1, y1) in (regions or {}).items():
        p1, p2 = (round(x0 * w), round(y0 * h)), (round(x1 * w) - 1, round(y1 * h) - 1)
        cv2.rectangle(out, p1, p2, REGION, max(1, round(2 * scale)))
        _label(out, f"notice {nid}", (p1[0] + 3, p2[1] - 4), REGION, scale)
    for d in faces:
        p1, p2 = (round(d.x), round(d.y)), (round(d.x2), round(d.y2))
        cv2.rectangle(out, p1, p2, FACE, max(1, round(2 * scale)))
        _label(out, f"{d.face_px}px", (p1[0], max(10, p1[1] - 4)), FACE, scale)
    return out
