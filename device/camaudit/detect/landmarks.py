"""Five face landmarks for boxes the shipped detector found (an adapter: OpenCV dnn).

The shipped int8 TFLite graph has no landmark heads (models/MODEL.md), so each face box
large enough to matter is looked at again, alone: a square crop of 1.6 box heights around
it, resized to 96 x 96, goes through the upstream YuNet ONNX (models/
yunet_landmarks_int8bq.onnx, MIT) with OpenCV's FaceDetectorYN, and the landmarks of the
face nearest the crop's centre are mapped back to frame pixels. A crop where no face is
found (a back of the head, a full profile) gives no landmarks: its pose cannot pass.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect.registry import model_path

log = logging.getLogger(__name__)

MODEL_FILE = "yunet_landmarks_int8bq.onnx"
SIDE = 96  # crop side given to the model (a multiple of 32)
PAD = 1.6  # crop side / box height
MIN_SCORE = 0.5


class Landmarker:
    def __init__(self) -> None:
        import cv2

        path = model_path(MODEL_FILE)
        self._net: Any = cv2.FaceDetectorYN.create(str(path), "", (SIDE, SIDE), MIN_SCORE, 0.3, 50)

    def landmarks(self, frame: np.ndarray, det: Detection) -> tuple[float, ...] | None:
        import cv2

        fh, fw = frame.shape[:2]
        side = max(det.w, det.h) * PAD
        cx, cy = det.x + det.w / 2, det.y + det.h / 2
        x1, y1 = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        if s < 8:
            return None
        crop = np.zeros((s, s, 3), dtype=np.uint8)
        sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(fw, x1 + s), min(fh, y1 + s)
        if sx2 <= sx1 or sy2 <= sy1:
            return None
        src = frame[sy1:sy2, sx1:sx2]
        if src.ndim == 2:
            src = cv2.cvtColor(src, cv2.COLOR_GRAY2BGR)
        crop[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = src
        img = cv2.resize(crop, (SIDE, SIDE), interpolation=cv2.INTER_AREA if s > SIDE else cv2.INTER_LINEAR)
        _, faces = self._net.detect(img)
        if faces is None or len(faces) == 0:
            return None
        centre = SIDE / 2
        best = min(faces, key=lambda f: (f[0] + f[2] / 2 - centre) ** 2 + (f[1] + f[3] / 2 - centre) ** 2)
        k = s / SIDE
        pts = best[4:14]
        return tuple(
            round(float(v) * k + (x1 if i % 2 == 0 else y1), 1) for i, v in enumerate(pts)
        )

    def add(self, frame: np.ndarray, dets: list[Detection], min_px: float) -> list[Detection]:
        """`dets` with landmarks for boxes at least `min_px` tall that have none."""
        return [
            replace(d, landmarks=self.landmarks(frame, d)) if d.landmarks is None and d.h >= min_px else d
            for d in dets
        ]
