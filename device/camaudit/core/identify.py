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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from camaudit.core.types import Detection

# face_px native box height; pose from 5 landmarks; sharpness with a contrast floor of 16 grey
# levels (-1 had max_yaw 0.6 and Laplacian / (contrast + 4); old records keep their own name)
DEFINITION = "camaudit-identifiable-2"

# the order in which a failed criterion is named (the first failure is the reason)
CRITERIA = ("face_px", "pose", "sharpness")
REASON_WORDS = {"pose": "turned away", "face_px": "too small", "sharpness": "blurred"}


@dataclass(frozen=True)
class IdentifyRule:
    min_face_px: int = 28
    min_eye_ratio: float = 0.25
    max_yaw: float = 1.0
    min_sharpness: float = 0.20


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
                "unit": "Laplacian energy / max(contrast, 16 grey levels) of the face box at 32x32",
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


def _int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def _px_words(values: list[int]) -> str:
    v = [str(x) for x in sorted(values)]
    return v[0] if len(v) == 1 else ", ".join(v[:-1]) + " and " + v[-1]


def tracks_in_words(tracks: Sequence[Mapping[str, Any]]) -> str:
    """One capture's track records (`track.end` bodies) in words: "2 identifiable: frontal,
    sharp, 54 and 61 px; 3 not identifiable: 1 turned away, 2 too small"."""
    yes = [t for t in tracks if t.get("identifiable") is True]
    no = [t for t in tracks if t.get("identifiable") is not True]
    parts: list[str] = []
    if yes:
        px = [_int(((t.get("criteria") or {}).get("face_px") or {}).get("value")) for t in yes]
        parts.append(f"{len(yes)} identifiable: frontal, sharp, {_px_words(px)} px")
    if no:
        why: dict[str, int] = {}
        for t in no:
            failed = t.get("why_not") or []
            word = REASON_WORDS.get(str(failed[0]), str(failed[0])) if failed else "unknown"
            why[word] = why.get(word, 0) + 1
        reasons = ", ".join(f"{n} {w}" for w, n in sorted(why.items(), key=lambda kv: (-kv[1], kv[0])))
        parts.append(f"{len(no)} not identifiable: {reasons}")
    return "; ".join(parts) if parts else "no track records"


def _mapping(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def thresholds_of(track: Mapping[str, Any]) -> tuple[str, Any, Any, Any, Any] | None:
    """(definition, min face px, min eye ratio, max yaw, min sharpness) as a track record
    states them; None when the record has no criteria."""
    c = track.get("criteria")
    if not isinstance(c, Mapping):
        return None
    px, pose, sharp = (_mapping(c.get(k)) for k in CRITERIA)
    return (str(track.get("definition") or "?"), px.get("min"), pose.get("min_eyes"),
            pose.get("max_yaw"), sharp.get("min"))


def definition_words(tracks: Sequence[Mapping[str, Any]]) -> list[str]:
    """What "identifiable" meant for these track records, with the thresholds the records
    themselves state (one sentence per distinct set, in order of first use)."""
    seen: list[tuple[str, Any, Any, Any, Any]] = []
    for t in tracks:
        th = thresholds_of(t)
        if th is not None and th not in seen:
            seen.append(th)
    return [
        f"Identifiable ({d}): on at least one frame of the person's track, the face box is at "
        f"least {px} px tall in native sensor pixels; both eyes are visible (eye distance at "
        f"least {eyes} of the box width) and the face is turned to the camera (nose offset at "
        f"most {yaw} of half the eye distance), from five landmarks; and it is sharp "
        f"(sharpness, detail relative to the face's own size and contrast, at least {sharp}). "
        f"A face seen from behind or in full profile is never identifiable."
        for d, px, eyes, yaw, sharp in seen
    ]

