"""bench/plot_accuracy.py: draws bench/accuracy.py's JSON, refuses anything else clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "plot_accuracy.py"
BINS = ["<16", "16-24", "24-32", "32-48", "48-96", ">=96"]


def _result(name: str, ms: float, hard: float, r32: float) -> dict:
    return {
        "ap": {"easy": 0.9, "medium": 0.85, "hard": hard},
        "recall_by_height": dict(zip(BINS, [0.1, 0.5, 0.7, 0.8, 0.9, None], strict=True)),
        "recall_ge32_at_p90": r32,
        "ms_per_image": ms,
        "label": name,
    }


def test_draws_every_detector(tmp_path: Path) -> None:
    doc = {
        "detectors": {
            "int8": _result("int8", 17.6, 0.70, 0.886),
            "yunet_cv2": _result("yunet_cv2", 26.9, 0.70, 0.891),
            "centerface": _result("centerface", 133.4, 0.742, 0.945),
        },
        "meta": {"images": 3, "set": "x/wider_dev", "faces_valid_hard": 9, "long_side": 640},
    }
    src = tmp_path / "r.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "r.png"
    subprocess.run([sys.executable, str(SCRIPT), str(src), "-o", str(out)], check=True, timeout=60)
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (1000, 1500, 3)
    # each detector's colour is on the page (its marker, line and bar)
    for colour in [(200, 30, 30), (30, 90, 200), (20, 140, 40)]:
        assert (np.abs(img.astype(int) - colour).sum(axis=2) == 0).sum() > 500, colour


def test_refuses_a_file_that_is_not_a_result(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": {}}')
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(bad), "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [f"{bad}: not a bench/accuracy.py result: 'detectors'"]
    assert not (tmp_path / "x.png").exists()


def test_refuses_a_result_missing_a_field(tmp_path: Path) -> None:
    r = _result("int8", 17.6, 0.70, 0.886)
    del r["ms_per_image"]
    bad = tmp_path / "partial.json"
    bad.write_text(json.dumps({"detectors": {"int8": r}}))
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(bad), "-o", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert run.stderr.strip() == f"{bad}: not a bench/accuracy.py result: 'ms_per_image'"
