"""Peak memory of one feed as the device runs it: `camaudit run --source CLIP --no-pace` in a
child process, its VmHWM (peak resident set), thread count and CPU time sampled from
/proc/<pid>/status every 5 ms while it runs.

Prints, per clip, the median of --rounds runs (and every run), and with --baseline SRC
the same for another source tree's device/ (e.g. a checkout of main), the two run back to
back in each round, the order alternating. Clips default to the NOFACE tree clip and the
1920x1080 H.264 facenet clip of ../shared/data/videos (a file decodes as a camera stream
does: FFmpeg, one reader thread, one pipeline thread).

    .venv/bin/python bench/feed_memory.py [--clip PATH ...] [--rounds 3] [--baseline SRC] [--json]

docs/tracks.md "Peak memory of one feed" quotes it; bench/pipeline.py's peak RSS is the
same measurement for its 640x480 clip inside its own child.
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

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
DEFAULT_CLIPS = [VIDEOS / "NOFACE_opencv_tree.avi", VIDEOS / "facenet-pytorch_video.mp4"]


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def measure(src: Path, clip: Path, timeout_s: float = 600.0) -> dict[str, float]:
    """One `camaudit run` of `clip` with `src`/device first on the path; its peak numbers."""
    env = dict(os.environ, PYTHONPATH=str(src / "device"))
    with tempfile.TemporaryDirectory(prefix="camaudit-mem-") as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "camaudit.cli", "run", "--source", str(clip),
             "--db", str(Path(tmp) / "j.db"), "--no-pace"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        hwm_kb = threads = 0
        while proc.poll() is None:
            if time.monotonic() - t0 > timeout_s:
                proc.kill()
                proc.wait()
                raise SystemExit(f"{clip.name}: camaudit run took over {timeout_s:.0f} s")
            try:
                st = _status(proc.pid)
                hwm_kb = max(hwm_kb, int(st["VmHWM"].split()[0]))
                threads = max(threads, int(st["Threads"]))
            except (OSError, KeyError, ValueError):
                pass  # the process is ending between poll() and the read
            time.sleep(0.005)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{clip.name}: camaudit run exited {proc.returncode}:\n{err[-2000:]}")
    return {
        "peak_rss_mb": round(hwm_kb / 1024, 1),
        "max_threads": threads,
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "wall_s": round(time.monotonic() - t0, 2),
    }


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, action="append", help="repeatable; default: two shared clips")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", type=Path, help="another source tree (its device/ is run)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    clips = args.clip or DEFAULT_CLIPS
    versions = {"ours": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
    result: dict[str, dict[str, object]] = {}
    for clip in clips:
        if not clip.is_file():
            raise SystemExit(f"{clip}: no such clip")
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in versions}
        for r in range(args.rounds):
            order = list(versions.items())
            for key, src in (order if r % 2 == 0 else order[::-1]):
                runs[key].append(measure(src, clip))
        result[clip.name] = {
            key: {"peak_rss_mb_median": _median([x["peak_rss_mb"] for x in rs]),
                  "peak_rss_mb_each": [x["peak_rss_mb"] for x in rs],
                  "max_threads": max(x["max_threads"] for x in rs),
                  "cpu_s_median": _median([x["cpu_s"] for x in rs])}
            for key, rs in runs.items()
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for name, by in result.items():
        for key, v in by.items():
            src = versions[key]
            print(f"{name}: {key} ({src}): peak RSS median {v['peak_rss_mb_median']:.1f} MB "
                  f"(runs {v['peak_rss_mb_each']}), threads up to {v['max_threads']}, "
                  f"CPU {v['cpu_s_median']:.2f} s")


if __name__ == "__main__":
    main()
