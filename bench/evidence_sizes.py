"""Blurred evidence frames (`evidence: blurred`) a device would send to the hub
(`send_evidence: true`): their sizes against the 120,000-byte limit of an evidence message,
and (`--faces`) what the hub's face check (hub/evidence/inbox.py FaceCheck: the shipped detector,
min_score 0.5, faces >= 20 px) finds in them and in the raw frames they were made from.

Every 10th of the first 60 (sizes) or 120 (--faces) frames of each shared clip goes through
the device's own save_evidence (safe view, JPEG quality 85). Sizes: no detections passed, the
pixelated scene alone (a filled face box only makes a frame smaller). --faces: the frame's
detections (the same detector) are passed, as the pipeline does.

    .venv/bin/python bench/evidence_sizes.py [--videos ../shared/data/videos] [--faces]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2

from camaudit.mqtt.evidence_sender import MAX_BYTES
from camaudit.pipeline.evidence import save_evidence


def frames(clip: Path, count: int, every: int = 10):
    cap = cv2.VideoCapture(str(clip))
    for i in range(count):
        ok, frame = cap.read()
        if not ok:
            break
        if i % every == 0:
            yield frame
    cap.release()


def sizes(videos: Path, out: Path) -> None:
    worst = 0
    print(f"{'clip':<52} {'size':>10} {'frames':>6} {'min B':>7} {'max B':>7}")
    for clip in sorted(videos.iterdir()):
        got, shape = [], None
        for frame in frames(clip, 60):
            shape = frame.shape
            ref = save_evidence(frame, [], out)
            got.append(os.path.getsize(out / f"{ref[7:]}.jpg"))
        if not got or shape is None:
            continue
        worst = max(worst, max(got))
        print(f"{clip.name:<52} {shape[1]:>4}x{shape[0]:<5} {len(got):>6} {min(got):>7} {max(got):>7}")
    print(f"largest {worst} bytes; limit {MAX_BYTES} bytes ({worst / MAX_BYTES:.0%} of it)")


def faces(videos: Path, out: Path) -> None:
    from camaudit.detect import load_detector
    from camaudit.hub.evidence.inbox import FACE_PX, FACE_SCORE, FaceCheck

    det = load_detector(min_score=FACE_SCORE)
    check = FaceCheck()
    n = raw_hit = safe_found = 0
    times: list[float] = []
    print(f"{'clip':<52} {'frames':>6} {'raw with a face':>16} {'faces in safe views':>20}")
    for clip in sorted(videos.iterdir()):
        c_n = c_raw = c_safe = 0
        for frame in frames(clip, 120):
            found = det.detect(frame)
            c_n += 1
            c_raw += any(d.h >= FACE_PX for d in found)
            ref = save_evidence(frame, found, out)
            data = (out / f"{ref[7:]}.jpg").read_bytes()
            t = time.perf_counter()
            c_safe += check(data)
            times.append(time.perf_counter() - t)
        print(f"{clip.name:<52} {c_n:>6} {c_raw:>16} {c_safe:>20}")
        n, raw_hit, safe_found = n + c_n, raw_hit + c_raw, safe_found + c_safe
    times.sort()
    print(f"{n} frames: {raw_hit} raw frames with a face >= {FACE_PX} px at {FACE_SCORE}; "
          f"{safe_found} faces in their safe views; check {1000 * times[len(times) // 2]:.0f} ms median")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--videos", type=Path,
                    default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos")
    ap.add_argument("--faces", action="store_true", help="run the hub's face check instead of sizes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="camaudit-evbench-") as tmp:
        (faces if args.faces else sizes)(args.videos, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
