"""Letterboxing: fit a frame into a fixed model input without changing its aspect ratio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camaudit.core.types import Detection


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was placed on the model canvas: scaled by `scale`, then padded right/bottom.

    The frame's top-left corner stays at canvas (0, 0), so mapping back is a division.
    """

    scale: float
    frame_w: int
    frame_h: int
    canvas_w: int
    canvas_h: int

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Map N x 4 (x, y, w, h) canvas boxes to frame pixels, clipped to the frame."""
        out = boxes.astype(np.float64, copy=True) / self.scale
        if len(out) == 0:
            return out
        x1 = np.clip(out[:, 0], 0, self.frame_w)
        y1 = np.clip(out[:, 1], 0, self.frame_h)
        x2 = np.clip(out[:, 0] + out[:, 2], 0, self.frame_w)
        y2 = np.clip(out[:, 1] + out[:, 3], 0, self.frame_h)
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)

    def detections(
        self, boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray | None = None
    ) -> list[Detection]:
        """Canvas boxes (N x 4) and their scores (and N x 10 landmarks, if given) as
        Detections in frame pixels; boxes that fall wholly outside the frame (zero width or
        height once clipped) are dropped."""
        mapped = self.to_frame(boxes)
        marks: list[tuple[float, ...] | None] = (
            [None] * len(mapped)
            if landmarks is None
            else [tuple(round(float(v), 1) for v in row) for row in landmarks / self.scale]
        )
        return [
            Detection(float(x), float(y), float(w), float(h), float(s), m)
            for (x, y, w, h), s, m in zip(mapped, scores, marks, strict=True)
            if w > 0 and h > 0
        ]


def fit_scale(frame_w: int, frame_h: int, canvas_w: int, canvas_h: int) -> float:
    """The largest scale at which the whole frame fits the canvas."""
    return min(canvas_w / frame_w, canvas_h / frame_h)


def letterbox(frame: np.ndarray, canvas_w: int, canvas_h: int) -> tuple[np.ndarray, Letterbox]:
    """Resize `frame` (H x W x C uint8) to fit canvas_w x canvas_h keeping aspect; pad with 0.

    Returns the canvas (canvas_h x canvas_w x C, same dtype) and the mapping back.
    """
    if frame.ndim != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"expected an H x W x C image, got shape {frame.shape}")
    canvas = np.empty((canvas_h, canvas_w, frame.shape[2]), dtype=frame.dtype)
    return canvas, letterbox_into(frame, canvas)


def letterbox_into(frame: np.ndarray, canvas: np.ndarray) -> Letterbox:
    """As letterbox(), into the caller's `canvas` (H x W x C, the frame's dtype), e.g. a
    model's own input buffer: no new image is allocated when the frame needs no resizing,
    and only the resized one when it does."""
    import cv2

    if frame.ndim != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"expected an H x W x C image, got shape {frame.shape}")
    if canvas.ndim != 3 or canvas.shape[2] != frame.shape[2] or canvas.dtype != frame.dtype:
        raise ValueError(f"canvas {canvas.shape} {canvas.dtype} does not fit frame {frame.shape} {frame.dtype}")
    fh, fw = frame.shape[:2]
    canvas_h, canvas_w = canvas.shape[:2]
    scale = fit_scale(fw, fh, canvas_w, canvas_h)
    nw = min(canvas_w, max(1, round(fw * scale)))
    nh = min(canvas_h, max(1, round(fh * scale)))
    if (nw, nh) == (fw, fh):
        canvas[:nh, :nw] = frame
    else:
        # bit-exact bilinear: the same pixels on every CPU (INTER_AREA's SIMD paths differ
        # between x86 and arm64 builds of OpenCV, moving boxes by up to 13 px; MODEL.md)
        canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR_EXACT)
    canvas[nh:] = 0
    canvas[:nh, nw:] = 0
    return Letterbox(scale=scale, frame_w=fw, frame_h=fh, canvas_w=canvas_w, canvas_h=canvas_h)
