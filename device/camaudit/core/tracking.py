"""Tracker (pure): follows faces across frames by box overlap. No identity, no embedding.

Tracks are matched greedily by IoU. A track is *confirmed* after `min_hits` detections of
which at least one scored `confirm_score` or more (single-frame blips and weak look-alikes,
such as a hand, never count; a confirmed track then continues on weaker detections), and *ends* when it has been missed in at least
`max_missed` detection runs and not seen for `max_age_ms`. Frames on which detection was
skipped (motion gate) call `hold()`: tracks neither age nor move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from camaudit.core.types import Detection


@dataclass
class Track:
    id: int
    box: Detection
    first_ts: int
    last_ts: int
    hits: int = 1
    missed: int = 0
    max_px: int = 0
    best_score: float = 0.0
    heights: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class TrackView:
    """A confirmed track as seen at one moment."""

    id: int
    box: Detection
    first_ts: int
    last_ts: int
    max_px: int


@dataclass(frozen=True)
class EndedTrack:
    id: int
    first_ts: int
    last_ts: int
    max_px: int


@dataclass(frozen=True)
class TrackUpdate:
    """What changed at one frame: confirmed tracks in view, and those that started/ended."""

    ts_ms: int
    active: tuple[TrackView, ...] = ()
    started: tuple[int, ...] = ()
    ended: tuple[EndedTrack, ...] = ()
    new_heights: tuple[int, ...] = ()  # face_px of confirmed detections in this frame


class Tracker:
    def __init__(
        self,
        *,
        iou_threshold: float = 0.3,
        max_age_ms: int = 1000,
        max_missed: int = 2,
        min_hits: int = 2,
        confirm_score: float = 0.0,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.max_age_ms = max_age_ms
        self.max_missed = max_missed
        self.min_hits = min_hits
        self.confirm_score = confirm_score
        self._tracks: list[Track] = []
        self._next_id = 1

    def _confirmed(self, t: Track) -> bool:
        return t.hits >= self.min_hits and t.best_score >= self.confirm_score

    @property
    def tracks(self) -> tuple[Track, ...]:
        return tuple(self._tracks)

    def _view(self, ts_ms: int) -> tuple[TrackView, ...]:
        return tuple(
            TrackView(t.id, t.box, t.first_ts, t.last_ts, t.max_px)
            for t in self._tracks
            if self._confirmed(t) and t.last_ts == ts_ms
        )

    def hold(self, ts_ms: int) -> TrackUpdate:
        """A frame without detection: the confirmed tracks stay as they were."""
        views = tuple(
            TrackView(t.id, t.box, t.first_ts, t.last_ts, t.max_px)
            for t in self._tracks
            if self._confirmed(t) and t.missed == 0
        )
        return TrackUpdate(ts_ms=ts_ms, active=views)

    def update(self, detections: Sequence[Detection], ts_ms: int) -> TrackUpdate:
        pairs = sorted(
            (
                (t.box.iou(d), ti, di)
                for ti, t in enumerate(self._tracks)
                for di, d in enumerate(detections)
            ),
            key=lambda p: (-p[0], p[1], p[2]),
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        started: list[int] = []
        heights: list[int] = []
        for iou, ti, di in pairs:
            if iou < self.iou_threshold:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            t = self._tracks[ti]
            d = detections[di]
            was_confirmed = self._confirmed(t)
            t.box, t.last_ts, t.hits, t.missed = d, ts_ms, t.hits + 1, 0
            t.max_px = max(t.max_px, d.face_px)
            t.best_score = max(t.best_score, d.score)
            if self._confirmed(t):
                if not was_confirmed:
                    started.append(t.id)
                    heights.extend(t.heights)
                    t.heights.clear()
                heights.append(d.face_px)
            else:
                t.heights.append(d.face_px)
        for di, d in enumerate(detections):
            if di in used_d:
                continue
            t = Track(
                self._next_id, d, ts_ms, ts_ms, max_px=d.face_px, best_score=d.score,
                heights=[d.face_px],
            )
            self._next_id += 1
            self._tracks.append(t)
            if self._confirmed(t):
                started.append(t.id)
                heights.append(d.face_px)
                t.heights.clear()
        ended: list[EndedTrack] = []
        keep: list[Track] = []
        for ti, t in enumerate(self._tracks):
            if ti in used_t or t.last_ts == ts_ms:
                keep.append(t)
                continue
            t.missed += 1
            if t.missed >= self.max_missed and ts_ms - t.last_ts >= self.max_age_ms:
                if self._confirmed(t):
                    ended.append(EndedTrack(t.id, t.first_ts, t.last_ts, t.max_px))
            else:
                keep.append(t)
        self._tracks = keep
        return TrackUpdate(
            ts_ms=ts_ms,
            active=self._view(ts_ms),
            started=tuple(started),
            ended=tuple(ended),
            new_heights=tuple(heights),
        )

    def finish(self, ts_ms: int) -> TrackUpdate:
        """End every track (feed ended or went down)."""
        ended = tuple(
            EndedTrack(t.id, t.first_ts, t.last_ts, t.max_px)
            for t in self._tracks
            if self._confirmed(t)
        )
        self._tracks = []
        return TrackUpdate(ts_ms=ts_ms, ended=ended)
