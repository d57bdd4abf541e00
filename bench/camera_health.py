"""Cost of camera health per frame, against the two things every frame already pays for.

For each shared clip (../shared/data/videos), decoded once into memory at 640 px wide:
- thumbnail: the motion gate's downscale_gray (paid already, camera health reuses it);
- health: HealthWatch.observe on that thumbnail (measures + state machine + notice hooks),
  after its reference is learned (the steady state);
- detect: one call of the real int8 face detector on the frame (the peer: the work the gate
  exists to skip), on every 10th frame.
Prints microseconds per frame (median of `--rounds` passes) and the ratios health/thumbnail
and health/detect. One thread (OpenCV, LiteRT, numpy BLAS not involved).

With --measures, it prints instead what the thresholds are chosen against: per clip (its own
frames, at its own rate), with the reference learned from its first second as the device
does, the lowest mean grey, grey std, scene match and sharpness ratio (and the highest
sharpness ratio) over all its frames, and the same for the three health clips the tests make
(black sheet, pan to a wall, smeared lens) over their last second.

    .venv/bin/python bench/camera_health.py [--rounds 3] [--json] [--measures]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
sys.path.insert(0, str(ROOT / "device"))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def frames_of(path: Path, width: int = 640, limit: int = 300) -> list:
    import cv2

    from camaudit.sources import open_source
    from camaudit.sources.base import Frame

    src = open_source(str(path), fps=None, loop=False, pace=False)
    out = []
    for it in src.items():
        if isinstance(it, Frame):
            h, w = it.image.shape[:2]
            out.append(cv2.resize(it.image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA))
            if len(out) >= limit:
                break
    src.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--measures", action="store_true")
    args = ap.parse_args()
    if args.measures:
        measures()
        return
    import cv2

    cv2.setNumThreads(1)
    from camaudit.config.feeds import HealthConfig
    from camaudit.core.motion import downscale_gray
    from camaudit.detect import load_detector
    from camaudit.pipeline.camera_health import HealthWatch

    det = load_detector("yunet-int8-640", threads=1, min_score=0.6)
    rows = []
    for clip in sorted(VIDEOS.iterdir()):
        frames = frames_of(clip)
        if len(frames) < 10:
            continue
        thumb_us, health_us = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            thumbs = [downscale_gray(f) for f in frames]
            thumb_us.append((time.perf_counter() - t0) / len(frames) * 1e6)
            w = HealthWatch("bench", HealthConfig(learn_s=0.1), lambda *a: None)
            w.observe(thumbs[0], 0)
            w.observe(thumbs[1], 200)  # reference learned: steady state from here
            w.cost_s, w.frames = 0.0, 0
            for i, t in enumerate(thumbs):
                w.observe(t, 400 + 40 * i)
            health_us.append(w.cost_s / w.frames * 1e6)
        sample = frames[::10]
        t0 = time.perf_counter()
        for f in sample:
            det.detect(f)
        detect_us = (time.perf_counter() - t0) / len(sample) * 1e6
        th, he = statistics.median(thumb_us), statistics.median(health_us)
        rows.append({"clip": clip.name, "frames": len(frames), "size": list(frames[0].shape[1::-1]),
                     "thumbnail_us": round(th), "health_us": round(he), "detect_us": round(detect_us),
                     "health_per_thumbnail": round(he / th, 2), "health_per_detect": round(he / detect_us, 4)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'clip':52} {'thumb us':>9} {'health us':>9} {'detect us':>10} {'h/thumb':>8} {'h/detect':>9}")
    for r in rows:
        print(f"{r['clip']:52} {r['thumbnail_us']:9} {r['health_us']:9} {r['detect_us']:10} "
              f"{r['health_per_thumbnail']:8} {r['health_per_detect']:9}")
    he = statistics.median(r["health_us"] for r in rows)
    print(f"median health cost: {he:.0f} us/frame; "
          f"{statistics.median(r['health_per_detect'] for r in rows):.2%} of one detector call")


def _series(frames: list, fps: float) -> list[tuple[float, float, float | None, float | None]]:
    from camaudit.config.feeds import HealthConfig
    from camaudit.core.motion import downscale_gray
    from camaudit.pipeline.camera_health import HealthWatch, sharpness

    w = HealthWatch("bench", HealthConfig(learn_s=1.0), lambda *a: None)
    out = []
    for i, f in enumerate(frames):
        t = downscale_gray(f)
        w.observe(t, round(i * 1000 / fps))
        ref = w.reference
        out.append((float(t.mean()), float(t.std()),
                    ref.scene_match(t) if ref is not None else None,
                    ref.sharpness_ratio(sharpness(t), t.shape) if ref is not None else None))
    return out


def _row(name: str, s: list) -> str:
    m = [x[2] for x in s if x[2] is not None]
    r = [x[3] for x in s if x[3] is not None]
    return (f"{name:52} {min(x[0] for x in s):6.1f} {min(x[1] for x in s):6.1f} "
            f"{min(m) if m else float('nan'):7.2f} {min(r) if r else float('nan'):7.2f} "
            f"{max(r) if r else float('nan'):7.2f}")


def measures() -> None:
    import cv2

    sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
    from health_clips import FPS, health_clip

    print(f"{'clip (all frames)':52} {'mean':>6} {'std':>6} {'match':>7} {'sharp':>7} {'sharp+':>7}")
    for clip in sorted(VIDEOS.iterdir()):
        cap = cv2.VideoCapture(str(clip))
        fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
        cap.release()
        print(_row(clip.name, _series(frames_of(clip, limit=10_000), fps)))
    print(f"{'health clip (last second)':52}")
    for kind in ("covered", "panned", "smeared"):
        frames = health_clip(kind, VIDEOS)
        if kind == "covered":  # the sheet comes off at the end: its darkest second instead
            frames = frames[: len(frames) - round(5 * FPS)]
        print(_row(kind, _series(frames, FPS)[-round(FPS):]))


if __name__ == "__main__":
    main()
