"""Greedy non-maximum suppression on (x, y, w, h) boxes."""

from __future__ import annotations

import numpy as np


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3) -> np.ndarray:
    """Indices of the boxes kept, best score first.

    A box is dropped when its IoU with an already kept, higher-scoring box exceeds
    `iou_threshold`. `boxes` is N x 4 (x, y, w, h); `scores` is N. OpenCV's NMSBoxes
    (the same greedy rule, in C++) when OpenCV is installed, else numpy.
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    try:
        import cv2
    except ImportError:
        return nms_numpy(boxes, scores, iou_threshold)
    b = np.asarray(boxes, dtype=np.float64).copy()
    b[:, 2:] = np.maximum(b[:, 2:], 0.0)
    s = np.asarray(scores, np.float32)
    keep = cv2.dnn.NMSBoxes(b, s - min(0.0, float(s.min())), 0.0, float(iou_threshold))  # type: ignore[arg-type]
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3) -> np.ndarray:
    """The same as nms(), in numpy only."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    b = boxes.astype(np.float64)
    x1, y1 = b[:, 0], b[:, 1]
    x2, y2 = x1 + np.maximum(b[:, 2], 0), y1 + np.maximum(b[:, 3], 0)
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
