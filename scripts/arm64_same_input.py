"""The int8 detector on arm64 fed the very input tensors x86 made: are the boxes identical?

What must be identical is what camaudit reports and records: the face count per image and
each box as `camaudit detect --json` gives it (x, y, w, h to 0.1 px, score to 1e-4; face_px,
the integer the events carry). float64 bits need not be: the box decoding's float64 arithmetic
may differ in the last bit between builds (numpy's AVX-512 kernels on one x86 host gave a
1-ulp difference, 5.7e-14 px), far below the 0.1 px anything records. The largest raw
difference is printed for information.

    python arm64_same_input.py save FILE IMAGE...   (x86: record letterboxed inputs + boxes)
    python arm64_same_input.py check FILE           (arm64: replay them, compare)

Separates the model and its runtime (XNNPACK int8 kernels, decoding, NMS) from the image
preprocessing (decode, resize), which check-arm64 also compares end to end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import camaudit.detect.runtime as runtime
from camaudit.detect import load_detector
from camaudit.detect.command import _as_dict as reported


def boxes(dets: list[Any]) -> list[list[float]]:
    return [[float(d.x), float(d.y), float(d.w), float(d.h), float(d.score)] for d in dets]


def reported_boxes(dets: list[Any]) -> list[dict[str, float | int]]:
    return [reported(d) for d in dets]


def main() -> int:
    mode, file = sys.argv[1], Path(sys.argv[2])
    real = runtime.letterbox_into
    det = load_detector("yunet-int8-640", threads=1, min_score=0.6)
    if mode == "save":
        canvases: list[np.ndarray] = []

        def record(frame: np.ndarray, canvas: np.ndarray) -> Any:
            box = real(frame, canvas)
            canvases.append(canvas.copy())
            return box

        runtime.letterbox_into = record
        out = []
        for img in sys.argv[3:]:
            frame = cv2.imread(img)
            found = det.detect(frame)
            out.append({"image": img, "shape": list(frame.shape), "boxes": boxes(found),
                        "reported": reported_boxes(found)})
        np.savez_compressed(file, *canvases, meta=np.frombuffer(json.dumps(out).encode(), np.uint8))
        return 0
    data = np.load(file)
    meta = json.loads(bytes(data["meta"]).decode())
    queue = [data[f"arr_{i}"] for i in range(len(meta))]

    def replay(frame: np.ndarray, canvas: np.ndarray) -> Any:
        box = real(frame, canvas)
        canvas[...] = queue.pop(0)
        return box

    runtime.letterbox_into = replay
    worst, differ, reported_differ = 0.0, 0, 0
    for item in meta:
        found = det.detect(np.zeros(item["shape"], np.uint8))
        got = boxes(found)
        if len(got) != len(item["boxes"]):
            differ += 1
            continue
        reported_differ += reported_boxes(found) != item["reported"]
        for a, b in zip(got, item["boxes"], strict=True):
            worst = max(worst, max(abs(p - q) for p, q in zip(a, b, strict=True)))
    print(json.dumps({"images": len(meta), "count_differs": differ,
                      "reported_differs": int(reported_differ), "max_abs_diff": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
