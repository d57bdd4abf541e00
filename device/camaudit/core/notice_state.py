"""Posted-notice state machine (pure): VISIBLE / MISSING / UNKNOWN with a grace period.

- Starts UNKNOWN (nothing checked yet).
- A valid sighting makes it VISIBLE at once.
- Checks without a valid sighting make it MISSING once `grace_ms` has passed since the last
  valid sighting (or, when there was none since start / since the feed came back, since the
  first check that did not see it). Until then the state does not change.
- Its watching feed going down makes it UNKNOWN (never VISIBLE: the device cannot tell),
  and forgets the last sighting: after the feed is back, the grace period starts anew.
- Its watching camera being covered, moved or blurred (camaudit.core.camera_health) does
  the same, with that reason (`camera_covered`, ...): a sign nobody can see is UNKNOWN,
  never MISSING.

Every state change is returned as a NoticeChange (the caller turns it into an event).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NoticeState(StrEnum):
    VISIBLE = "VISIBLE"
    MISSING = "MISSING"
    UNKNOWN = "UNKNOWN"


EVENT_FOR_STATE = {
    NoticeState.VISIBLE: "notice.restored",
    NoticeState.MISSING: "notice.missing",
    NoticeState.UNKNOWN: "notice.unknown",
}


@dataclass(frozen=True)
class NoticeChange:
    previous: NoticeState
    state: NoticeState
    ts_ms: int
    last_seen_ms: int | None  # the last valid sighting before this change, if any
    why: str  # short text: "seen", "not seen for 60 s", "watching feed down"

    @property
    def event_type(self) -> str:
        return EVENT_FOR_STATE[self.state]


@dataclass
class NoticeStateMachine:
    grace_ms: int
    state: NoticeState = NoticeState.UNKNOWN
    last_seen_ms: int | None = None
    unseen_since_ms: int | None = None  # first check without a sighting, when none since

    def _to(self, state: NoticeState, ts_ms: int, why: str) -> NoticeChange | None:
        if state == self.state:
            return None
        change = NoticeChange(self.state, state, ts_ms, self.last_seen_ms, why)
        self.state = state
        return change

    def seen(self, ts_ms: int) -> NoticeChange | None:
        """A check found the valid marker."""
        change = self._to(NoticeState.VISIBLE, ts_ms, "seen")
        self.last_seen_ms = ts_ms
        self.unseen_since_ms = None
        return change

    def not_seen(self, ts_ms: int) -> NoticeChange | None:
        """A check on a live frame did not find the valid marker."""
        if self.last_seen_ms is None and self.unseen_since_ms is None:
            self.unseen_since_ms = ts_ms
        ref = self.last_seen_ms if self.last_seen_ms is not None else self.unseen_since_ms
        assert ref is not None
        if ts_ms - ref >= self.grace_ms:
            return self._to(
                NoticeState.MISSING, ts_ms, f"not seen for {(ts_ms - ref) / 1000:.0f} s"
            )
        return None

    def feed_down(self, ts_ms: int) -> NoticeChange | None:
        """The watching feed is down: the sign cannot be checked."""
        change = self._to(NoticeState.UNKNOWN, ts_ms, "watching feed down")
        self.last_seen_ms = None
        self.unseen_since_ms = None
        return change

    def camera_blind(self, ts_ms: int, reason: str) -> NoticeChange | None:
        """The watching camera cannot see the sign (covered, moved, blurred): `reason`."""
        change = self._to(NoticeState.UNKNOWN, ts_ms, reason)
        self.last_seen_ms = None
        self.unseen_since_ms = None
        return change
