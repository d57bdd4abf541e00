"""bench/_common/wider_eval.py: the WIDER protocol on synthetic boxes (pure, fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _common.wider_eval import (  # noqa: E402
    average_precision,
    ground_truth,
    operating_point,
    recall_ge32_at_precision,
)


def _face(x: float, y: float, w: float, h: float, *, easy: bool = True, invalid: bool = False) -> dict:
    return {
        "x": x, "y": y, "w": w, "h": h, "invalid": int(invalid),
        "in_easy": easy, "in_medium": True, "in_hard": True,
    }  # fmt: skip


GTS = {
    "a.jpg": ground_truth([_face(10, 10, 40, 50), _face(100, 10, 20, 20, easy=False)], 1.0),
    "b.jpg": ground_truth([_face(0, 0, 100, 120), _face(200, 0, 10, 12, invalid=True)], 1.0),
}


def test_perfect_detections_score_ap_one_and_ignore_regions_cost_nothing() -> None:
    preds = {
        "a.jpg": np.array([[10, 10, 40, 50, 0.9], [100, 10, 20, 20, 0.8]], float),
        "b.jpg": np.array([[0, 0, 100, 120, 0.95], [200, 0, 10, 12, 0.99]], float),
    }
    for subset in ("easy", "medium", "hard"):
        assert average_precision(preds, GTS, subset) == pytest.approx(1.0)
    op = operating_point(preds, GTS, 0.5)
    assert (op.precision, op.recall, op.faces) == (1.0, 1.0, 3)


def test_false_positives_and_misses_lower_ap() -> None:
    preds = {
        "a.jpg": np.array([[300, 300, 40, 50, 0.99], [10, 10, 40, 50, 0.5]], float),
        "b.jpg": np.zeros((0, 5)),
    }
    ap = average_precision(preds, GTS, "easy")
    assert 0.0 < ap < 0.5  # one of two easy faces found, after a false positive
    op = operating_point(preds, GTS, 0.6)
    assert (op.precision, op.recall) == (0.0, 0.0)
    op = operating_point(preds, GTS, 0.4)
    assert op.precision == 0.5 and op.recall == pytest.approx(1 / 3)
    assert op.recall_by_height["48-96"] == 1.0 and op.recall_by_height[">=96"] == 0.0


def test_duplicates_are_false_positives_and_scale_is_applied() -> None:
    gts = {"c.jpg": ground_truth([_face(20, 20, 60, 80)], 0.5)}  # 30x40 in the frame
    preds = {"c.jpg": np.array([[10, 10, 30, 40, 0.9], [11, 10, 30, 40, 0.8]], float)}
    op = operating_point(preds, gts, 0.5)
    assert op.precision == 0.5 and op.recall == 1.0
    assert op.recall_by_height["32-48"] == 1.0
    r, t = recall_ge32_at_precision(preds, gts, 0.9)
    assert r == 1.0 and t is not None and t > 0.8
