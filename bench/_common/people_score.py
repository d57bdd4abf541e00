"""Score an appliance's tracks against hand-annotated people (pure: values in, values out).

Tracks are the objects of `camaudit log --tracks --json` (docs/tracks.md); people are the
entries of bench/annotations/people.json (one per person per shot, see METHOD.md).

Matching, per clip:
- a track and a person-shot can match only if their frame spans overlap;
- their box overlap is the best IoU over the frames both are known at: each of the track's
  box frames inside the person's span and each of the person's keyframes inside the track's
  span, both boxes linearly interpolated between their own known frames (held at the ends);
- each track goes to the person-shot with the highest overlap, if that is >= `min_iou`;
  a person-shot may hold several tracks (fragmentation), a track belongs to one person-shot.

Counts (the unit is the person-shot: a person seen in two shots is two entries):
- recall: identifiable (`yes`) person-shots with at least one identifiable track / all `yes`;
- precision: identifiable tracks on `yes` person-shots / identifiable tracks on `yes` or `no`
  person-shots or on nobody (tracks on `unsure` people count neither way);
- tracks per person-shot: matched tracks / person-shots with at least one track;
- tracks across a cut: tracks whose frames include a clip cut (first < cut <= last);
- tracks chaining people: tracks whose boxes sit on two or more different person-shots;
- false identifiable on presence-only people: identifiable tracks on people whose best view
  (the annotated peak) is the back of the head or a full profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]

MIN_IOU = 0.3  # detector boxes and hand boxes of one face: measured agreement is 0.4-0.9


@dataclass(frozen=True)
class Track:
    id: str
    first_frame: int
    last_frame: int
    boxes: tuple[tuple[int, Box], ...]  # sorted by frame
    identifiable: bool
    capture: str = ""

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Track:
        """One object of `camaudit log --tracks --json`."""
        boxes = sorted(
            (int(b[0]), (float(b[1]), float(b[2]), float(b[3]), float(b[4]))) for b in rec["boxes"]
        )
        if not boxes:
            raise ValueError(f"track {rec.get('track')}: no boxes")
        return cls(
            id=f"{rec.get('feed', '')}/{rec['track']}",
            first_frame=int(rec["first_frame"]),
            last_frame=int(rec["last_frame"]),
            boxes=tuple(boxes),
            identifiable=bool(rec["identifiable"]),
            capture=str(rec.get("capture") or ""),
        )


@dataclass(frozen=True)
class PersonShot:
    """The part of an annotated person the scorer needs (see people_annotations.Person)."""

    key: str
    first_frame: int
    last_frame: int
    keyframes: tuple[tuple[int, Box], ...]  # sorted by frame
    identifiable: str  # yes / no / unsure
    presence_only: bool  # back of the head or full profile at best

    @classmethod
    def of(cls, p: Any) -> PersonShot:
        return cls(
            key=p.key, first_frame=p.first_frame, last_frame=p.last_frame,
            keyframes=tuple((f, tuple(map(float, b))) for f, b in p.keyframes),  # type: ignore[misc]
            identifiable=p.identifiable, presence_only=p.presence_only,
        )  # fmt: skip


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def box_at(known: Sequence[tuple[int, Box]], frame: int) -> Box:
    """Box at `frame`: linear between the two nearest known frames, held beyond the ends."""
    if frame <= known[0][0]:
        return known[0][1]
    if frame >= known[-1][0]:
        return known[-1][1]
    for (f0, b0), (f1, b1) in zip(known, known[1:], strict=False):
        if f0 <= frame <= f1:
            t = (frame - f0) / (f1 - f0) if f1 > f0 else 0.0
            return (
                b0[0] + t * (b1[0] - b0[0]),
                b0[1] + t * (b1[1] - b0[1]),
                b0[2] + t * (b1[2] - b0[2]),
                b0[3] + t * (b1[3] - b0[3]),
            )
    return known[-1][1]  # unreachable for sorted input


def overlap(track: Track, person: PersonShot) -> float:
    """Best IoU of the two at the frames both are known at; 0 when their spans do not meet."""
    lo = max(track.first_frame, person.first_frame)
    hi = min(track.last_frame, person.last_frame)
    if lo > hi:
        return 0.0
    frames = {f for f, _ in track.boxes if person.first_frame <= f <= person.last_frame}
    frames |= {f for f, _ in person.keyframes if track.first_frame <= f <= track.last_frame}
    if not frames:  # spans meet but neither has a known frame inside the other: compare mid-overlap
        frames = {(lo + hi) // 2}
    return max(iou(box_at(track.boxes, f), box_at(person.keyframes, f)) for f in frames)


def best_person(track: Track, people: Sequence[PersonShot]) -> tuple[str | None, float]:
    """The person-shot overlapping the track most, and that overlap."""
    best, best_key = 0.0, None
    for p in people:
        v = overlap(track, p)
        if v > best:
            best, best_key = v, p.key
    return best_key, best


def people_followed(track: Track, people: Sequence[PersonShot], min_iou: float = MIN_IOU) -> list[str]:
    """The person-shots the track's box is on, in frame order (more than one: the track
    chained different people). At each of the track's box frames, the best-overlapping
    person in view there, if >= min_iou."""
    seen: list[str] = []
    for f, b in track.boxes:
        best, key = 0.0, None
        for p in people:
            if p.first_frame <= f <= p.last_frame:
                v = iou(b, box_at(p.keyframes, f))
                if v > best:
                    best, key = v, p.key
        if key is not None and best >= min_iou and key not in seen:
            seen.append(key)
    return seen


def assign(
    tracks: Sequence[Track], people: Sequence[PersonShot], min_iou: float = MIN_IOU
) -> dict[str, str | None]:
    """Track id -> person-shot key (or None): each track to its best-overlapping person."""
    out: dict[str, str | None] = {}
    for t in tracks:
        key, v = best_person(t, people)
        out[t.id] = key if v >= min_iou else None
    return out


@dataclass
class ClipScore:
    people_yes: int = 0
    found_yes: int = 0
    ident_tracks: int = 0  # all tracks called identifiable
    ident_true: int = 0  # ... on `yes` people
    ident_false: int = 0  # ... on `no` people or on nobody
    ident_unsure: int = 0  # ... on `unsure` people (neither way)
    ident_on_nobody: int = 0
    false_ident_presence_only: int = 0
    tracks: int = 0
    tracks_matched: int = 0
    person_shots_tracked: int = 0
    tracks_across_cut: int = 0
    tracks_chaining_people: int = 0
    missed_yes: list[str] = field(default_factory=list)
    false_ident: list[str] = field(default_factory=list)  # track id -> person key or "nobody"
    matches: list[dict[str, Any]] = field(default_factory=list)  # one per track, for review

    @property
    def recall(self) -> float | None:
        return self.found_yes / self.people_yes if self.people_yes else None

    @property
    def precision(self) -> float | None:
        n = self.ident_true + self.ident_false
        return self.ident_true / n if n else None

    @property
    def tracks_per_person_shot(self) -> float | None:
        return self.tracks_matched / self.person_shots_tracked if self.person_shots_tracked else None

    def add(self, o: ClipScore) -> None:
        for k in (
            "people_yes", "found_yes", "ident_tracks", "ident_true", "ident_false", "ident_unsure",
            "ident_on_nobody", "false_ident_presence_only", "tracks", "tracks_matched",
            "person_shots_tracked", "tracks_across_cut", "tracks_chaining_people",
        ):  # fmt: skip
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.missed_yes += o.missed_yes
        self.false_ident += o.false_ident

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "people_yes", "found_yes", "ident_tracks", "ident_true", "ident_false",
                "ident_unsure", "ident_on_nobody", "false_ident_presence_only", "tracks",
                "tracks_matched", "person_shots_tracked", "tracks_across_cut", "tracks_chaining_people",
            )
        }  # fmt: skip
        d |= {
            "recall": self.recall,
            "precision": self.precision,
            "tracks_per_person_shot": self.tracks_per_person_shot,
            "missed_yes": list(self.missed_yes),
            "false_identifiable": list(self.false_ident),
        }
        if self.matches:
            d["matches"] = list(self.matches)
        return d


def spans_cut(track: Track, cuts: Iterable[int]) -> bool:
    return any(track.first_frame < c <= track.last_frame for c in cuts)


def score_clip(
    tracks: Sequence[Track],
    people: Sequence[PersonShot],
    cuts: Sequence[int] = (),
    min_iou: float = MIN_IOU,
) -> ClipScore:
    by_key = {p.key: p for p in people}
    owner = assign(tracks, people, min_iou)
    s = ClipScore(tracks=len(tracks))
    per_person: dict[str, list[Track]] = {}
    for t in tracks:
        k = owner[t.id]
        near, v = best_person(t, people)
        followed = people_followed(t, people, min_iou)
        if len(followed) > 1:
            s.tracks_chaining_people += 1
        s.matches.append(
            {"track": t.id, "frames": [t.first_frame, t.last_frame], "identifiable": t.identifiable,
             "person": k, "nearest": near, "iou": round(v, 2), "followed": followed}
        )  # fmt: skip
        if spans_cut(t, cuts):
            s.tracks_across_cut += 1
        if k is not None:
            per_person.setdefault(k, []).append(t)
            s.tracks_matched += 1
        if not t.identifiable:
            continue
        s.ident_tracks += 1
        p = by_key.get(k) if k is not None else None
        if p is None:
            s.ident_false += 1
            s.ident_on_nobody += 1
            s.false_ident.append(f"{t.id}->nobody")
        elif p.identifiable == "yes":
            s.ident_true += 1
        elif p.identifiable == "unsure":
            s.ident_unsure += 1
        else:
            s.ident_false += 1
            s.false_ident.append(f"{t.id}->{p.key}")
        if p is not None and p.presence_only:
            s.false_ident_presence_only += 1
    s.person_shots_tracked = len(per_person)
    for p in people:
        if p.identifiable != "yes":
            continue
        s.people_yes += 1
        if any(t.identifiable for t in per_person.get(p.key, [])):
            s.found_yes += 1
        else:
            s.missed_yes.append(p.key)
    return s
