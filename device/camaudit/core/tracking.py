"""Tracker (pure): follows people's faces across frames by position, size and motion.

No appearance, no identity, no embedding. Per detection run:

1. A box nested in, or stacked on, a better-scoring face box of the same frame is dropped
   (`drop_stacked`): a second box on one head (hair while looking down, chin) is not a
   second person.
2. Boxes continue tracks greedily by IoU (>= `iou_threshold`).
3. A box left over may re-link a confirmed track lost up to `relink_ms` ago when its size
   agrees (ratio within `relink_size`) and its centre is where the track's last motion
   predicts, within `relink_dist` face heights (plus half a height per second lost).
4. Boxes still left start new tracks.

A track is *confirmed* after `min_hits` detections of which at least one scored
`confirm_score` or more (single-frame blips and weak look-alikes such as hands never
count), and *ends* when it has been missed in `max_missed` runs and not seen for
`max_age_ms` (or, for a confirmed track when re-linking is on, for longer than
`relink_ms`). `cut()` ends every track at once (a scene cut: nothing is re-linked across
it). Frames on which detection was skipped (motion gate) call `hold()`: tracks neither age
nor move.

Each ended confirmed track carries its record (`TrackRecord`): frame span, times, frame
size, boxes (first, peak, last and at least one every `sample_ms`), the peak detection and
the identifiability criteria measured on it (core.identify). Its identifiability is the
best of all its detections, over its re-linked parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from camaudit.core.identify import DEFINITION, IdentifyRule, Measure, measure
from camaudit.core.types import Detection

MAX_BOXES = 1024  # per track record: past this the in-between boxes are thinned (1 per 2^k s)

BoxRow = tuple[int, int, int, int, int]  # frame, x, y, w, h (native px)


def _row(frame: int, d: Detection) -> BoxRow:
    return (frame, round(d.x), round(d.y), round(d.w), round(d.h))


def drop_stacked(
    dets: Sequence[Detection], *, nested: float = 0.5, gap: float = 0.25
) -> list[Detection]:
    """The detections without those nested in or stacked on a better-scoring one.

    Nested: at least `nested` of the box's area lies inside the other box. Stacked: the
    two overlap horizontally by at least half the narrower width, are of similar height
    (ratio <= 2), and the vertical gap between them is at most `gap` of the smaller
    height (or they overlap). The better score stays. Order of the rest is kept.
    """
    if len(dets) < 2:
        return list(dets)
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    kept: list[int] = []
    for i in order:
        d = dets[i]
        if not any(_nested_or_stacked(d, dets[k], nested, gap) for k in kept):
            kept.append(i)
    return [dets[i] for i in sorted(kept)]


def _nested_or_stacked(d: Detection, k: Detection, nested: float, gap: float) -> bool:
    ix = min(d.x2, k.x2) - max(d.x, k.x)
    iy = min(d.y2, k.y2) - max(d.y, k.y)
    area = d.w * d.h
    if ix > 0 and iy > 0 and area > 0 and ix * iy / area >= nested:
        return True
    small = min(d.h, k.h)
    if ix < 0.5 * min(d.w, k.w) or small <= 0 or max(d.h, k.h) > 2 * small:
        return False
    vgap = max(d.y, k.y) - min(d.y2, k.y2)  # < 0 when they overlap vertically
    return vgap <= gap * small


@dataclass(frozen=True)
class TrackRecord:
    """What the journal keeps of one ended track (the body of a `track.end` event)."""

    id: int
    first_frame: int
    last_frame: int
    first_ts: int
    last_ts: int
    frame_size: tuple[int, int]
    boxes: tuple[BoxRow, ...]
    peak_frame: int
    peak_box: tuple[int, int, int, int]
    peak_score: float
    best_score: float
    detections: int
    relinks: int
    measure: Measure
    rule: IdentifyRule
    ended_by: str  # "lost" | "cut" | "end" (feed ended, went down, capture closed)

    @property
    def identifiable(self) -> bool:
        return self.measure.identifiable

    def to_body(self, capture: str | None) -> dict[str, Any]:
        return {
            "capture": capture,
            "track": self.id,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "frame_size": list(self.frame_size),
            "boxes": [list(b) for b in self.boxes],
            "peak": {"frame": self.peak_frame, "box": list(self.peak_box), "score": round(self.peak_score, 3)},
            "best_score": round(self.best_score, 3),
            "detections": self.detections,
            "relinks": self.relinks,
            "identifiable": self.identifiable,
            "why_not": list(self.measure.failed),
            "criteria": self.measure.criteria(self.rule),
            "definition": DEFINITION,
            "ended_by": self.ended_by,
        }


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
    first_frame: int = 0
    last_frame: int = 0
    frame_size: tuple[int, int] = (0, 0)
    first_row: BoxRow = (0, 0, 0, 0, 0)
    samples: list[BoxRow] = field(default_factory=list)
    sample_ms: int = 1000
    last_sample_ts: int = 0
    peak: tuple[Measure, int, Detection] | None = None  # measure, frame, detection
    prev_box: Detection | None = None
    prev_ts: int = 0
    relinks: int = 0

    @property
    def identifiable(self) -> bool:
        return self.peak is not None and self.peak[0].identifiable


@dataclass(frozen=True)
class TrackView:
    """A confirmed track as seen at one moment."""

    id: int
    box: Detection
    first_ts: int
    last_ts: int
    max_px: int
    identifiable: bool = False


@dataclass(frozen=True)
class EndedTrack:
    id: int
    first_ts: int
    last_ts: int
    max_px: int
    record: TrackRecord | None = None


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
        relink_ms: int = 0,
        relink_dist: float = 1.0,
        relink_size: float = 1.5,
        drop_stacked: bool = True,
        sample_ms: int = 1000,
        rule: IdentifyRule | None = None,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.max_age_ms = max_age_ms
        self.max_missed = max_missed
        self.min_hits = min_hits
        self.confirm_score = confirm_score
        self.relink_ms = relink_ms
        self.relink_dist = relink_dist
        self.relink_size = relink_size
        self.drop_stacked = drop_stacked
        self.sample_ms = sample_ms
        self.rule = rule or IdentifyRule()
        self._tracks: list[Track] = []
        self._next_id = 1
        self.dropped_stacked = 0

    def _confirmed(self, t: Track) -> bool:
        return t.hits >= self.min_hits and t.best_score >= self.confirm_score

    @property
    def tracks(self) -> tuple[Track, ...]:
        return tuple(self._tracks)

    def _v(self, t: Track) -> TrackView:
        return TrackView(t.id, t.box, t.first_ts, t.last_ts, t.max_px, t.identifiable)

    def _view(self, ts_ms: int) -> tuple[TrackView, ...]:
        return tuple(self._v(t) for t in self._tracks if self._confirmed(t) and t.last_ts == ts_ms)

    def hold(self, ts_ms: int, frame: int = -1) -> TrackUpdate:
        """A frame without detection (nothing moved): the confirmed tracks in view stay
        where they were, seen at this frame."""
        views = []
        for t in self._tracks:
            if self._confirmed(t) and t.missed == 0:
                # nothing moved: the track is still in view where it was
                t.last_ts = ts_ms
                if frame >= 0:
                    t.last_frame = frame
                    if ts_ms - t.last_sample_ts >= t.sample_ms:
                        self._sample(t, frame, t.box, ts_ms)
                views.append(self._v(t))
        return TrackUpdate(ts_ms=ts_ms, active=tuple(views))

    def _sample(self, t: Track, frame: int, d: Detection, ts_ms: int) -> None:
        t.samples.append(_row(frame, d))
        t.last_sample_ts = ts_ms
        if len(t.samples) > MAX_BOXES:
            t.samples = t.samples[::2]
            t.sample_ms *= 2

    def _observe(self, t: Track, d: Detection, ts_ms: int, frame: int) -> None:
        m = measure(d, self.rule)
        if t.peak is None or m.rank() > t.peak[0].rank():
            t.peak = (m, frame, d)
        if ts_ms - t.last_sample_ts >= t.sample_ms:
            self._sample(t, frame, d, ts_ms)

    def _relink_cost(self, t: Track, d: Detection, ts_ms: int) -> float | None:
        """How far `d` is from where lost track `t` should be, in face heights; None if
        size or position disagree."""
        dt = ts_ms - t.last_ts
        b = t.box
        if dt <= 0 or dt > self.relink_ms or b.h <= 0 or d.h <= 0:
            return None
        ratio = d.h / b.h
        if not 1 / self.relink_size <= ratio <= self.relink_size:
            return None
        cx, cy = b.x + b.w / 2, b.y + b.h / 2
        if t.prev_box is not None and t.last_ts > t.prev_ts:
            p = t.prev_box
            span = t.last_ts - t.prev_ts
            vx = (cx - (p.x + p.w / 2)) / span
            vy = (cy - (p.y + p.h / 2)) / span
            ahead = min(dt, 1000)  # motion is trusted for a second, not extrapolated further
            cx, cy = cx + vx * ahead, cy + vy * ahead
        dist = ((d.x + d.w / 2 - cx) ** 2 + (d.y + d.h / 2 - cy) ** 2) ** 0.5 / b.h
        limit = self.relink_dist + 0.5 * dt / 1000
        return dist if dist <= limit else None

    def update(
        self,
        detections: Sequence[Detection],
        ts_ms: int,
        frame: int = -1,
        frame_size: tuple[int, int] = (0, 0),
    ) -> TrackUpdate:
        if self.drop_stacked:
            kept = drop_stacked(detections)
            self.dropped_stacked += len(detections) - len(kept)
            detections = kept
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
        matches: list[tuple[int, int, bool]] = []
        for iou, ti, di in pairs:
            if iou < self.iou_threshold:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            matches.append((ti, di, False))
        if self.relink_ms > 0 and len(used_d) < len(detections):
            cands = sorted(
                (c, ti, di)
                for ti, t in enumerate(self._tracks)
                if ti not in used_t and self._confirmed(t)
                for di, d in enumerate(detections)
                if di not in used_d
                for c in (self._relink_cost(t, d, ts_ms),)
                if c is not None
            )
            for _c, ti, di in cands:
                if ti in used_t or di in used_d:
                    continue
                used_t.add(ti)
                used_d.add(di)
                matches.append((ti, di, True))
        started: list[int] = []
        heights: list[int] = []
        for ti, di, relinked in matches:
            t = self._tracks[ti]
            d = detections[di]
            was_confirmed = self._confirmed(t)
            if relinked and t.missed > 0:
                t.relinks += 1
            t.prev_box, t.prev_ts = t.box, t.last_ts
            t.box, t.last_ts, t.hits, t.missed = d, ts_ms, t.hits + 1, 0
            t.last_frame = frame
            t.max_px = max(t.max_px, d.face_px)
            t.best_score = max(t.best_score, d.score)
            self._observe(t, d, ts_ms, frame)
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
                heights=[d.face_px], first_frame=frame, last_frame=frame,
                frame_size=frame_size, first_row=_row(frame, d), sample_ms=self.sample_ms,
                last_sample_ts=ts_ms,
            )
            t.peak = (measure(d, self.rule), frame, d)
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
            age = ts_ms - t.last_ts
            wait = self.max_age_ms
            if self.relink_ms > 0 and self._confirmed(t):
                wait = max(wait, self.relink_ms + 1)
            if t.missed >= self.max_missed and age >= wait:
                if self._confirmed(t):
                    ended.append(self._ended(t, "lost"))
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

    def _ended(self, t: Track, why: str) -> EndedTrack:
        return EndedTrack(t.id, t.first_ts, t.last_ts, t.max_px, self._record(t, why))

    def _record(self, t: Track, why: str) -> TrackRecord:
        assert t.peak is not None
        m, pframe, pd = t.peak
        rows = {t.first_row[0]: t.first_row}
        for r in t.samples:
            rows.setdefault(r[0], r)
        rows[pframe] = _row(pframe, pd)
        rows[t.last_frame] = _row(t.last_frame, t.box)
        prow = rows[pframe]
        return TrackRecord(
            id=t.id,
            first_frame=t.first_frame,
            last_frame=t.last_frame,
            first_ts=t.first_ts,
            last_ts=t.last_ts,
            frame_size=t.frame_size,
            boxes=tuple(rows[f] for f in sorted(rows)),
            peak_frame=pframe,
            peak_box=(prow[1], prow[2], prow[3], prow[4]),
            peak_score=pd.score,
            best_score=t.best_score,
            detections=t.hits,
            relinks=t.relinks,
            measure=m,
            rule=self.rule,
            ended_by=why,
        )

    def cut(self, ts_ms: int) -> TrackUpdate:
        """A scene cut: every track ends here; nothing is re-linked across it."""
        return self._end_all(ts_ms, "cut")

    def finish(self, ts_ms: int) -> TrackUpdate:
        """End every track (feed ended or went down)."""
        return self._end_all(ts_ms, "end")

    def end_lost(self, ts_ms: int) -> TrackUpdate:
        """End the confirmed tracks not seen at `ts_ms` (their capture is closing)."""
        ended = tuple(self._ended(t, "lost") for t in self._tracks if self._confirmed(t) and t.missed > 0)
        gone = {e.id for e in ended}
        self._tracks = [t for t in self._tracks if t.id not in gone]
        return TrackUpdate(ts_ms=ts_ms, ended=ended)

    def _end_all(self, ts_ms: int, why: str) -> TrackUpdate:
        ended = tuple(self._ended(t, why) for t in self._tracks if self._confirmed(t))
        self._tracks = []
        return TrackUpdate(ts_ms=ts_ms, ended=ended)
