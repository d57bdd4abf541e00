"""Capture builder (pure): groups tracks on one feed into captures, the unit of the audit.

A capture opens with the feed's first confirmed track, emits `capture.update` at most every
`update_ms` while it changes, and closes `idle_ms` after its last track ended. Each
moment's policy verdict is folded in: the capture is unconsented if any moment with faces
in view was, with the union of reasons, and records every change of verdict.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from camaudit.core.policy import Verdict
from camaudit.core.tracking import TrackUpdate

CaptureEventType = Literal["capture.start", "capture.update", "capture.end", "alert"]


def capture_ids(first: int, prefix: str = "c-") -> Iterator[str]:
    """Capture ids from `first` on: c-000001, c-000002, ..."""
    return (f"{prefix}{n:06d}" for n in itertools.count(first))


def capture_number(capture_id: str, prefix: str = "c-") -> int | None:
    """The number in a capture id made by capture_ids, or None for another form."""
    rest = capture_id.removeprefix(prefix)
    return int(rest) if rest != capture_id and rest.isdigit() else None


def _median(counts: Counter[int]) -> int:
    total = sum(counts.values())
    mid = (total - 1) // 2
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > mid:
            return value
    raise ValueError("median of no values")


@dataclass(frozen=True)
class FacePx:
    min: int
    median: int
    max: int


@dataclass(frozen=True)
class VerdictChange:
    ts: int
    verdict: str
    reasons: tuple[str, ...]
    basis: str | None


@dataclass(frozen=True)
class CaptureBody:
    """The body of capture.* events (schema v1; new fields may be added, none renamed)."""

    capture: str
    start: int
    end: int | None
    frames: int
    max_faces: int
    distinct_tracks: int
    identifiable_tracks: int
    face_px: FacePx | None
    verdict: str
    reasons: tuple[str, ...]
    basis: str | None
    evidence: tuple[str, ...] = ()
    verdict_changes: tuple[VerdictChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "capture": self.capture,
            "start": self.start,
            "end": self.end,
            "frames": self.frames,
            "max_faces": self.max_faces,
            "distinct_tracks": self.distinct_tracks,
            "identifiable_tracks": self.identifiable_tracks,
            "face_px": None
            if self.face_px is None
            else {"min": self.face_px.min, "median": self.face_px.median, "max": self.face_px.max},
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "basis": self.basis,
            "evidence": list(self.evidence),
            "verdict_changes": [
                {"ts": c.ts, "verdict": c.verdict, "reasons": list(c.reasons), "basis": c.basis}
                for c in self.verdict_changes
            ],
        }


@dataclass(frozen=True)
class CaptureEvent:
    type: CaptureEventType
    ts: int
    body: CaptureBody


@dataclass
class _Open:
    id: str
    start: int
    last_face_ts: int
    frames: int = 0
    max_faces: int = 0
    tracks: set[int] = field(default_factory=set)
    identifiable: set[int] = field(default_factory=set)
    heights: Counter[int] = field(default_factory=Counter)
    reasons: set[str] = field(default_factory=set)
    unconsented: bool = False
    basis: str | None = None
    changes: list[VerdictChange] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    last_emit_ts: int = 0
    dirty: bool = False
    alerted: bool = False


class CaptureBuilder:
    def __init__(
        self,
        *,
        idle_ms: int = 3000,
        update_ms: int = 10_000,
        min_face_px: int = 28,
        ids: Iterator[str] | None = None,
    ) -> None:
        """`ids` yields capture ids; share one iterator between feeds so ids stay unique
        per device (default: c-000001, c-000002, ...)."""
        self.idle_ms = idle_ms
        self.update_ms = update_ms
        self.min_face_px = min_face_px
        self._ids = ids if ids is not None else capture_ids(1)
        self._open: _Open | None = None

    @property
    def open_capture(self) -> str | None:
        return self._open.id if self._open else None


    def _body(self, c: _Open, end: int | None) -> CaptureBody:
        face_px = (
            FacePx(min(c.heights), _median(c.heights), max(c.heights)) if c.heights else None
        )
        return CaptureBody(
            capture=c.id,
            start=c.start,
            end=end,
            frames=c.frames,
            max_faces=c.max_faces,
            distinct_tracks=len(c.tracks),
            identifiable_tracks=len(c.identifiable),
            face_px=face_px,
            verdict="unconsented" if c.unconsented else "consented",
            reasons=tuple(sorted(c.reasons)),
            basis=None if c.unconsented else c.basis,
            evidence=tuple(c.evidence),
            verdict_changes=tuple(c.changes),
        )

    def add_evidence(self, ref: str) -> None:
        """Attach an evidence reference (e.g. "sha256:...") to the open capture."""
        if self._open is not None:
            self._open.evidence.append(ref)
            self._open.dirty = True

    def _fold(self, c: _Open, upd: TrackUpdate, verdict: Verdict) -> None:
        n = len(upd.active)
        c.frames += 1
        c.max_faces = max(c.max_faces, n)
        c.last_face_ts = upd.ts_ms
        before = (len(c.tracks), len(c.identifiable), c.max_faces)
        for t in upd.active:
            c.tracks.add(t.id)
            if t.identifiable:  # the best of the track so far (core.identify)
                c.identifiable.add(t.id)
        c.heights.update(upd.new_heights)
        if (len(c.tracks), len(c.identifiable), c.max_faces) != before:
            c.dirty = True
        last = c.changes[-1] if c.changes else None
        if last is None or (last.verdict, last.reasons, last.basis) != (
            verdict.verdict,
            tuple(verdict.reasons),
            verdict.basis,
        ):
            c.changes.append(
                VerdictChange(upd.ts_ms, verdict.verdict, tuple(verdict.reasons), verdict.basis)
            )
            c.dirty = True
        if verdict.verdict == "unconsented":
            c.unconsented = True
            c.reasons.update(verdict.reasons)
        elif verdict.basis:
            c.basis = verdict.basis

    def step(self, upd: TrackUpdate, verdict: Verdict) -> list[CaptureEvent]:
        """Fold one frame in; return the events it causes, in order."""
        out: list[CaptureEvent] = []
        ts = upd.ts_ms
        c = self._open
        if c is None:
            if not upd.active:
                return out
            start = min(t.first_ts for t in upd.active)
            c = _Open(id=next(self._ids), start=start, last_face_ts=ts)
            self._open = c
            self._fold(c, upd, verdict)
            c.last_emit_ts = ts
            c.dirty = False
            out.append(CaptureEvent("capture.start", ts, self._body(c, None)))
        elif upd.active:
            self._fold(c, upd, verdict)
            if c.dirty and ts - c.last_emit_ts >= self.update_ms:
                c.last_emit_ts = ts
                c.dirty = False
                out.append(CaptureEvent("capture.update", ts, self._body(c, None)))
        elif ts - c.last_face_ts >= self.idle_ms:
            out.extend(self._close(ts))
            return out
        if not c.alerted and c.unconsented and c.identifiable:
            c.alerted = True
            out.append(CaptureEvent("alert", ts, self._body(c, None)))
        return out

    def _close(self, ts: int) -> list[CaptureEvent]:
        c = self._open
        if c is None:
            return []
        self._open = None
        return [CaptureEvent("capture.end", ts, self._body(c, c.last_face_ts))]

    def close(self, ts_ms: int) -> list[CaptureEvent]:
        """End the open capture now (feed ended, feed down, shutdown)."""
        return self._close(ts_ms)

