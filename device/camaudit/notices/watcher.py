"""Notice watcher: looks for a notice's QR marker in its watch region every `check_s`.

Side-effect free except the QR decode: the caller (the run loop) feeds it frames and feed-down
signals, and turns the returned NoticeTransition into a journal event and the retained MQTT
state. State rules are in camaudit.core.notice_state (VISIBLE at once on a valid sighting,
MISSING after `grace_s` without one, UNKNOWN while the watching feed is down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from camaudit.config.notices import NoticeConfig
from camaudit.core.notice_state import NoticeChange, NoticeState, NoticeStateMachine
from camaudit.errors import ConfigError
from camaudit.notices.marker import marker_payload, parse_payload, qr_texts
from camaudit.notices.reader import MarkerReader, ReaderKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoticeTransition:
    notice_id: str
    state: str  # VISIBLE / MISSING / UNKNOWN
    ts_ms: int
    event_type: str  # notice.missing / notice.restored / notice.unknown
    body: dict[str, Any] = field(default_factory=dict)


def crop_region(frame: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = region
    a, b = int(round(x0 * w)), int(round(y0 * h))
    c, d = max(a + 1, int(round(x1 * w))), max(b + 1, int(round(y1 * h)))
    return frame[b:d, a:c]


class NoticeWatcher:
    def __init__(self, notice_id: str, notice: NoticeConfig, reader: ReaderKind = "both") -> None:
        if notice.watch is None:
            raise ConfigError(f"notices.{notice_id}: no `watch` section, so it cannot be watched")
        self.notice_id = notice_id
        self.notice = notice
        self.watch = notice.watch
        self.feed = notice.watch.feed
        self.region = notice.watch.region
        self.check_ms = round(notice.watch.check_s * 1000)
        self.payload = marker_payload(notice_id, notice)
        self.qr_texts = qr_texts(notice_id, notice)
        self._sm = NoticeStateMachine(round(notice.watch.grace_s * 1000))
        self._reader = MarkerReader(reader)
        self._last_check_ms: int | None = None
        self._other_content = False  # a marker with this id but another text was seen

    @property
    def state(self) -> str:
        return str(self._sm.state)

    @property
    def last_seen_ms(self) -> int | None:
        return self._sm.last_seen_ms

    def due(self, ts_ms: int) -> bool:
        """True when a check is due (the first frame, then every check_s; also after a clock
        step backwards)."""
        last = self._last_check_ms
        return last is None or ts_ms - last >= self.check_ms or ts_ms < last

    def _valid(self, text: str) -> bool:
        """A printed QR text exactly (its address included), or the bare marker."""
        t = text.strip()
        return t in self.qr_texts or t.upper() == self.payload

    def look(self, frame_bgr: np.ndarray) -> tuple[bool, bool]:
        """(valid marker seen, a marker for this notice id with other content seen)."""
        texts = self._reader.read(crop_region(frame_bgr, self.region), accept=self._valid)
        valid = any(self._valid(t) for t in texts)
        other = False
        if not valid:
            for t in texts:
                m = parse_payload(t)
                if m is not None and m.notice_id == self.notice_id.upper():
                    other = True
        return valid, other

    def observe(self, frame_bgr: np.ndarray, ts_ms: int) -> NoticeTransition | None:
        """Check one live frame of the watching feed (call when `due`)."""
        self._last_check_ms = ts_ms
        valid, other = self.look(frame_bgr)
        if other != self._other_content:
            self._other_content = other
            if other:
                log.warning(
                    "notice %s: a sign with this id but different content is posted (reprint it)",
                    self.notice_id,
                )
        change = self._sm.seen(ts_ms) if valid else self._sm.not_seen(ts_ms)
        return self._transition(change)

    def feed_down(self, ts_ms: int) -> NoticeTransition | None:
        """The watching feed went down: UNKNOWN until it is back and checked."""
        self._last_check_ms = None
        return self._transition(self._sm.feed_down(ts_ms))

    def camera_blind(self, ts_ms: int, reason: str) -> NoticeTransition | None:
        """The watching camera is covered, moved or blurred: UNKNOWN (`reason`) until it is
        healthy again and checked."""
        self._last_check_ms = None
        return self._transition(self._sm.camera_blind(ts_ms, reason))

    def _transition(self, change: NoticeChange | None) -> NoticeTransition | None:
        if change is None:
            return None
        log.info(
            "notice %s: %s -> %s (%s)", self.notice_id, change.previous, change.state, change.why
        )
        body: dict[str, Any] = {
            "notice": self.notice_id,
            "state": str(change.state),
            "previous": str(change.previous),
            "watch_feed": self.feed,
            "covers": sorted(self.notice.covers),
            "last_seen": change.last_seen_ms,
            "why": change.why,
            "grace_ms": self._sm.grace_ms,
        }
        if change.state == NoticeState.MISSING and self._other_content:
            body["other_content_seen"] = True
        return NoticeTransition(
            self.notice_id, str(change.state), change.ts_ms, change.event_type, body
        )
