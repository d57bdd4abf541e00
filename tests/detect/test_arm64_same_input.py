"""scripts/arm64_same_input.py, the "model alone" step of `make check-arm64`, run on this
machine for both sides: what it holds identical is the face count and the boxes as camaudit
reports them (0.1 px, score 1e-4), and a change there is caught; a last-bit float64
difference is reported but not judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "scripts" / "arm64_same_input.py"

pytestmark = pytest.mark.integration


def helper(*args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "device")}
    proc = subprocess.run([sys.executable, str(HELPER), *args], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}


def rewrite_meta(saved: Path, change) -> None:
    data = dict(np.load(saved))
    meta = json.loads(bytes(data["meta"]).decode())
    change(meta)
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez_compressed(saved, **data)


def test_reported_boxes_must_match_float_bits_need_not(tmp_path: Path, shared_data: Path):
    images = sorted((shared_data / "wider_dev" / "images").rglob("*.jpg"))[:3]
    saved = tmp_path / "inputs.npz"
    helper("save", str(saved), *map(str, images))
    same = helper("check", str(saved))
    assert same == {"images": 3, "count_differs": 0, "reported_differs": 0, "max_abs_diff": 0.0}

    def one_ulp(meta):  # what an AVX-512 numpy did to one box edge: 1 ulp off, nothing reported moves
        box = next(item["boxes"][0] for item in meta if item["boxes"])
        box[0] = float(np.nextafter(box[0], np.inf))
    rewrite_meta(saved, one_ulp)
    ulp = helper("check", str(saved))
    assert ulp["reported_differs"] == 0 and ulp["count_differs"] == 0 and 0 < ulp["max_abs_diff"] < 1e-9

    def moved(meta):  # a box 0.1 px off as reported: a real difference
        rep = next(item["reported"][0] for item in meta if item["reported"])
        rep["x"] = round(rep["x"] + 0.1, 1)
    rewrite_meta(saved, moved)
    assert helper("check", str(saved))["reported_differs"] == 1
