#!/usr/bin/env python3
"""How far the accurate mode's recall of faces >= 32 px at precision >= 0.9 can go with the
detectors at hand: ceilings measured on combinations of their predictions (not timed).

    .venv/bin/python bench/ceilings.py --set ../shared/data/wider_dev
    CAMAUDIT_MODELS_DIR=DIR .venv/bin/python bench/ceilings.py --set ... --centerface-float WORK

Rows (AP easy/medium/hard and R>=32 @P>=.9, exactly as bench/accuracy.py computes them):
- alone: accurate (as shipped), centerface (onnxruntime, the peer), and centerface_int8
  when its unshipped files are found (models/build.py --only-centerface --no-ship, then
  CAMAUDIT_MODELS_DIR).
- accurate with every detection smaller than H px dropped: the most any size gating of
  YuNet's detections could give.
- accurate with each candidate scoring below T re-scored from the best-overlapping
  (IoU >= 0.4) CenterFace detection of the same frame, score c (0 if none): (s + c) / 2 or
  T * c. CenterFace here is the float peer itself on the whole frame, the best verifier at
  hand, so this bounds any CenterFace second stage (which would see crops, not the frame).
- --centerface-float WORK (the build dir models/build.py leaves, holding
  tf_cf_640x480/*float32.tflite and tf_cf_480x640/*float32.tflite): centerface_int8 with
  some of its heads taken from the float model on the same letterboxed input, which shows
  which head's quantization costs recall.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import face_detectors as fd  # noqa: E402
from _common.wider_eval import (  # noqa: E402
    SUBSETS,
    GroundTruth,
    average_precision,
    overlaps,
    recall_ge32_at_precision,
)
from accuracy import load_set, progress, run_detector  # noqa: E402

from camaudit.errors import ModelError  # noqa: E402

Preds = dict[str, np.ndarray]


def run(det: fd.BenchDetector, items: list) -> Preds:
    return run_detector(det, items)[0]  # predictions only; the times are not used here


def drop_small(preds: Preds, height: float) -> Preds:
    return {n: p[p[:, 3] >= height] for n, p in preds.items()}


def rescored(
    preds: Preds, verifier: Preds, below: float, rule: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Preds:
    """Candidates scoring below `below` get rule(score, verifier score at IoU >= 0.4 or 0)."""
    out: Preds = {}
    for name, p in preds.items():
        p = p.copy()
        v = verifier[name]
        c = np.zeros(len(p))
        if len(p) and len(v):
            m = overlaps(p, v)
            best = m.argmax(axis=1)
            c = np.where(m.max(axis=1) >= 0.4, v[best, 4], 0.0)
        low = p[:, 4] < below
        p[low, 4] = rule(p[low, 4], c[low])
        out[name] = p
    return out


def scores(preds: Preds, gts: Mapping[str, GroundTruth]) -> dict[str, float]:
    r32, _ = recall_ge32_at_precision(preds, gts, 0.9)
    row = {s: round(average_precision(preds, gts, s), 4) for s in SUBSETS}
    row["recall_ge32_at_p90"] = round(r32, 4)
    return row


def centerface_heads(items: list, float_dir: Path) -> dict[str, Preds]:
    """centerface_int8 with heads from its float twin: "int8", "float", "float heatmap",
    "float scale+offset" (same letterboxed input, same decoding)."""
    import cv2

    from camaudit.detect import centerface as cf
    from camaudit.detect.letterbox import letterbox
    from camaudit.detect.nms import nms
    from camaudit.detect.registry import model_path
    from camaudit.detect.runtime import TFLiteModel

    def heads(model: TFLiteModel, rgb: np.ndarray) -> dict[str | None, np.ndarray]:
        return dict(zip(map(cf.head_name, model.output_names), model.run(rgb), strict=True))

    pairs = {}
    for size in ("640x480", "480x640"):
        found = sorted(float_dir.glob(f"tf_cf_{size}/*_float32.tflite"))
        if not found:
            raise SystemExit(f"{float_dir}: no tf_cf_{size}/*_float32.tflite (run models/build.py --only-centerface --no-ship)")
        pairs[size] = (TFLiteModel(model_path(f"centerface_int8_{size}.tflite")), TFLiteModel(found[0]))
    mixes = {"int8": "iii", "float": "fff", "float heatmap": "fii", "float scale+offset": "iff"}
    out: dict[str, Preds] = {k: {} for k in mixes}
    for i, (name, image, _) in enumerate(items):
        q, f = pairs["480x640" if image.shape[0] > image.shape[1] else "640x480"]
        canvas, box = letterbox(image, q.width, q.height)
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        hq, hf = heads(q, rgb), heads(f, rgb)
        for label, mix in mixes.items():
            src = [hf if m == "f" else hq for m in mix]
            heat = cf._nhwc(src[0]["heatmap"], 1)[..., 0]
            b, s = cf.decode(
                heat, cf._nhwc(src[1]["scale"], 2), cf._nhwc(src[2]["offset"], 2), q.width, q.height, 0.05
            )
            keep = nms(b, s, 0.3)
            dets = box.detections(b[keep], s[keep])
            out[label][name] = fd._as_array(dets)
        progress(i + 1, len(items), "cf heads")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="set_dir", type=Path, required=True, help="images/ + gt/boxes.json")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--centerface-float", type=Path, help="models/build.py work dir with the float CenterFace")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    items = load_set(args.set_dir, 640, args.limit)
    gts = {name: gt for name, _, gt in items}
    accurate = run(fd.ours("accurate", "accurate"), items)
    peer = run(fd.centerface(), items)
    rows: dict[str, dict[str, float]] = {
        "accurate (640 + 1024)": scores(accurate, gts),
        "centerface (onnxruntime, the peer)": scores(peer, gts),
    }
    try:
        cfi8 = run(fd.ours("centerface_int8", "centerface-int8", 0.4, low=0.05), items)
        rows["centerface_int8"] = scores(cfi8, gts)
    except ModelError as exc:  # its files are not shipped
        print(f"centerface_int8 skipped: {exc}", file=sys.stderr)
    for h in (16, 24, 32):
        rows[f"accurate, detections < {h} px dropped"] = scores(drop_small(accurate, h), gts)
    for below in (0.6, 0.75, 0.9):
        rows[f"accurate, < {below} re-scored (s + c) / 2 by centerface"] = scores(
            rescored(accurate, peer, below, lambda s, c: (s + c) / 2), gts
        )
        rows[f"accurate, < {below} re-scored {below} * c by centerface"] = scores(
            rescored(accurate, peer, below, lambda s, c, t=below: t * c), gts
        )
    if args.centerface_float:
        for label, preds in centerface_heads(items, args.centerface_float).items():
            rows[f"centerface_int8 letterboxed, {label}"] = scores(preds, gts)
    if args.json:
        print(json.dumps({"rows": rows, "images": len(items)}, indent=1))
        return
    print(f"# {len(items)} images of {args.set_dir}, long side 640 px")
    print("| combination | AP easy/med/hard | R>=32 @P>=.9 |")
    print("|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['easy']:.3f}/{r['medium']:.3f}/{r['hard']:.3f} | {r['recall_ge32_at_p90']:.3f} |")


if __name__ == "__main__":
    main()
