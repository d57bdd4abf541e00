"""Calibrates the identifiable criteria (docs/tracks.md) on WIDER FACE dev ground truth.

For every ground-truth face at least 32 px tall that the shipped detector finds (IoU >=
0.5), the pipeline's own measures (detect.sharpness, detect.landmarks -> core.identify)
(and identifiable-1's sharpness, Laplacian / (contrast + 4), as `sharpness_v1`)
are compared with WIDER's labels: `blur` (0 clear, 1 normal, 2 heavy) and `pose`
(0 typical, 1 atypical: profiles, strong turns). Prints, per candidate threshold, the
share of each label class that passes, so a default can be read off; `--json` the same.

    .venv/bin/python bench/identify_calib.py [--images N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "wider_dev"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=323)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from camaudit.core.identify import pose_values
    from camaudit.core.types import Detection
    from camaudit.detect import load_detector
    from camaudit.detect.landmarks import Landmarker
    from camaudit.detect.sharpness import detail_and_contrast, sharpness

    gt = json.loads((DATA / "gt" / "boxes.json").read_text())
    det = load_detector("yunet-int8-640")
    lm = Landmarker()
    rows = []
    for name in sorted(gt)[: a.images]:
        img = cv2.imread(str(DATA / "images" / name))
        if img is None:
            continue
        found = det.detect(img)
        for g in gt[name]:
            if g["invalid"] or g["h"] < 32:
                continue
            gd = Detection(g["x"], g["y"], g["w"], g["h"], 1.0)
            best = max(found, key=gd.iou, default=None)
            if best is None or gd.iou(best) < 0.5:
                continue
            d = best.__class__(best.x, best.y, best.w, best.h, best.score, lm.landmarks(img, best))
            eyes, yaw = pose_values(d)
            dc = detail_and_contrast(img, best)
            rows.append({"blur": g["blur"], "pose": g["pose"], "occlusion": g["occlusion"],
                         "h": round(best.h), "sharp": sharpness(img, best), "eyes": eyes, "yaw": yaw,
                         "sharp_v1": None if dc is None else dc[0] / (dc[1] + 4.0),
                         "contrast": None if dc is None else dc[1]})
    out: dict = {"faces": len(rows), "sharpness": {}, "sharpness_v1": {}, "auc_clear_vs_heavy": {},
                 "contrast_below": {}, "yaw": {}, "eyes": {}}
    for t in (0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.25):
        out["sharpness"][t] = {f"blur{b}": _share([r for r in rows if r["blur"] == b], lambda r, t=t: r["sharp"] is not None and r["sharp"] >= t) for b in (0, 1, 2)}
    for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2):
        out["yaw"][t] = {f"pose{p}": _share([r for r in rows if r["pose"] == p], lambda r, t=t: r["yaw"] is not None and r["yaw"] <= t) for p in (0, 1)}
    for t in (0.15, 0.2, 0.25, 0.3):
        out["eyes"][t] = {f"pose{p}": _share([r for r in rows if r["pose"] == p], lambda r, t=t: r["eyes"] is not None and r["eyes"] >= t) for p in (0, 1)}
    for t in (0.14, 0.16, 0.18, 0.20, 0.22, 0.25):
        out["sharpness_v1"][t] = {f"blur{b}": _share([r for r in rows if r["blur"] == b], lambda r, t=t: r["sharp_v1"] is not None and r["sharp_v1"] >= t) for b in (0, 1, 2)}
    # separation of clear (0) from heavy blur (2): the probability that a clear face measures
    # higher than a heavily blurred one (ROC AUC), for this measure and identifiable-1's
    for k in ("sharp", "sharp_v1"):
        out["auc_clear_vs_heavy"][k] = _auc([r[k] for r in rows if r["blur"] == 0 and r[k] is not None],
                                            [r[k] for r in rows if r["blur"] == 2 and r[k] is not None])
    for t in (8, 12, 16, 20):
        out["contrast_below"][t] = {f"blur{b}": _share([r for r in rows if r["blur"] == b], lambda r, t=t: r["contrast"] is not None and r["contrast"] < t) for b in (0, 1, 2)}
    out["counts"] = {f"blur{b}": sum(r["blur"] == b for r in rows) for b in (0, 1, 2)} | {f"pose{p}": sum(r["pose"] == p for r in rows) for p in (0, 1)}
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        return
    print(f"{out['faces']} matched faces >= 32 px; {out['counts']}")
    print("AUC clear vs heavy blur: " + "  ".join(f"{k} {v:.3f}" for k, v in out["auc_clear_vs_heavy"].items()))
    for k in ("sharpness", "sharpness_v1", "contrast_below", "yaw", "eyes"):
        for t, v in out[k].items():
            print(f"{k:9s} {t:5}: " + "  ".join(f"{c} {s:.2f}" for c, s in v.items()))


def _auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _share(rows: list, ok) -> float:
    return sum(1 for r in rows if ok(r)) / len(rows) if rows else float("nan")


if __name__ == "__main__":
    main()
