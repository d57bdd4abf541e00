"""Prints, per image, a hash of OpenCV's resize to a 640 long side for three interpolations.

check-arm64 runs it on x86 and emulated arm64: the same hash means bit-identical pixels.
    python arm64_resize.py IMAGE...
"""

from __future__ import annotations

import hashlib
import json
import sys

import cv2

MODES = ("INTER_AREA", "INTER_LINEAR", "INTER_LINEAR_EXACT")

for path in sys.argv[1:]:
    img = cv2.imread(path)
    h, w = img.shape[:2]
    s = 640 / max(h, w)
    size = (round(w * s), round(h * s))
    print(json.dumps({m: hashlib.sha256(cv2.resize(img, size, interpolation=getattr(cv2, m)).tobytes())
                      .hexdigest()[:16] for m in MODES}))
