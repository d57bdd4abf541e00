"""Load and validate bench/annotations/people.json (hand annotations of people per shot).

The format is described in bench/annotations/METHOD.md. Every problem is reported as one
line naming the file, the clip and the entry (`AnnotationError`), never a traceback.
Pure: `parse` takes the decoded JSON, `load` only reads the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "camaudit-people-annotations/1"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "annotations" / "people.json"

POSES = ("frontal", "three-quarter", "profile", "back")
EYES = ("both", "one", "none")
FOCUS = ("sharp", "soft", "blurred")
IDENTIFIABLE = ("yes", "no", "unsure")
PERSON_KEYS = {
    "id", "shot", "first_frame", "last_frame", "peak_frame", "peak_box", "pose",
    "eyes_visible", "focus", "identifiable", "keyframes", "note",
}  # fmt: skip
CLIP_KEYS = {"source", "sha256", "frame_size", "frames", "cuts", "looked_at", "people", "same_as"}

Box = tuple[int, int, int, int]


class AnnotationError(ValueError):
    """One line: file, clip, entry and what is wrong."""


@dataclass(frozen=True)
class Person:
    id: str
    shot: int
    first_frame: int
    last_frame: int
    peak_frame: int
    peak_box: Box
    pose: str
    eyes_visible: str
    focus: str
    identifiable: str  # yes / no / unsure
    keyframes: tuple[tuple[int, Box], ...]  # (frame, box), sorted, holds the peak
    note: str = ""

    @property
    def key(self) -> str:
        """One person in one shot: the unit the bench counts."""
        return f"{self.id}@{self.shot}"

    @property
    def presence_only(self) -> bool:
        """Seen only from behind or in full profile: must never be called identifiable."""
        return self.pose in ("back", "profile")


@dataclass(frozen=True)
class Clip:
    name: str
    source: str  # relative to the repository root
    sha256: str
    frame_size: tuple[int, int]
    frames: int
    cuts: tuple[int, ...]  # first frame of every shot after the first
    looked_at: str
    people: tuple[Person, ...]
    same_as: str = ""  # a byte-identical clip whose annotations these are

    @property
    def noface(self) -> bool:
        return self.name.startswith("NOFACE_")

    def shot_of(self, frame: int) -> int:
        return sum(1 for c in self.cuts if c <= frame)


def _int(v: Any, where: str, field: str, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise AnnotationError(f"{where}: {field} must be an integer >= {lo}, got {v!r}")
    return v


def _box(v: Any, where: str, field: str, size: tuple[int, int]) -> Box:
    if not isinstance(v, list) or len(v) != 4:
        raise AnnotationError(f"{where}: {field} must be [x, y, w, h], got {v!r}")
    x, y, w, h = (_int(a, where, field) for a in v)
    if w < 2 or h < 2 or x + w > size[0] or y + h > size[1]:
        raise AnnotationError(
            f"{where}: {field} {v} is empty or outside the {size[0]}x{size[1]} frame"
        )
    return (x, y, w, h)


def _choice(v: Any, allowed: tuple[str, ...], where: str, field: str) -> str:
    if v not in allowed:
        raise AnnotationError(f"{where}: {field} must be one of {'/'.join(allowed)}, got {v!r}")
    return str(v)


def _person(d: Any, where: str, size: tuple[int, int], frames: int, cuts: tuple[int, ...]) -> Person:
    if not isinstance(d, dict):
        raise AnnotationError(f"{where}: must be an object")
    missing = sorted(PERSON_KEYS - {"note"} - d.keys())
    if missing:
        raise AnnotationError(f"{where}: missing {', '.join(missing)}")
    extra = sorted(d.keys() - PERSON_KEYS)
    if extra:
        raise AnnotationError(f"{where}: unknown field {', '.join(extra)}")
    pid = d["id"]
    if not isinstance(pid, str) or not pid:
        raise AnnotationError(f"{where}: id must be a non-empty string")
    where = f"{where} ({pid})"
    first = _int(d["first_frame"], where, "first_frame")
    last = _int(d["last_frame"], where, "last_frame")
    peak = _int(d["peak_frame"], where, "peak_frame")
    shot = _int(d["shot"], where, "shot")
    if not first <= peak <= last < frames:
        raise AnnotationError(
            f"{where}: need first_frame <= peak_frame <= last_frame < {frames} frames, "
            f"got {first} <= {peak} <= {last}"
        )
    shots = [sum(1 for c in cuts if c <= f) for f in (first, last)]
    if shots != [shot, shot]:
        raise AnnotationError(
            f"{where}: frames {first}..{last} lie in shots {shots[0]}..{shots[1]} "
            f"(cuts {list(cuts)}), not in shot {shot}"
        )
    peak_box = _box(d["peak_box"], where, "peak_box", size)
    pose = _choice(d["pose"], POSES, where, "pose")
    eyes = _choice(d["eyes_visible"], EYES, where, "eyes_visible")
    focus = _choice(d["focus"], FOCUS, where, "focus")
    ident = _choice(d["identifiable"], IDENTIFIABLE, where, "identifiable")
    if pose == "back" and (ident != "no" or eyes != "none"):
        raise AnnotationError(f"{where}: a person seen from behind has no eyes visible and is not identifiable")
    kfs = d["keyframes"]
    if not isinstance(kfs, list) or not kfs:
        raise AnnotationError(f"{where}: keyframes must be a non-empty list of [frame, x, y, w, h]")
    keyframes: dict[int, Box] = {}
    for i, k in enumerate(kfs):
        kw = f"{where}: keyframes[{i}]"
        if not isinstance(k, list) or len(k) != 5:
            raise AnnotationError(f"{kw} must be [frame, x, y, w, h], got {k!r}")
        f = _int(k[0], kw, "frame")
        if not first <= f <= last:
            raise AnnotationError(f"{kw}: frame {f} outside first_frame..last_frame {first}..{last}")
        if f in keyframes:
            raise AnnotationError(f"{kw}: frame {f} given twice")
        keyframes[f] = _box(k[1:], kw, "box", size)
    if keyframes.get(peak) != peak_box:
        raise AnnotationError(f"{where}: keyframes must hold the peak [{peak}, {', '.join(map(str, peak_box))}]")
    note = d.get("note", "")
    if not isinstance(note, str):
        raise AnnotationError(f"{where}: note must be a string")
    return Person(
        id=pid, shot=shot, first_frame=first, last_frame=last, peak_frame=peak,
        peak_box=peak_box, pose=pose, eyes_visible=eyes, focus=focus, identifiable=ident,
        keyframes=tuple(sorted(keyframes.items())), note=note,
    )  # fmt: skip


def _clip(name: str, d: Any, where: str) -> Clip:
    if not isinstance(d, dict):
        raise AnnotationError(f"{where}: must be an object")
    extra = sorted(d.keys() - CLIP_KEYS)
    if extra:
        raise AnnotationError(f"{where}: unknown field {', '.join(extra)}")
    for k in ("source", "sha256"):
        if not isinstance(d.get(k), str) or not d[k]:
            raise AnnotationError(f"{where}: {k} must be a non-empty string")
    if "same_as" in d:
        return Clip(name, d["source"], d["sha256"], (0, 0), 0, (), "", (), same_as=str(d["same_as"]))
    missing = sorted({"frame_size", "frames", "cuts", "looked_at", "people"} - d.keys())
    if missing:
        raise AnnotationError(f"{where}: missing {', '.join(missing)}")
    fs = d["frame_size"]
    if not isinstance(fs, list) or len(fs) != 2:
        raise AnnotationError(f"{where}: frame_size must be [w, h]")
    size = (_int(fs[0], where, "frame_size", 1), _int(fs[1], where, "frame_size", 1))
    frames = _int(d["frames"], where, "frames", 1)
    cuts_raw = d["cuts"]
    if not isinstance(cuts_raw, list):
        raise AnnotationError(f"{where}: cuts must be a list of frame numbers")
    cuts = tuple(_int(c, where, "cuts", 1) for c in cuts_raw)
    if list(cuts) != sorted(set(cuts)) or any(c >= frames for c in cuts):
        raise AnnotationError(f"{where}: cuts must be increasing frame numbers below {frames}, got {list(cuts)}")
    if not isinstance(d["looked_at"], str) or not d["looked_at"].strip():
        raise AnnotationError(f"{where}: looked_at must say which frames were looked at")
    if not isinstance(d["people"], list):
        raise AnnotationError(f"{where}: people must be a list")
    people = tuple(
        _person(p, f"{where}: people[{i}]", size, frames, cuts) for i, p in enumerate(d["people"])
    )
    keys = [p.key for p in people]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise AnnotationError(f"{where}: person-shot {dup[0]} annotated twice")
    if name.startswith("NOFACE_") and people:
        raise AnnotationError(f"{where}: a NOFACE_ clip must have no people")
    return Clip(name, d["source"], d["sha256"], size, frames, cuts, d["looked_at"], people)


def parse(doc: Any, where: str = "people.json") -> dict[str, Clip]:
    """Validate decoded annotations; `same_as` clips come back with their twin's people."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise AnnotationError(f"{where}: format must be {FORMAT!r}")
    clips_raw = doc.get("clips")
    if not isinstance(clips_raw, dict) or not clips_raw:
        raise AnnotationError(f"{where}: clips must be a non-empty object")
    clips = {n: _clip(n, d, f"{where}: clips[{n!r}]") for n, d in clips_raw.items()}
    out: dict[str, Clip] = {}
    for n, c in clips.items():
        if not c.same_as:
            out[n] = c
            continue
        twin = clips.get(c.same_as)
        if twin is None or twin.same_as:
            raise AnnotationError(f"{where}: clips[{n!r}]: same_as {c.same_as!r} is not an annotated clip")
        if twin.sha256 != c.sha256:
            raise AnnotationError(f"{where}: clips[{n!r}]: sha256 differs from its same_as {c.same_as!r}")
        out[n] = Clip(n, c.source, c.sha256, twin.frame_size, twin.frames, twin.cuts,
                      twin.looked_at, twin.people, same_as=c.same_as)  # fmt: skip
    return out


def load(path: Path = DEFAULT_PATH) -> dict[str, Clip]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None
    return parse(doc, str(path))
