"""bench/ceilings.py: its combinations of predictions, and a short run on real images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import ceilings  # noqa: E402


def test_rescored_touches_only_candidates_below_the_bound() -> None:
    preds = {"im": np.array([[0, 0, 10, 10, 0.95], [0, 0, 10, 10, 0.5], [50, 50, 10, 10, 0.4]])}
    verifier = {"im": np.array([[1, 0, 10, 10, 0.8]])}  # overlaps the first two only
    out = ceilings.rescored(preds, verifier, 0.75, lambda s, c: (s + c) / 2)["im"]
    assert out[:, 4] == pytest.approx([0.95, 0.65, 0.2])  # 0.4 has no match: (0.4 + 0) / 2
    assert preds["im"][1, 4] == 0.5  # the input is not changed


def test_drop_small_keeps_only_tall_enough_boxes() -> None:
    a = {"im": np.array([[0, 0, 20, 20, 0.9], [40, 40, 50, 50, 0.8], [0, 0, 40, 32, 0.7]])}
    assert ceilings.drop_small(a, 32)["im"][:, 3].tolist() == [50, 32]


@pytest.mark.integration
def test_short_run_prints_every_row(shared_data: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ceilings.py"), "--set", str(shared_data / "wider_dev"),
         "--limit", "3", "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    assert doc["images"] == 3
    rows = doc["rows"]
    assert {"accurate (640 + 1024)", "centerface (onnxruntime, the peer)"} <= set(rows)
    assert sum("re-scored" in k for k in rows) == 6
    for name, r in rows.items():
        assert all(0.0 <= r[k] <= 1.0 for k in ("easy", "medium", "hard", "recall_ge32_at_p90")), name
    assert rows["accurate (640 + 1024)"]["easy"] > 0.5  # the real models found faces in real images
