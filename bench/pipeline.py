"""Whole-pipeline speed on one thread, against OpenCV's own FaceDetectorYN loop.

Prints, for a 640x480 clip made from a real clip in ../shared/data/videos:
- frames/s of the whole camaudit pipeline (decode, motion gate, detect, track, capture,
  journal), the share of its time inside the detector call, and its peak RSS;
- frames/s of the peer: decode + cv2.FaceDetectorYN (upstream YuNet ONNX, the faster of the
  int8bq and dequantized fp32 files) on every frame; and the ratio;
- the speed-up the motion gate gives on a still scene (one frame + sensor noise) against the
  same pipeline with the gate off.
Each measurement runs in its own child process with OpenCV and LiteRT on one thread.
frames/s is timed from after set-up on both sides: the peer from after
FaceDetectorYN.create, the pipeline from its feed loop's creation (detector loaded, journal
open); the pipeline's set-up time is printed apart.

    .venv/bin/python bench/pipeline.py [--clip PATH] [--repeat 3] [--rounds 3] [--json]
        [--baseline SRC]

--baseline SRC (e.g. a checkout of main at /work/main) also runs that version's pipeline
(its device/ source tree, in the same rounds, same clip, back to back with ours, the order
alternating) and prints the median and every round's ratio of ours to it, of frames/s and
of frames per CPU second (steadier on a shared machine); --pair-only runs only those two.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "videos" / "facenet-pytorch_video.mp4"
sys.path.insert(0, str(ROOT))


def make_clip(src: Path, out: Path, repeat: int, still: bool = False) -> int:
    """Centre-crop to 4:3, scale to 640x480, write `repeat` passes (or one still frame)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        h, w = f.shape[:2]
        cw = min(w, h * 4 // 3)
        x0 = (w - cw) // 2
        frames.append(cv2.resize(f[:, x0 : x0 + cw], (640, 480), interpolation=cv2.INTER_AREA))
    cap.release()
    if not frames:
        raise SystemExit(f"{src}: no frames decoded")
    if still:
        rng = np.random.default_rng(0)
        base = frames[len(frames) // 2].astype(np.int16)
        frames = [
            np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8)
            for _ in frames
        ]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    n = 0
    for _ in range(repeat):
        for f in frames:
            writer.write(f)
            n += 1
    writer.release()
    return n


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's RSS at fork time)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_pipeline(clip: str, workdir: str, gate: bool) -> dict[str, float]:
    import cv2

    cv2.setNumThreads(1)
    from camaudit.config.model import Config
    from camaudit.pipeline.runner import run

    feed: dict[str, object] = {"source": clip}
    if not gate:
        feed["motion_threshold"] = 0  # detect on every frame
    cfg = Config.model_validate(
        {
            "device": {"id": "bench-01", "data_dir": workdir},
            "detector": {"threads": 1},
            "feeds": {"cam": feed},
        }
    )
    t0, c0 = time.perf_counter(), time.process_time()
    summary = run(cfg, db=Path(workdir) / "journal.db", install_signals=False)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    st = summary.feeds["cam"]
    # Timed from the feed loop's creation (detector loaded, journal open) to the end, as
    # the peer is timed from after FaceDetectorYN.create: set-up is a daemon's one-time
    # cost, reported apart (setup_s), not per-frame throughput.
    wall = time.monotonic() - st.started
    return {
        "frames": st.frames,
        "wall_s": wall,
        "setup_s": max(0.0, total - wall),
        "fps": st.frames / wall,
        "detect_s": st.detect_s,
        "detected": st.detected,
        "events": summary.events,
        "rss_mb": peak_rss_mb(),
        # CPU seconds of the whole process (all threads, set-up included): on a machine
        # shared with other jobs far steadier than wall time
        "cpu_s": cpu,
        "fps_cpu": st.frames / cpu,
    }


def child_peer(clip: str, onnx: str) -> dict[str, float]:
    import cv2

    cv2.setNumThreads(1)
    net = cv2.FaceDetectorYN.create(onnx, "", (640, 480), 0.6, 0.3, 5000)
    cap = cv2.VideoCapture(clip)
    n = 0
    faces_total = 0
    t0 = time.perf_counter()
    while True:
        ok, f = cap.read()
        if not ok:
            break
        _, faces = net.detect(f)
        faces_total += 0 if faces is None else len(faces)
        n += 1
    wall = time.perf_counter() - t0
    return {"frames": n, "wall_s": wall, "fps": n / wall, "faces": faces_total,
            "rss_mb": peak_rss_mb()}


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median frames/s (its other numbers come with it)."""
    return sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def pair_result(runs: dict[str, list[dict[str, float]]], src: str) -> dict[str, object]:
    """Ours against the baseline round by round (each pair ran back to back): the median
    and spread of the per-round ratios of frames/s (wall) and of frames per CPU second."""
    wall = [a["fps"] / b["fps"] for a, b in zip(runs["ours"], runs["baseline"], strict=True)]
    cpu = [a["fps_cpu"] / b["fps_cpu"] for a, b in zip(runs["ours"], runs["baseline"], strict=True)]
    return {
        "src": src,
        "ratio_wall_median": _median(wall), "ratio_wall_each_round": [round(x, 3) for x in wall],
        "ratio_cpu_median": _median(cpu), "ratio_cpu_each_round": [round(x, 3) for x in cpu],
        "rss_mb_ours": max(r["rss_mb"] for r in runs["ours"]),
        "rss_mb_baseline": max(r["rss_mb"] for r in runs["baseline"]),
        "load_average": os.getloadavg(),
    }


def pair_text(p: dict[str, object]) -> str:
    return (f"ours / baseline {p['src']}: frames/s median of per-round ratios {p['ratio_wall_median']:.3f} "
            f"(rounds {p['ratio_wall_each_round']}); frames per CPU second {p['ratio_cpu_median']:.3f} "
            f"(rounds {p['ratio_cpu_each_round']}); peak RSS {p['rss_mb_ours']:.0f} vs "
            f"{p['rss_mb_baseline']:.0f} MB; load average at the end {p['load_average']}")


def in_child(*args: str, src: str | None = None) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if src is not None:
        env["CAMAUDIT_BENCH_SRC"] = src
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True, text=True, env=env, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--repeat", type=int, default=3, help="passes of the clip (longer = steadier)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of ours and the peer; medians are reported")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", help="another source tree's device/ dir's parent (e.g. /work/main) to compare with")
    ap.add_argument("--pair-only", action="store_true",
                    help="with --baseline: each round runs only ours and the baseline (no peer, no gate-off, no still scene)")
    args = ap.parse_args()
    if args.child:
        if os.environ.get("CAMAUDIT_BENCH_SRC"):
            sys.path.insert(0, str(Path(os.environ["CAMAUDIT_BENCH_SRC"]) / "device"))
        kind, *rest = args.child
        res = child_pipeline(rest[0], rest[1], rest[2] == "gate") if kind == "pipeline" else child_peer(*rest)
        print(json.dumps(res))
        return

    from bench._common.face_detectors import yunet_onnx_files

    with tempfile.TemporaryDirectory(prefix="camaudit-bench-") as tmp:
        t = Path(tmp)
        n = make_clip(args.clip, t / "clip.avi", args.repeat)
        make_clip(args.clip, t / "still.avi", args.repeat, still=True)
        print(f"clip: {args.clip.name} -> 640x480, {n} frames, one thread", file=sys.stderr)
        int8bq, fp32 = yunet_onnx_files()
        runs: dict[str, list[dict[str, float]]] = {
            "ours": [], "ours_nogate": [], "int8bq": [], "fp32": [], "baseline": []
        }
        # interleaved rounds: this machine's speed drifts, so each round measures all four
        pair_only = bool(args.pair_only and args.baseline)
        for r in range(args.rounds):
            # ours and the baseline back to back, which one first alternating by round
            pair = [("ours", None), ("baseline", args.baseline)] if args.baseline else [("ours", None)]
            for key, src in (pair if r % 2 == 0 else pair[::-1]):
                runs[key].append(in_child("pipeline", str(t / "clip.avi"), str(t / f"{key}{r}"), "gate", src=src))
            if pair_only:
                continue
            runs["int8bq"].append(in_child("peer", str(t / "clip.avi"), str(int8bq)))
            runs["ours_nogate"].append(
                in_child("pipeline", str(t / "clip.avi"), str(t / f"b{r}"), "nogate")
            )
            runs["fp32"].append(in_child("peer", str(t / "clip.avi"), str(fp32)))
        if pair_only:
            print(json.dumps(pair_result(runs, args.baseline), indent=2) if args.json
                  else pair_text(pair_result(runs, args.baseline)))
            return
        ours, ours_nogate = median_run(runs["ours"]), median_run(runs["ours_nogate"])
        peers = {"int8bq": median_run(runs["int8bq"]), "fp32": median_run(runs["fp32"])}
        peer_name, peer = max(peers.items(), key=lambda kv: kv[1]["fps"])
        still_gate = in_child("pipeline", str(t / "still.avi"), str(t / "c"), "gate")
        still_nogate = in_child("pipeline", str(t / "still.avi"), str(t / "d"), "nogate")

    result = {
        "frames": n,
        "pipeline_fps": ours["fps"],
        "pipeline_fps_gate_off": ours_nogate["fps"],
        "detector_share": ours["detect_s"] / ours["wall_s"],
        "detector_share_gate_off": ours_nogate["detect_s"] / ours_nogate["wall_s"],
        "overhead_beyond_detect": 1 - ours_nogate["detect_s"] / ours_nogate["wall_s"],
        "peak_rss_mb": ours["rss_mb"],
        "pipeline_setup_s": ours["setup_s"],
        "peer": f"cv2.FaceDetectorYN ({peer_name})",
        "peer_fps": peer["fps"],
        "peer_fps_all": {k: v["fps"] for k, v in peers.items()},
        "ratio_vs_peer": ours["fps"] / peer["fps"],
        "ratio_vs_peer_gate_off": ours_nogate["fps"] / peer["fps"],
        "rounds": args.rounds,
        "fps_each_round": {k: [round(r["fps"], 1) for r in v] for k, v in runs.items()},
        "still_scene_gate_speedup": still_gate["fps"] / still_nogate["fps"],
        "still_fps": {"gate": still_gate["fps"], "gate_off": still_nogate["fps"]},
    }
    if args.baseline:
        base = median_run(runs["baseline"])
        result["baseline"] = {"src": args.baseline, "fps": base["fps"], "rss_mb": base["rss_mb"],
                              "ratio": ours["fps"] / base["fps"]} | pair_result(runs, args.baseline)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"pipeline (motion gate on):  {ours['fps']:7.1f} frames/s, "
          f"detector {100 * result['detector_share']:.0f}% of time, peak RSS {ours['rss_mb']:.0f} MB")
    print(f"pipeline (gate off):        {ours_nogate['fps']:7.1f} frames/s, "
          f"overhead beyond the detector call {100 * result['overhead_beyond_detect']:.0f}%")
    print(f"pipeline set-up before the first frame (not in frames/s): {ours['setup_s']:.2f} s")
    for k, v in peers.items():
        print(f"peer FaceDetectorYN {k:7s} {v['fps']:7.1f} frames/s")
    print(f"each round (frames/s): {result['fps_each_round']}")
    print(f"ratio of medians vs peer ({peer_name}): {result['ratio_vs_peer']:.2f}x "
          f"(gate off: {result['ratio_vs_peer_gate_off']:.2f}x)   target >= 1.5x")
    print(f"still scene: gate on {still_gate['fps']:.1f} vs off {still_nogate['fps']:.1f} frames/s "
          f"= {result['still_scene_gate_speedup']:.1f}x speed-up")
    if args.baseline:
        b = result["baseline"]
        print(f"baseline {b['src']}: {b['fps']:.1f} frames/s, peak RSS {b['rss_mb']:.0f} MB; "
              f"ours / baseline = {b['ratio']:.2f}")
    print(f"targets: overhead <= 30% -> {100 * result['overhead_beyond_detect']:.0f}%; "
          f"peak RSS <= 150 MB -> {ours['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
