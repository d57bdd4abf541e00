"""Run several detectors on one frame (e.g. one model at two input scales) and merge."""

from __future__ import annotations

import numpy as np

from camaudit.core.types import Detection
from camaudit.detect.base import Detector
from camaudit.detect.nms import nms


class MultiScale:
    """A Detector that unions its parts' detections, then applies NMS across them."""

    def __init__(self, name: str, parts: list[Detector], nms_iou: float = 0.3) -> None:
        if not parts:
            raise ValueError("MultiScale needs at least one detector")
        self.name = name
        self.parts = parts
        self.nms_iou = nms_iou

    def detect(self, frame: np.ndarray) -> list[Detection]:
        found = [d for part in self.parts for d in part.detect(frame)]
        if len(found) < 2:
            return found
        boxes = np.array([[d.x, d.y, d.w, d.h] for d in found])
        scores = np.array([d.score for d in found])
        return [found[i] for i in nms(boxes, scores, self.nms_iou)]
