"""Identifiable (pure): is one detected face one a person or a recogniser could identify?

Three criteria, each measured on one detection, each with a threshold in the config
(`identify:`), each recorded with its value in the track's signed record:

- `face_px`: the box height in NATIVE sensor pixels (the frame as decoded, never the
  detector's resized input), at least `min_face_px`.
- `pose`: both eyes visible and the face turned to the camera, from the detector's five
  landmarks: `eyes` = distance between the two eye points / box width (collapses in a
  profile, and for a back of the head the points fall wherever), at least `min_eye_ratio`;
  `yaw` = horizontal offset of the nose tip from the eyes' midpoint / half the eye distance
  (0 frontal, 1 nose over one eye), at most `max_yaw`. No landmarks: the pose is unknown
  and fails.
- `sharpness`: focus / motion blur of the face box, normalised for size and contrast
  (detect.sharpness measures it from the pixels; the core only takes the number), at least
  `min_sharpness`. Not measured: fails.

A face that fails any one is presence, not identifiable capture: a back of the head or a
full profile fails `pose` and can never count, whatever its size or sharpness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from camaudit.core.types import Detection

DEFINITION = "camaudit-identifiable-1"  # face_px native box height; pose from 5 landmarks; sharpness

# the order in which a failed criterion is named (the first failure is the reason)
CRITERIA = ("face_px", "pose", "sharpness")
REASON_WORDS = {"pose": "turned away", "face_px": "too small", "sharpness": "blurred"}


@dataclass(frozen=True)
class IdentifyRule:
    min_face_px: int = 32
    min_eye_ratio: float = 0.25
    max_yaw: float = 0.6
    min_sharpness: float = 0.18


@dataclass(frozen=True)
class Measure:
    """One detection's criteria: values and verdicts."""

    face_px: int
    eyes: float | None
    yaw: float | None
    sharpness: float | None
    passed: tuple[bool, bool, bool]  # face_px, pose, sharpness (CRITERIA order)

    @property
    def identifiable(self) -> bool:
        return all(self.passed)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c for c, ok in zip(CRITERIA, self.passed, strict=True) if not ok)

    def rank(self) -> tuple[int, int, int, float]:
        """Larger is better: all passed, then how many, then size, then sharpness."""
        return (
            int(self.identifiable),
            sum(self.passed),
            self.face_px,
            self.sharpness if self.sharpness is not None else -1.0,
        )

    def criteria(self, rule: IdentifyRule) -> dict[str, Any]:
        """The JSON of the criteria: {name: {value, passed, limit, unit, ...}}."""
        px_ok, pose_ok, sharp_ok = self.passed
        return {
            "face_px": {
                "value": self.face_px, "passed": px_ok, "min": rule.min_face_px,
                "unit": "px, box height in native frame pixels",
            },
            "pose": {
                "value": {"eyes": self.eyes, "yaw": self.yaw}, "passed": pose_ok,
                "min_eyes": rule.min_eye_ratio, "max_yaw": rule.max_yaw,
                "unit": "eyes: eye distance / box width; yaw: nose offset / half eye distance",
            },
            "sharpness": {
                "value": self.sharpness, "passed": sharp_ok, "min": rule.min_sharpness,
                "unit": "Laplacian energy / contrast of the face box at 32x32",
            },
        }


def pose_values(det: Detection) -> tuple[float | None, float | None]:
    """(eyes, yaw) from the landmarks (see the module doc); (None, None) without them."""
    lm = det.landmarks
    if lm is None or len(lm) < 6 or det.w <= 0:
        return None, None
    (ex1, ey1, ex2, ey2, nx, _ny) = lm[:6]
    dist = math.hypot(ex2 - ex1, ey2 - ey1)
    eyes = dist / det.w
    half = abs(ex2 - ex1) / 2
    mid = (ex1 + ex2) / 2
    yaw = abs(nx - mid) / half if half > 1e-6 else math.inf
    return round(eyes, 3), (round(yaw, 3) if math.isfinite(yaw) else 99.0)


def measure(det: Detection, rule: IdentifyRule) -> Measure:
    """The criteria of one detection under `rule`."""
    eyes, yaw = pose_values(det)
    pose_ok = eyes is not None and yaw is not None and eyes >= rule.min_eye_ratio and yaw <= rule.max_yaw
    px_ok = det.face_px >= rule.min_face_px
    sharp = None if det.sharpness is None else round(det.sharpness, 3)
    sharp_ok = sharp is not None and sharp >= rule.min_sharpness
    return Measure(det.face_px, eyes, yaw, sharp, (px_ok, pose_ok, sharp_ok))


def why_not_words(failed: tuple[str, ...]) -> str:
    """The reason a track is not identifiable, in words (its first failed criterion)."""
    return REASON_WORDS[failed[0]] if failed else "identifiable"
