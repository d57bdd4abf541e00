"""Plain value types shared by the pure core and the adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detection:
    """One face box in one frame, in frame pixels (x, y = top-left corner).

    `landmarks`: the detector's five points (x1, y1, ..., x5, y5: the eyes, the nose tip,
    the mouth corners, as YuNet orders them) in frame pixels, or None if it gives none.
    `sharpness`: the focus measure of the face box (detect.sharpness), set by the
    pipeline adapter from the frame's pixels; None when not measured.
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: tuple[float, ...] | None = None
    sharpness: float | None = None

    @property
    def face_px(self) -> int:
        """Face size as DESIGN.md defines it: the box height in pixels."""
        return round(self.h)

    @property
    def x2(self) -> float:
        return self.x + self.w

    @property
    def y2(self) -> float:
        return self.y + self.h

    def iou(self, other: Detection) -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x, other.x))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0
