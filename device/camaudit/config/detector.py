"""`detector:` section: which face model, how many threads, what counts as a face."""

from __future__ import annotations

from pydantic import Field

from camaudit.config.base import Section


class DetectorConfig(Section):
    model: str = Field(default="yunet-int8-640", description="Shipped model name (see models/MODEL.md).")
    threads: int = Field(default=1, ge=1, le=8, description="Interpreter threads per feed.")
    min_score: float = Field(default=0.6, gt=0.0, lt=1.0, description="Detections below are dropped.")
    min_face_px: int = Field(
        default=32, ge=1, description="A face at least this tall (px) is identifiable."
    )
