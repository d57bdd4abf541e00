"""`detector:` section: which face model, how many threads, what counts as a face."""

from __future__ import annotations

from pydantic import Field

from camaudit.config.base import Section


class DetectorConfig(Section):
    model: str = Field(default="yunet-int8-640", description="Shipped model name (see models/MODEL.md).")
    threads: int = Field(default=1, ge=1, le=8, description="Interpreter threads per feed.")
    min_score: float = Field(default=0.6, gt=0.0, lt=1.0, description="Detections below are dropped.")
    min_face_px: int = Field(
        default=28, ge=1,
        description="Identifiable needs a face box at least this tall, in px of the native frame "
        "(as decoded, before any resizing for the model); see docs/tracks.md.",
    )
    min_eye_ratio: float = Field(
        default=0.25, ge=0, le=2,
        description="Identifiable needs both eyes visible: eye-landmark distance / box width at least this (ratio).",
    )
    max_yaw: float = Field(
        default=1.0, ge=0, le=10,
        description="Identifiable needs the face turned to the camera: nose-tip offset from the eyes' "
        "midpoint / half the eye distance at most this (ratio; 0 frontal, 1 nose over one eye).",
    )
    min_sharpness: float = Field(
        default=0.20, ge=0,
        description="Identifiable needs a sharp face: Laplacian energy / contrast (at least 16 grey "
        "levels) of the face box at 32x32 px at least this (ratio; see docs/tracks.md).",
    )
