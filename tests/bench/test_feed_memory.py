"""bench/feed_memory.py runs `camaudit run` in a child and reads its peak RSS: run it for
real on the shortest shared clip, once, against this tree as its own baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_feed_memory_bench_reports_peak_rss_of_a_real_run(shared_data: Path) -> None:
    clip = shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "feed_memory.py"), "--clip", str(clip),
         "--rounds", "1", "--baseline", str(ROOT), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)[clip.name]
    for key in ("ours", "baseline"):
        # a Python process with numpy, OpenCV and LiteRT loaded holds far more than 50 MB
        assert 50 < res[key]["peak_rss_mb_median"] < 1000
        assert res[key]["max_threads"] >= 2  # the reader thread ran
        assert res[key]["cpu_s_median"] > 0


def test_feed_memory_bench_fails_clearly_on_a_missing_clip(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "feed_memory.py"), "--clip", str(tmp_path / "none.mp4")],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0 and "no such clip" in out.stderr
