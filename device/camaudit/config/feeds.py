"""`feeds:` section: one entry per camera stream the device reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from camaudit.config.base import Section
from camaudit.core.motion import DEFAULT_THRESHOLD

Point = tuple[float, float]


class HealthConfig(Section):
    """Camera health (covered / moved / blurred), judged on the motion gate's thumbnail.
    Thresholds and how they were chosen: docs/camera-health.md."""

    enabled: bool = Field(default=True, description="Watch this camera's health.")
    learn_s: float = Field(default=10.0, gt=0, le=3600, description="Seconds of clear frames the reference is learned from (first start, or after `camaudit relearn FEED`).")
    enter_s: float = Field(default=10.0, ge=0, le=3600, description="A condition must last this long before it is journalled.")
    restore_s: float = Field(default=5.0, ge=0, le=3600, description="The camera must look fine this long before camera.restored.")
    alert_after_s: float = Field(default=60.0, ge=0, le=86400, description="A condition lasting this long raises an alert.")
    dark_level: float = Field(default=10.0, ge=0, le=255, description="Mean grey level (0-255) at or below which the picture is dark: covered.")
    uniform_std: float = Field(default=6.0, ge=0, le=255, description="Grey standard deviation at or below which the picture is uniform: covered.")
    moved_match: float = Field(default=0.10, ge=0, le=1, description="Share of the reference's textured thumbnail cells that still match (correlation >= 0.6) below which the camera has moved.")
    blurred_ratio: float = Field(default=0.35, ge=0, le=1, description="Sharpness relative to the reference below which the camera is blurred.")
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
    health: HealthConfig = Field(default_factory=HealthConfig, description="Camera health: covered, moved, blurred.")
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
