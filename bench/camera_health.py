"""Cost of camera health per frame, against the two things every frame already pays for.

For each shared clip (../shared/data/videos), decoded once into memory at 640 px wide:
- thumbnail: the motion gate's downscale_gray (paid already, camera health reuses it);
- health: HealthWatch.observe on that thumbnail (measures + state machine + notice hooks),
  after its reference is learned (the steady state);
- detect: one call of the real int8 face detector on the frame (the peer: the work the gate
  exists to skip), on every 10th frame.
Prints microseconds per frame (median of `--rounds` passes) and the ratios health/thumbnail
and health/detect. One thread (OpenCV, LiteRT, numpy BLAS not involved).

    .venv/bin/python bench/camera_health.py [--rounds 3] [--json]
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
