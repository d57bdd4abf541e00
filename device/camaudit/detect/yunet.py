"""YuNet (OpenCV Zoo face detector) output decoding.

The model has anchor-free heads at strides 8, 16 and 32. For each stride s and each cell
(row r, column c) of the (H/s) x (W/s) grid, in row-major order, it gives cls and obj
probabilities, a box (dx, dy, dw, dh) and 5 landmarks. Decoding as in OpenCV's
FaceDetectorYN: score = sqrt(cls * obj); centre = ((c, r) + (dx, dy)) * s;
size = exp((dw, dh)) * s.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np

STRIDES = (8, 16, 32)
# The output order of the upstream ONNX graph (face_detection_yunet_2023mar).
ONNX_OUTPUTS = tuple(f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in STRIDES)


@lru_cache(maxsize=64)
def grid(width: int, height: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row index of every cell, row-major, for a stride on a W x H input.

    Cached (a feed has one input size); the arrays are read-only.
    """
    cols, rows = width // stride, height // stride
    r, c = np.divmod(np.arange(rows * cols), cols)
    c, r = c.astype(np.float64), r.astype(np.float64)
    c.flags.writeable = False
    r.flags.writeable = False
    return c, r


def decode(
    heads: Mapping[str, np.ndarray], width: int, height: int, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N x 4, x y w h in input pixels) and scores (N) at or above `min_score`.

    `heads` maps "cls_8", "obj_8", "bbox_8", ... (any leading batch dims) to float arrays.
    """
    boxes, scores, _ = decode_with_landmarks(heads, width, height, min_score)
    return boxes, scores


def decode_with_landmarks(
    heads: Mapping[str, np.ndarray], width: int, height: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """As decode(), plus the 5 landmarks (N x 10: x1 y1 .. x5 y5 in input pixels) when
    `heads` holds the kps_* heads, else None. Landmark k of a cell: ((c, r) + kps) * s."""
    all_boxes: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    all_kps: list[np.ndarray] = []
    with_kps = all(f"kps_{s}" in heads for s in STRIDES)
    for s in STRIDES:
        cls = heads[f"cls_{s}"].reshape(-1)
        obj = heads[f"obj_{s}"].reshape(-1)
        bbox = heads[f"bbox_{s}"].reshape(-1, 4)
        c, r = grid(width, height, s)
        if len(c) != len(cls) or len(bbox) != len(cls):
            raise ValueError(
                f"stride {s}: {len(cls)} scores, {len(bbox)} boxes, {len(c)} cells for {width}x{height}"
            )
        # cls, obj in [0, 1]: sqrt(cls * obj) >= t  <=>  cls * obj >= t^2 (no sqrt per cell)
        sel = np.flatnonzero(cls * obj >= np.float32(min_score) ** 2)
        if sel.size == 0:
            continue
        score = np.sqrt(np.clip(cls[sel], 0.0, 1.0) * np.clip(obj[sel], 0.0, 1.0))
        b = bbox[sel].astype(np.float64)
        cx = (c[sel] + b[:, 0]) * s
        cy = (r[sel] + b[:, 1]) * s
        w = np.exp(b[:, 2]) * s
        h = np.exp(b[:, 3]) * s
        all_boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        all_scores.append(score.astype(np.float64))
        if with_kps:
            k = heads[f"kps_{s}"].reshape(-1, 10)[sel].astype(np.float64)
            k[:, 0::2] = (k[:, 0::2] + c[sel, None]) * s
            k[:, 1::2] = (k[:, 1::2] + r[sel, None]) * s
            all_kps.append(k)
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0), (np.zeros((0, 10)) if with_kps else None)
    kps = np.concatenate(all_kps) if with_kps else None
    return np.concatenate(all_boxes), np.concatenate(all_scores), kps
