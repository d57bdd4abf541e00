"""Do the pose and sharpness criteria still hold on small faces? (issue #19, min_face_px)

Lowering `detector.min_face_px` sends smaller boxes to the landmark re-read and the
sharpness measure. This bench takes every hand-annotated face box of
bench/annotations/people.json at least 40 px tall (the keyframes; no detector involved, so
the box is the annotator's), measures it as the pipeline does (detect.landmarks.Landmarker
for the five landmarks, core.identify.pose_values for eyes and yaw, detect.sharpness), then
shrinks the whole frame (cv2.INTER_AREA, as a camera further away or with fewer pixels would
see it) so that the box is 32, 30, 28, 26 and 24 px tall, and measures again. It prints, per
size and per kind of annotated face, how many keyframes pass pose, sharpness and both under
the default thresholds (max_yaw, min_eye_ratio, min_sharpness of core.identify.IdentifyRule),
and how far eyes and yaw move from their native values. It also prints the width / height of
the annotated peak boxes of faces turned to the camera (frontal, three-quarter): how a box
height converts to a face width, for IEC 62676-4's pixel densities (docs/tracks.md).

    .venv/bin/python bench/small_faces.py [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "device"))

from bench._common.people_annotations import Clip, Person, load  # noqa: E402

SIZES = (None, 32, 30, 28, 26, 24)  # None: the native frame
MIN_NATIVE = 40  # only boxes that are really larger than every size tried


def kind_of(p: Person) -> str:
    """The group a person-shot is counted in."""
    if p.pose in ("back", "profile"):
        return "back/profile"
    if p.identifiable == "yes":
        return "yes"
    return "no (facing)" if p.identifiable == "no" else "unsure (facing)"


def frames_of(c: Clip, wanted: set[int]) -> dict[int, Any]:
    from bench._common.clip_frames import frames_at

    return frames_at((ROOT / c.source).resolve(), wanted)


def measure_one(lm: Any, frame: Any, box: tuple[float, float, float, float], size: int | None) -> dict[str, Any]:
    import cv2

    from camaudit.core.identify import pose_values
    from camaudit.core.types import Detection
    from camaudit.detect.sharpness import sharpness

    x, y, w, h = box
    if size is not None:
        k = size / h
        fh, fw = frame.shape[:2]
        frame = cv2.resize(frame, (max(1, round(fw * k)), max(1, round(fh * k))), interpolation=cv2.INTER_AREA)
        x, y, w, h = x * k, y * k, w * k, h * k
    det = Detection(x, y, w, h, 0.9)
    det = Detection(x, y, w, h, 0.9, lm.landmarks(frame, det), sharpness(frame, det))
    eyes, yaw = pose_values(det)
    return {"px": det.face_px, "eyes": eyes, "yaw": yaw,
            "sharpness": None if det.sharpness is None else round(det.sharpness, 3)}  # fmt: skip


def run() -> dict[str, Any]:
    from camaudit.core.identify import IdentifyRule
    from camaudit.detect.landmarks import Landmarker

    rule = IdentifyRule()
    lm = Landmarker()
    faces: list[dict[str, Any]] = []
    for c in load().values():
        if c.same_as or not c.people:
            continue
        keys = [(p, f, b) for p in c.people for f, b in p.keyframes if b[3] >= MIN_NATIVE]
        frames = frames_of(c, {f for _, f, _ in keys})
        for p, f, b in keys:
            if f not in frames:
                continue
            faces.append({"clip": c.name, "person": f"{p.id}@{p.shot}", "frame": f, "native_h": b[3],
                          "kind": kind_of(p), "pose": p.pose, "focus": p.focus,
                          "at": {str(s or "native"): measure_one(lm, frames[f], b, s) for s in SIZES}})  # fmt: skip
    ratios = [p.peak_box[2] / p.peak_box[3] for c in load().values() if not c.same_as
              for p in c.people if p.pose in ("frontal", "three-quarter")]  # fmt: skip
    summary: dict[str, Any] = {}
    for s in SIZES:
        key = str(s or "native")
        for kind in ("yes", "unsure (facing)", "no (facing)", "back/profile"):
            group = [fc for fc in faces if fc["kind"] == kind]
            if not group:
                continue
            ms = [fc["at"][key] for fc in group]
            pose = [m["eyes"] is not None and m["eyes"] >= rule.min_eye_ratio and m["yaw"] <= rule.max_yaw for m in ms]
            sharp = [m["sharpness"] is not None and m["sharpness"] >= rule.min_sharpness for m in ms]
            d_yaw, d_eyes = [], []
            for fc, m in zip(group, ms, strict=True):
                n = fc["at"]["native"]
                if m["yaw"] is not None and n["yaw"] is not None:
                    d_yaw.append(abs(m["yaw"] - n["yaw"]))
                    d_eyes.append(abs(m["eyes"] - n["eyes"]))
            people = {fc["person"] for fc in group}
            best = {fc["person"] for fc, a, b in zip(group, pose, sharp, strict=True) if a and b}
            summary.setdefault(key, {})[kind] = {
                "people": len(people),
                "people_both": len(best),  # person-shots with a keyframe passing both: a track's best
                "faces": len(ms),
                "landmarks": sum(m["eyes"] is not None for m in ms),
                "pose": sum(pose),
                "sharp": sum(sharp),
                "both": sum(a and b for a, b in zip(pose, sharp, strict=True)),
                "median_abs_dyaw": round(statistics.median(d_yaw), 3) if d_yaw else None,
                "median_abs_deyes": round(statistics.median(d_eyes), 3) if d_eyes else None,
            }
    return {"rule": {"min_eye_ratio": rule.min_eye_ratio, "max_yaw": rule.max_yaw,
                     "min_sharpness": rule.min_sharpness}, "min_native_px": MIN_NATIVE,
            "box_width_over_height": {"faces": len(ratios), "median": round(statistics.median(ratios), 3),
                                      "min": round(min(ratios), 3), "max": round(max(ratios), 3)},
            "summary": summary, "faces": faces}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(1)
    res = run()
    if args.json:
        print(json.dumps(res, indent=2))
        return
    r, wh = res["rule"], res["box_width_over_height"]
    print(f"annotated peak boxes facing the camera: width / height median {wh['median']} "
          f"({wh['min']}-{wh['max']}, {wh['faces']} faces)")
    print(f"hand-annotated keyframe boxes >= {res['min_native_px']} px, shrunk to each height; pass = eyes >= "
          f"{r['min_eye_ratio']} and yaw <= {r['max_yaw']} (pose), sharpness >= {r['min_sharpness']}")  # fmt: skip
    print("| height | kind | keyframes | landmarks found | pose passes | sharp | both | person-shots with a keyframe "
          "passing both | median abs. change of yaw / eyes |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for size, kinds in res["summary"].items():
        for kind, d in kinds.items():
            print(f"| {size} | {kind} | {d['faces']} | {d['landmarks']} | {d['pose']} | {d['sharp']} | {d['both']} | "
                  f"{d['people_both']}/{d['people']} | {d['median_abs_dyaw']} / {d['median_abs_deyes']} |")  # fmt: skip


if __name__ == "__main__":
    main()
