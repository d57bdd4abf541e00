"""Sizes of the blurred evidence frames (`evidence: blurred`) a device would send to the hub
(`send_evidence: true`), against the 120,000-byte limit of an evidence message.

Every 10th of the first 60 frames of each shared clip goes through the device's own
save_evidence (safe view, JPEG quality 85); no detections are passed, so the frames are
the pixelated scene alone (a filled face box only makes a frame smaller).

    .venv/bin/python bench/evidence_sizes.py [--videos /work/shared/data/videos]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2

from camaudit.mqtt.evidence_sender import MAX_BYTES
from camaudit.pipeline.evidence import save_evidence


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=Path("/work/shared/data/videos"))
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="camaudit-evsize-"))
    worst = 0
    print(f"{'clip':<52} {'size':>10} {'frames':>6} {'min B':>7} {'max B':>7}")
    for clip in sorted(args.videos.iterdir()):
        cap = cv2.VideoCapture(str(clip))
        sizes, shape = [], None
        for i in range(60):
            ok, frame = cap.read()
            if not ok:
                break
            if i % 10:
                continue
            shape = frame.shape
            ref = save_evidence(frame, [], out)
            sizes.append(os.path.getsize(out / f"{ref[7:]}.jpg"))
        cap.release()
        if not sizes or shape is None:
            continue
        worst = max(worst, max(sizes))
        print(f"{clip.name:<52} {shape[1]:>4}x{shape[0]:<5} {len(sizes):>6} {min(sizes):>7} {max(sizes):>7}")
    for f in out.iterdir():
        f.unlink()
    out.rmdir()
    print(f"largest {worst} bytes; limit {MAX_BYTES} bytes ({worst / MAX_BYTES:.0%} of it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
