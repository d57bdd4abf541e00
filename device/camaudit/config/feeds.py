"""`feeds:` section: one entry per camera stream the device reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from camaudit.config.base import Section
from camaudit.core.motion import DEFAULT_THRESHOLD

Point = tuple[float, float]
Polygon = list[Point]


class FeedConfig(Section):
    source: str = Field(
        description="Video file, GIF, folder of stills, rtsp:// or http:// URL, /dev/videoN, or 'picamera2'."
    )
    fps: float | None = Field(default=None, gt=0, description="Frames per second to process (None: native).")
    loop: bool = Field(default=False, description="Restart a video file at its end.")
    pace: bool = Field(default=False, description="Play a video file at its own speed (live-like).")
    evidence: Literal["none", "blurred"] = Field(
        default="none", description="'blurred': keep one frame per capture with every face blurred."
    )
    send_evidence: bool = Field(
        default=False,
        description="Send this feed's blurred evidence frames to the hub over MQTT (needs "
        "evidence: blurred). Off by default: frames then stay on the device.",
    )
    max_skip_s: float = Field(default=2.0, gt=0, description="Motion gate: detect at least this often.")
    motion_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, description="Motion gate: mean abs pixel change that wakes the detector (0: always detect).")
    privacy_zones: list[Polygon] = Field(
        default_factory=list,
        description="Polygons in relative frame coordinates (0..1) where capture is never acceptable.",
    )

    @field_validator("privacy_zones")
    @classmethod
    def _zones_valid(cls, zones: list[Polygon]) -> list[Polygon]:
        for i, poly in enumerate(zones):
            if len(poly) < 3:
                raise ValueError(f"zone {i} needs at least 3 points")
            for x, y in poly:
                if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                    raise ValueError(f"zone {i}: point ({x}, {y}) is outside 0..1")
        return zones

    @field_validator("send_evidence")
    @classmethod
    def _send_needs_blurred(cls, send: bool, info: ValidationInfo) -> bool:
        # `evidence` is declared before `send_evidence`, so it is validated first
        if send and info.data.get("evidence") != "blurred":
            raise PydanticCustomError(
                "send_evidence", "needs evidence: blurred on this feed (there is no frame to send)"
            )
        return send
