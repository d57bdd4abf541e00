"""Face sharpness on the hand-annotated faces of the shared clips (bench/annotations).

For every annotated person-shot, the sharpness measure (detect.sharpness) and identifiable-1's
(Laplacian / (contrast + 4)) are measured on the hand-drawn face box of each of its
keyframes at least 32 px tall (no detector involved); the best value over the keyframes is
the person's (a person's verdict is the best of their track). Prints per person the
annotation (identifiable, focus, pose) and both values, then for each measure the lowest
value of an identifiable (`yes`) person and the highest of a `no` person with a frontal or
three-quarter face (the ones pose cannot reject): the margin between them is the
separation on the clips. `--json` the same.

    .venv/bin/python bench/sharpness_clips.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "device"))

from bench._common.clip_frames import frames_at  # noqa: E402
from bench._common.people_annotations import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from camaudit.core.types import Detection
    from camaudit.detect.sharpness import detail_and_contrast, sharpness

    rows = []
    for name, clip in load().items():
        if clip.same_as or not clip.people:
            continue
        want = {f for p in clip.people for f, b in p.keyframes if b[3] >= 32}
        frames = frames_at((ROOT / clip.source).resolve(), want)
        for p in clip.people:
            vals = []
            for f, (x, y, w, h) in p.keyframes:
                if h < 32 or f not in frames:
                    continue
                d = Detection(x, y, w, h, 1.0)
                dc = detail_and_contrast(frames[f], d)
                if dc is not None:
                    vals.append((sharpness(frames[f], d), dc[0] / (dc[1] + 4.0), dc[1]))
            if vals:
                rows.append({"clip": name, "person": p.key, "identifiable": p.identifiable, "focus": p.focus,
                             "pose": p.pose, "sharp": round(max(v[0] for v in vals), 3),
                             "sharp_v1": round(max(v[1] for v in vals), 3),
                             "contrast": round(max(v[2] for v in vals), 1)})
    out: dict = {"people": rows, "separation": {}}
    facing = [r for r in rows if r["pose"] in ("frontal", "three-quarter")]
    for k in ("sharp", "sharp_v1"):
        yes = [r[k] for r in rows if r["identifiable"] == "yes"]
        no = [r[k] for r in facing if r["identifiable"] == "no"]
        out["separation"][k] = {"lowest_yes": min(yes, default=None), "highest_no_facing": max(no, default=None)}
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        return
    for r in rows:
        print(f"{r['clip'][:24]:24s} {r['person']:34s} {r['identifiable']:6s} {r['focus']:7s} {r['pose']:13s} "
              f"sharp {r['sharp']:.3f}  v1 {r['sharp_v1']:.3f}  contrast {r['contrast']:.1f}")
    for k, v in out["separation"].items():
        print(f"{k}: lowest yes {v['lowest_yes']}, highest no (frontal/three-quarter) {v['highest_no_facing']}")


if __name__ == "__main__":
    main()
