"""bench/accuracy.py --json keeps the keys that checks outside the project read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BINS = ["<16", "16-24", "24-32", "32-48", "48-96", ">=96"]


def test_accuracy_json_has_the_stable_keys(shared_data: Path) -> None:
    out = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "accuracy.py"),
            "--set", str(shared_data / "wider_dev"), "--detectors", "int8,haar",
            "--limit", "4", "--json",
        ],
        capture_output=True, text=True, timeout=240, check=True,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    assert sorted(doc["detectors"]) == ["haar", "int8"]
    for name, r in doc["detectors"].items():
        assert sorted(r["ap"]) == ["easy", "hard", "medium"], name
        assert all(0.0 <= v <= 1.0 for v in r["ap"].values())
        assert 0.0 <= r["precision"] <= 1.0 and 0.0 <= r["recall"] <= 1.0
        assert list(r["recall_by_height"]) == BINS
        assert r["ms_per_image"] > 0
    assert doc["detectors"]["int8"]["ap"]["easy"] > doc["detectors"]["haar"]["ap"]["easy"]
    assert doc["meta"]["images"] == 4
