"""bench/people.py's size sweep (--min-face-px): its argument checks (the script is run) and
its table, from scores of the pure scorer on a small synthetic clip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._common.people_score import PersonShot, Track, score_clip  # noqa: E402
from bench.people import sweep_rows  # noqa: E402


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / "people.py"), *args],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_a_sweep_needs_no_speed_and_a_positive_size():
    out = _run("--min-face-px", "28", "--clip", "NOFACE_opencv_tree.avi")
    assert out.returncode != 0 and "--min-face-px" in out.stderr and "--no-speed" in out.stderr
    out = _run("--min-face-px", "0", "--no-speed", "--clip", "NOFACE_opencv_tree.avi")
    assert out.returncode != 0 and "at least 1" in out.stderr


def _person(identifiable: str) -> PersonShot:
    box = (10.0, 10.0, 30.0, 30.0)
    return PersonShot("man@0", 0, 9, ((0, box), (9, box)), identifiable, presence_only=False)


def _result(min_px: int, ident: bool) -> dict:
    t = Track("cam/1", 0, 9, ((0, (10.0, 10.0, 30.0, 30.0)), (9, (10.0, 10.0, 30.0, 30.0))), ident)
    s = score_clip([t], [_person("yes")]).to_dict()
    overall = s | {"noface_captures": 0, "noface_tracks": 0}
    return {"min_face_px": min_px, "clips": {"walk.gif": s, "NOFACE_x.avi": score_clip([], []).to_dict()},
            "overall": overall}  # fmt: skip


def test_the_sweep_table_has_one_row_per_size_with_per_clip_and_overall_scores():
    res = {"version@28px": _result(28, True), "version@32px": _result(32, False)}
    rows = sweep_rows(res, ["version@28px", "version@32px"])
    assert len(rows) == 4 and "walk.gif R / P" in rows[0] and "NOFACE_x.avi" not in rows[0]
    assert rows[2].startswith("| 28 | 1/1 / 1/1 | 1/1 (1.00) | 1/1 (1.00) |")
    assert rows[3].startswith("| 32 | 0/1 / - | 0/1 (0.00) | - (-) |")
