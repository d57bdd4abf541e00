"""Camera health state machine (pure): is the auditing camera covered, moved or blurred?

Takes numbers measured on each frame's thumbnail (see camaudit.pipeline.camera_health) and
the frame time; returns the changes the caller journals. No arrays, no clock, no I/O.

- One condition at a time, by precedence: `covered` (dark or uniform frame) hides `moved`
  and `blurred` (a black frame matches nothing and has no edges); `moved` (the scene no
  longer matches the reference) hides `blurred` (a new scene's sharpness is not comparable
  to the reference's).
- Hysteresis twice over: a condition must hold `enter_ms` before it is journalled, and the
  camera must look fine for `restore_ms` before `camera.restored`; the thresholds to leave
  a condition are looser than those to enter it (RESTORE_* below), so a value hovering at
  a threshold does not flap.
- A condition journalled and lasting `alert_ms` raises one `alert`.
- The start of a condition is its first frame, not the frame it was confirmed on: the
  journal says "covered from 14:02", not "from 14:02 + enter_s".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COVERED = "covered"
MOVED = "moved"
BLURRED = "blurred"
CONDITIONS = (COVERED, MOVED, BLURRED)

EVENT_FOR = {COVERED: "camera.covered", MOVED: "camera.moved", BLURRED: "camera.blurred"}
RESTORED = "camera.restored"
REFERENCE = "camera.reference"
HEALTH_EVENT_TYPES = frozenset({*EVENT_FOR.values(), RESTORED, REFERENCE})
REASON_FOR = {c: f"camera_{c}" for c in CONDITIONS}  # alert reasons, notice `why`

# leaving a condition needs a clear margin past the entering threshold (hysteresis)
RESTORE_LEVEL = 1.5  # x dark_level / uniform_std
RESTORE_MATCH = 0.2  # + moved_match
RESTORE_SHARPNESS = 0.2  # + blurred_ratio


@dataclass(frozen=True)
class HealthLimits:
    """Thresholds (grey levels 0..255 and ratios) and times (ms)."""

    dark_level: float = 10.0  # mean grey at or below: dark
    uniform_std: float = 6.0  # grey standard deviation at or below: uniform
    moved_match: float = 0.10  # share of the reference's textured cells still matching below: moved
    blurred_ratio: float = 0.35  # sharpness / reference sharpness below: blurred
    enter_ms: int = 5_000
    restore_ms: int = 5_000
    alert_ms: int = 60_000

    def __post_init__(self) -> None:
        for name in ("dark_level", "uniform_std", "moved_match", "blurred_ratio",
                     "enter_ms", "restore_ms", "alert_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class HealthSample:
    """What was measured on one frame. `scene_match` and `sharpness_ratio` are None while
    there is no reference to compare with (still learning it)."""

    ts_ms: int
    mean: float  # grey level 0..255
    std: float  # grey standard deviation
    scene_match: float | None = None  # 0..1, share of the reference's textured cells matching
    sharpness_ratio: float | None = None  # this frame's sharpness / the reference's

    def values(self) -> dict[str, float | None]:
        return {
            "mean": round(self.mean, 2),
            "std": round(self.std, 2),
            "scene_match": None if self.scene_match is None else round(self.scene_match, 3),
            "sharpness_ratio": None if self.sharpness_ratio is None else round(self.sharpness_ratio, 3),
        }


@dataclass(frozen=True)
class HealthChange:
    """One event to journal: `camera.covered|moved|blurred`, `camera.restored` or `alert`."""

    type: str
    condition: str
    ts_ms: int  # frame time it was decided on
    body: dict[str, Any]


def classify(s: HealthSample, lim: HealthLimits, current: str | None = None) -> str | None:
    """The condition this sample shows, or None. The current condition is judged with the
    looser restore thresholds (it stays until the frame is clearly fine)."""
    dark, uniform = lim.dark_level, lim.uniform_std
    if current == COVERED:
        dark, uniform = dark * RESTORE_LEVEL, uniform * RESTORE_LEVEL
    if s.mean <= dark or s.std <= uniform:
        return COVERED
    moved = lim.moved_match + (RESTORE_MATCH if current == MOVED else 0.0)
    if s.scene_match is not None and s.scene_match < moved:
        return MOVED
    blurred = lim.blurred_ratio + (RESTORE_SHARPNESS if current == BLURRED else 0.0)
    if s.sharpness_ratio is not None and s.sharpness_ratio < blurred:
        return BLURRED
    return None


def alert_text(feed: str, condition: str, seconds: float) -> str:
    what = {COVERED: "covered (dark or uniform picture)",
            MOVED: "moved (the scene no longer matches its reference)",
            BLURRED: "blurred (its sharpness collapsed)"}[condition]
    return (f"Camera '{feed}' has been {what} for {seconds:.0f} s: "
            "captures in that time are unknown, not absent.")


@dataclass
class CameraHealth:
    """One feed's health. step() each measured frame; returns the changes to journal."""

    feed: str
    limits: HealthLimits = field(default_factory=HealthLimits)
    state: str | None = None  # the journalled condition, None = healthy
    since_ms: int | None = None  # start of the journalled condition
    _pending: str | None = None
    _pending_since: int | None = None
    _alerted: bool = False
    _worst: dict[str, float] = field(default_factory=dict)
    _last_ts: int | None = None

    @property
    def unsure(self) -> str | None:
        """The condition journalled or suspected (not yet confirmed), None when all looks fine.
        While unsure, nothing should be concluded from this camera's picture."""
        if self.state is not None:
            return self.state
        return self._pending if self._pending_since is not None else None

    def step(self, s: HealthSample) -> list[HealthChange]:
        out: list[HealthChange] = []
        if self._last_ts is not None and s.ts_ms < self._last_ts:  # time went back (clip loop)
            self._pending_since = s.ts_ms if self._pending_since is not None else None
            if self.since_ms is not None:
                self.since_ms = min(self.since_ms, s.ts_ms)
        self._last_ts = s.ts_ms
        cond = classify(s, self.limits, self.state)
        if self.state is not None:
            self._note_worst(s)
        if cond == self.state:
            self._pending = self._pending_since = None
        else:
            if cond != self._pending or self._pending_since is None:
                self._pending, self._pending_since = cond, s.ts_ms
            need = self.limits.restore_ms if cond is None else self.limits.enter_ms
            if s.ts_ms - self._pending_since >= need:
                at = self._pending_since
                if self.state is not None:
                    out.append(self._restored(s, at))
                if cond is not None:
                    out.append(self._started(cond, s, at))
                self._pending = self._pending_since = None
        if (self.state is not None and self.since_ms is not None and not self._alerted
                and s.ts_ms - self.since_ms >= self.limits.alert_ms):
            self._alerted = True
            secs = (s.ts_ms - self.since_ms) / 1000
            out.append(HealthChange("alert", self.state, s.ts_ms, {
                "text": alert_text(self.feed, self.state, secs),
                "reasons": [REASON_FOR[self.state]],
                "condition": self.state,
                "start": self.since_ms,
                "lasting_ms": s.ts_ms - self.since_ms,
            }))
        return out

    def _started(self, cond: str, s: HealthSample, at: int) -> HealthChange:
        self.state, self.since_ms, self._alerted = cond, at, False
        self._worst = {}
        self._note_worst(s)
        return HealthChange(EVENT_FOR[cond], cond, s.ts_ms, {
            "condition": cond,
            "start": at,
            "values": s.values(),
            "thresholds": self._thresholds(),
        })

    def _restored(self, s: HealthSample, at: int) -> HealthChange:
        cond, since = self.state, self.since_ms
        assert cond is not None and since is not None
        self.state = self.since_ms = None
        return HealthChange(RESTORED, cond, s.ts_ms, {
            "condition": cond,
            "start": since,
            "end": at,
            "duration_ms": max(0, at - since),
            "values": s.values(),
            "worst": dict(self._worst),
        })

    def _note_worst(self, s: HealthSample) -> None:
        w = self._worst
        for key, val in (("mean", s.mean), ("std", s.std), ("scene_match", s.scene_match),
                         ("sharpness_ratio", s.sharpness_ratio)):
            if val is not None:
                w[key] = round(min(w.get(key, val), val), 3)

    def _thresholds(self) -> dict[str, float]:
        lim = self.limits
        return {"dark_level": lim.dark_level, "uniform_std": lim.uniform_std,
                "moved_match": lim.moved_match, "blurred_ratio": lim.blurred_ratio,
                "enter_ms": lim.enter_ms}
