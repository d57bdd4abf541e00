"""WIDER FACE evaluation, following the official protocol (wider_face_evaluation).

Per subset (easy / medium / hard): faces outside the subset and `invalid` faces are
ignore regions (a detection matching one is neither right nor wrong); scores are
normalised to [0, 1] over all detections of one detector; 1,000 thresholds; IoU 0.5 with
the official +1 pixel box convention; VOC all-point average precision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SUBSETS = ("easy", "medium", "hard")
HEIGHT_BINS: tuple[tuple[str, float, float], ...] = (
    ("<16", 0, 16),
    ("16-24", 16, 24),
    ("24-32", 24, 32),
    ("32-48", 32, 48),
    ("48-96", 48, 96),
    (">=96", 96, float("inf")),
)
THRESH_NUM = 1000
IOU = 0.5


@dataclass(frozen=True)
class GroundTruth:
    """One image's faces: boxes N x 4 (x, y, w, h, frame pixels) and per-face flags."""

    boxes: np.ndarray
    invalid: np.ndarray
    subset: Mapping[str, np.ndarray]  # "easy" -> bool N

    def keep(self, subset: str) -> np.ndarray:
        return self.subset[subset] & ~self.invalid


def ground_truth(faces: Sequence[Mapping[str, object]], scale: float) -> GroundTruth:
    """From one image's entries of gt/boxes.json, boxes scaled by `scale`."""
    boxes = np.array([[f["x"], f["y"], f["w"], f["h"]] for f in faces], dtype=np.float64).reshape(-1, 4)
    return GroundTruth(
        boxes=boxes * scale,
        invalid=np.array([bool(f["invalid"]) for f in faces], dtype=bool),
        subset={s: np.array([bool(f[f"in_{s}"]) for f in faces], dtype=bool) for s in SUBSETS},
    )


def overlaps(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU matrix (P x G) of x y w h boxes, with the official +1 pixel convention."""
    p = pred[:, :4].astype(np.float64)
    g = gt[:, :4].astype(np.float64)
    px2, py2 = p[:, 0] + p[:, 2], p[:, 1] + p[:, 3]
    gx2, gy2 = g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
    iw = np.minimum(px2[:, None], gx2[None]) - np.maximum(p[:, None, 0], g[None, :, 0]) + 1
    ih = np.minimum(py2[:, None], gy2[None]) - np.maximum(p[:, None, 1], g[None, :, 1]) + 1
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    pa = (p[:, 2] + 1) * (p[:, 3] + 1)
    ga = (g[:, 2] + 1) * (g[:, 3] + 1)
    return inter / (pa[:, None] + ga[None] - inter)


def image_eval(pred: np.ndarray, gt: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pred sorted by score desc. Returns (recalled faces after each pred, proposal flags)."""
    pred_recall = np.zeros(len(pred))
    recall_list = np.zeros(len(gt))
    proposal = np.ones(len(pred))
    if len(gt) == 0:
        return pred_recall, proposal
    ov = overlaps(pred, gt)
    for h in range(len(pred)):
        j = int(ov[h].argmax())
        if ov[h, j] >= IOU:
            if not keep[j]:
                recall_list[j] = -1
                proposal[h] = -1
            elif recall_list[j] == 0:
                recall_list[j] = 1
        pred_recall[h] = np.count_nonzero(recall_list == 1)
    return pred_recall, proposal


def img_pr_info(scores: np.ndarray, proposal: np.ndarray, pred_recall: np.ndarray) -> np.ndarray:
    pr = np.zeros((THRESH_NUM, 2))
    for t in range(THRESH_NUM):
        thresh = 1 - (t + 1) / THRESH_NUM
        idx = np.nonzero(scores >= thresh)[0]
        if len(idx):
            r = idx[-1]
            pr[t, 0] = np.count_nonzero(proposal[: r + 1] == 1)
            pr[t, 1] = pred_recall[r]
    return pr


def voc_ap(rec: np.ndarray, prec: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def normalise(preds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Min-max normalise scores over all images, sort each image's predictions by score."""
    all_scores = [p[:, 4] for p in preds.values() if len(p)]
    lo, hi = (
        (float(np.min(np.concatenate(all_scores))), float(np.max(np.concatenate(all_scores))))
        if all_scores
        else (0.0, 1.0)
    )
    span = hi - lo if hi > lo else 1.0
    out: dict[str, np.ndarray] = {}
    for k, p in preds.items():
        q = p.astype(np.float64).copy()
        if len(q):
            q[:, 4] = (q[:, 4] - lo) / span
            q = q[np.argsort(-q[:, 4], kind="stable")]
        out[k] = q
    return out


def average_precision(
    preds: Mapping[str, np.ndarray], gts: Mapping[str, GroundTruth], subset: str
) -> float:
    """WIDER AP for one subset; preds: image -> N x 5 (x, y, w, h, score)."""
    norm = normalise(preds)
    curve = np.zeros((THRESH_NUM, 2))
    count_face = 0
    for name, gt in gts.items():
        keep = gt.keep(subset)
        count_face += int(keep.sum())
        pred = norm.get(name, np.zeros((0, 5)))
        if len(gt.boxes) == 0 or len(pred) == 0:
            continue
        pred_recall, proposal = image_eval(pred, gt.boxes, keep)
        curve += img_pr_info(pred[:, 4], proposal, pred_recall)
    prec = np.divide(curve[:, 1], curve[:, 0], out=np.zeros(THRESH_NUM), where=curve[:, 0] > 0)
    rec = curve[:, 1] / max(count_face, 1)
    return voc_ap(rec, prec)


@dataclass(frozen=True)
class OperatingPoint:
    precision: float
    recall: float
    recall_by_height: dict[str, float | None]
    recall_ge32: float
    detections: int
    faces: int


def operating_point(
    preds: Mapping[str, np.ndarray], gts: Mapping[str, GroundTruth], threshold: float
) -> OperatingPoint:
    """Precision and recall of the detections scoring >= threshold (IoU 0.5, one-to-one).

    A detection is right when it matches any annotated face (ignore regions included: a
    face is not a false alarm); recall and recall by height count the valid faces of the
    hard subset (all valid WIDER faces), height = box height in the evaluated frame.
    """
    tp = fp = 0
    found_by_bin = {b[0]: 0 for b in HEIGHT_BINS}
    total_by_bin = {b[0]: 0 for b in HEIGHT_BINS}
    faces = found = big = big_found = 0
    for name, gt in gts.items():
        pred = preds.get(name, np.zeros((0, 5)))
        pred = pred[pred[:, 4] >= threshold]
        pred = pred[np.argsort(-pred[:, 4], kind="stable")]
        matched = np.zeros(len(gt.boxes), dtype=bool)
        if len(pred) and len(gt.boxes):
            ov = overlaps(pred, gt.boxes)
            for h in range(len(pred)):
                cand = np.where(matched, -1.0, ov[h])
                j = int(cand.argmax())
                if cand[j] >= IOU:
                    matched[j] = True
                    tp += 1
                else:
                    fp += 1
        else:
            fp += len(pred)
        keep = gt.keep("hard")
        faces += int(keep.sum())
        found += int((keep & matched).sum())
        heights = gt.boxes[:, 3]
        big += int((keep & (heights >= 32)).sum())
        big_found += int((keep & (heights >= 32) & matched).sum())
        for label, lo, hi in HEIGHT_BINS:
            in_bin = keep & (heights >= lo) & (heights < hi)
            total_by_bin[label] += int(in_bin.sum())
            found_by_bin[label] += int((in_bin & matched).sum())
    return OperatingPoint(
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=found / faces if faces else 0.0,
        recall_by_height={
            k: (found_by_bin[k] / total_by_bin[k] if total_by_bin[k] else None) for k in total_by_bin
        },
        recall_ge32=big_found / big if big else 0.0,
        detections=tp + fp,
        faces=faces,
    )


def recall_ge32_at_precision(
    preds: Mapping[str, np.ndarray], gts: Mapping[str, GroundTruth], min_precision: float = 0.9
) -> tuple[float, float | None]:
    """(best recall of faces >= 32 px, its threshold) over every threshold (each score a
    detector gave) at which precision stays >= min_precision.

    Exact, in one pass: operating_point's greedy matching takes each image's detections
    best first, so whether a detection is right (and which face it takes) does not depend
    on the threshold, only whether it is counted. One match at the lowest score, then
    cumulative sums over the detections sorted by score.
    """
    rows: list[tuple[float, bool, bool]] = []  # score, right, takes a valid face >= 32 px
    big = 0
    for name, gt in gts.items():
        pred = preds.get(name, np.zeros((0, 5)))
        pred = pred[np.argsort(-pred[:, 4], kind="stable")]
        keep_big = gt.keep("hard") & (gt.boxes[:, 3] >= 32)
        big += int(keep_big.sum())
        matched = np.zeros(len(gt.boxes), dtype=bool)
        ov = overlaps(pred, gt.boxes) if len(pred) and len(gt.boxes) else None
        for h in range(len(pred)):
            right = takes_big = False
            if ov is not None:
                cand = np.where(matched, -1.0, ov[h])
                j = int(cand.argmax())
                if cand[j] >= IOU:
                    matched[j] = right = True
                    takes_big = bool(keep_big[j])
            rows.append((float(pred[h, 4]), right, takes_big))
    if not rows or not big:
        return 0.0, None
    rows.sort(key=lambda r: -r[0])
    scores = np.array([r[0] for r in rows])
    tp = np.cumsum([r[1] for r in rows])
    found = np.cumsum([r[2] for r in rows])
    last = np.r_[scores[1:] != scores[:-1], True]  # a threshold admits all equal scores
    precision = tp / np.arange(1, len(rows) + 1)
    ok = last & (precision >= min_precision)
    if not ok.any():
        return 0.0, None
    recall = np.where(ok, found / big, -1.0)
    i = int(recall.argmax())
    return float(recall[i]), float(scores[i])
