"""Five face landmarks for boxes the shipped detector found (an adapter: OpenCV dnn).

The shipped int8 TFLite graph has no landmark heads (models/MODEL.md), so each face box
large enough to matter is looked at again, alone: a square crop of 1.6 box heights around
it (2.6 when that finds no face), resized to 96 x 96, goes through the upstream YuNet ONNX (models/
yunet_landmarks_int8bq.onnx, MIT) with OpenCV's FaceDetectorYN, and the landmarks of the
face nearest the crop's centre are mapped back to frame pixels. A crop where no face is
found (a back of the head, a full profile) gives no landmarks: its pose cannot pass.

To stay cheap, the pipeline asks only for boxes at least min_face_px tall that are not on
an already identifiable track's place (`settled`), and a place is looked at again at most
every `every_ms` (a box overlapping,
IoU >= 0.5, one measured less than that ago gets no landmarks this frame: it does not
become the track's peak there, its earlier measured frames do). Pose changes at the speed
a head turns; 2 looks a second per face is measured to keep the pipeline within 10% of
its speed without landmarks (bench/pipeline.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect.registry import model_path

log = logging.getLogger(__name__)

MODEL_FILE = "yunet_landmarks_int8bq.onnx"
SIDE = 96  # crop side given to the model (a multiple of 32)
# crop side / box height: the tight crop first; a face it misses (the network did not find
# a man in glasses in a three-quarter view at 66 px in any tight crop of his track, measured
# on the facenet clip) is looked for once more with more context around it
PADS = (1.6, 2.6)
MIN_SCORE = 0.5


class Landmarker:
    def __init__(self, every_ms: int = 500) -> None:
        self._path = model_path(MODEL_FILE)  # a missing file fails at start, not mid-run
        self._net: Any = None  # made at the first look: a feed that never sees a face
        # large enough does not carry OpenCV's dnn (about 7 MB RSS, bench/pipeline.py)
        self.every_ms = every_ms
        self._recent: list[tuple[Detection, int]] = []
        self.looked = 0

    def landmarks(self, frame: np.ndarray, det: Detection) -> tuple[float, ...] | None:
        """The five landmarks of the face in `det`'s box, in frame pixels: the crop of
        PADS[0] box heights, and only if the network finds no face there the wider one of
        PADS[1]; None when neither shows a face."""
        for pad in PADS:
            pts = self._look(frame, det, pad)
            if pts is not None:
                return pts
        return None

    def _look(self, frame: np.ndarray, det: Detection, pad: float) -> tuple[float, ...] | None:
        import cv2

        fh, fw = frame.shape[:2]
        side = max(det.w, det.h) * pad
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
        if self._net is None:
            self._net = cv2.FaceDetectorYN.create(str(self._path), "", (SIDE, SIDE), MIN_SCORE, 0.3, 50)
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

    def add(
        self,
        frame: np.ndarray,
        dets: list[Detection],
        min_px: float,
        ts_ms: int | None = None,
        settled: Sequence[Detection] = (),
    ) -> list[Detection]:
        """`dets` with landmarks for boxes at least `min_px` tall that have none (at
        `ts_ms`, only those not looked at in the last `every_ms` at that place). Boxes
        overlapping (IoU >= 0.5) one of `settled` (the last boxes of tracks already
        identifiable: a person's verdict is the best of their track, so it cannot change)
        are not looked at."""
        if ts_ms is not None:
            self._recent = [(b, t) for b, t in self._recent if 0 <= ts_ms - t < self.every_ms]
        out: list[Detection] = []
        for d in dets:
            if d.landmarks is not None or d.h < min_px or any(b.iou(d) >= 0.5 for b in settled):
                out.append(d)
                continue
            if ts_ms is not None:
                if any(b.iou(d) >= 0.5 for b, _ in self._recent):
                    out.append(d)
                    continue
                self._recent.append((d, ts_ms))
            self.looked += 1
            out.append(replace(d, landmarks=self.landmarks(frame, d)))
        return out
