"""One feed's processing loop: frames in, capture events out through a sink.

Holds the per-feed state (motion gate, tracker, capture builder) and the adapters it is
given (detector, policy); it does not know about threads, the journal or MQTT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from camaudit.config.capture import CaptureConfig
from camaudit.config.feeds import FeedConfig
from camaudit.core.alerts import alert_text
from camaudit.core.capture import CaptureBuilder, CaptureEvent
from camaudit.core.motion import MotionGate, downscale_gray
from camaudit.core.policy import Moment, Policy, Verdict
from camaudit.core.tracking import Tracker
from camaudit.core.types import Detection
from camaudit.detect.base import Detector
from camaudit.pipeline.camera_health import HealthWatch
from camaudit.pipeline.evidence import save_evidence
from camaudit.pipeline.notice_board import NoticeBoard
from camaudit.sources.base import FeedStatus, Frame

log = logging.getLogger(__name__)

# (type, feed, body, ts_ms) -> None; appends to the journal (and whatever listens).
Sink = Callable[[str, str | None, Mapping[str, Any], int], Any]


@dataclass
class FeedStats:
    frames: int = 0
    detected: int = 0  # frames the detector ran on
    faces_now: int = 0
    captures: int = 0
    unconsented: int = 0
    detect_s: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def fps(self) -> float:
        dt = time.monotonic() - self.started
        return self.frames / dt if dt > 0 else 0.0


class FeedLoop:
    def __init__(
        self,
        name: str,
        feed: FeedConfig,
        capture: CaptureConfig,
        *,
        detector: Detector,
        policy: Policy,
        sink: Sink,
        min_face_px: int,
        ids: Iterator[str],
        evidence_dir: Path | None = None,
        board: NoticeBoard | None = None,
        on_faces: Callable[[str, int], None] | None = None,
        health_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.feed = feed
        self.detector = detector
        self.policy = policy
        self.sink = sink
        self.evidence_dir = evidence_dir if feed.evidence == "blurred" else None
        self.board = board
        self.on_faces = on_faces
        self.health = (  # camera covered / moved / blurred, on the gate's thumbnail
            HealthWatch(name, feed.health, sink, state_dir=health_dir, board=board)
            if feed.health.enabled else None
        )
        self.gate = MotionGate(threshold=feed.motion_threshold, max_skip_s=feed.max_skip_s)
        self.tracker = Tracker(
            iou_threshold=capture.track_iou,
            max_age_ms=int(capture.track_max_age_s * 1000),
            min_hits=capture.track_min_hits,
            confirm_score=capture.track_confirm_score,
        )
        self.builder = CaptureBuilder(
            idle_ms=int(capture.idle_s * 1000),
            update_ms=int(capture.update_s * 1000),
            min_face_px=min_face_px,
            ids=ids,
        )
        self.stats = FeedStats()
        self.last_ts = 0
        self._start_seq: dict[str, int | None] = {}

    def handle(self, item: Frame | FeedStatus) -> None:
        if isinstance(item, FeedStatus):
            self._status(item)
        else:
            self._frame(item)

    def _status(self, st: FeedStatus) -> None:
        if st.kind == "feed.down":
            self._close_capture(st.ts_ms)
        # the source logs each attempt; the console line and the journal carry the state change
        log.info("feed %s: %s (%s)", self.name, st.kind, st.detail)
        self.sink(st.kind, self.name, {"detail": st.detail}, st.ts_ms)
        if st.kind == "feed.down" and self.board is not None:
            self.board.feed_down(self.name, st.ts_ms)

    def _frame(self, fr: Frame) -> None:
        st = self.stats
        st.frames += 1
        self.last_ts = fr.ts_ms
        detections: list[Detection] = []
        thumb = downscale_gray(fr.image)
        if self.health is not None:
            self.health.observe(thumb, fr.ts_ms)
        if self.gate.check(thumb, fr.ts_ms):
            t0 = time.perf_counter()
            detections = self.detector.detect(fr.image)
            st.detect_s += time.perf_counter() - t0
            st.detected += 1
            upd = self.tracker.update(detections, fr.ts_ms)
        else:
            upd = self.tracker.hold(fr.ts_ms)
        if len(upd.active) != st.faces_now and self.on_faces is not None:
            self.on_faces(self.name, len(upd.active))
        st.faces_now = len(upd.active)
        h, w = fr.image.shape[:2]
        if self.board is not None:
            self.board.observe(self.name, fr.image, fr.ts_ms)
        verdict = self.policy.decide(
            Moment(
                feed=self.name,
                ts_ms=fr.ts_ms,
                faces=tuple(t.box for t in upd.active),
                frame_size=(w, h),
                notice_states=self.board.states() if self.board else {},
                releases=self.board.releases(fr.ts_ms) if self.board else (),
            )
        )
        events = self.builder.step(upd, verdict)
        if self.evidence_dir is not None and any(e.type == "capture.start" for e in events):
            ref = self._take_evidence(fr, [t.box for t in upd.active] + detections)
            if ref is not None:
                self.builder.add_evidence(ref)
                events = [
                    replace(e, body=replace(e.body, evidence=(ref,)))
                    if e.type == "capture.start"
                    else e
                    for e in events
                ]
        self._emit_all(events)

    def _take_evidence(self, fr: Frame, boxes: list[Detection]) -> str | None:
        assert self.evidence_dir is not None
        try:
            return save_evidence(fr.image, boxes, self.evidence_dir)
        except OSError as exc:
            log.error("feed %s: evidence frame not saved: %s", self.name, exc)
            return None

    def _emit_all(self, events: list[CaptureEvent]) -> None:
        for ev in events:
            if ev.type == "alert":
                self.stats.unconsented += 1
                body = {
                    "text": alert_text(
                        Verdict("unconsented", ev.body.reasons, ev.body.basis),
                        self.name,
                        ev.body.identifiable_tracks,
                    ),
                    "capture": ev.body.capture,
                    "reasons": list(ev.body.reasons),
                    "identifiable_tracks": ev.body.identifiable_tracks,
                    "ref_seq": self._start_seq.get(ev.body.capture),
                }
                self.sink("alert", self.name, body, ev.ts)
                continue
            written = self.sink(ev.type, self.name, ev.body.to_dict(), ev.ts)
            if ev.type == "capture.start":
                self.stats.captures += 1
                self._start_seq = {ev.body.capture: getattr(written, "seq", None)}

    def _close_capture(self, ts_ms: int) -> None:
        self.tracker.finish(ts_ms)
        if self.stats.faces_now and self.on_faces is not None:
            self.on_faces(self.name, 0)
        self.stats.faces_now = 0
        self._emit_all(self.builder.close(ts_ms))

    def finish(self, ts_ms: int | None = None) -> None:
        """Feed ended or shutdown: close the open capture with its true end."""
        self._close_capture(ts_ms if ts_ms is not None else self.last_ts)
