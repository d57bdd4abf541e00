"""Letterboxing straight into the model's input tensor gives what the copying path gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camaudit.detect.letterbox import letterbox, letterbox_into

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"


def _frame(w: int, h: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(("w", "h"), [(640, 480), (640, 427), (427, 640), (1280, 720), (300, 200)])
def test_letterbox_into_overwrites_every_pixel_of_a_dirty_canvas(w: int, h: int) -> None:
    """The model's input buffer still holds the previous frame: padding must be re-zeroed."""
    ref, ref_box = letterbox(_frame(w, h), 640, 480)
    canvas = np.full((480, 640, 3), 77, np.uint8)
    box = letterbox_into(_frame(w, h), canvas)
    assert box == ref_box
    assert np.array_equal(canvas, ref)


def test_letterbox_into_refuses_a_canvas_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        letterbox_into(_frame(64, 48), np.zeros((48, 64, 4), np.uint8))


@pytest.mark.parametrize("name", ["yunet_int8.tflite", "yunet_fp32.tflite"])
def test_run_letterboxed_equals_letterbox_then_run(name: str) -> None:
    """Same outputs, bit for bit, frame after frame of changing sizes (the in-place int8
    path and the copying float path)."""
    from camaudit.detect.runtime import TFLiteModel

    a, b = TFLiteModel(MODELS / name), TFLiteModel(MODELS / name)
    for i, (w, h, cw, ch) in enumerate([(640, 427, 640, 448), (640, 480, 640, 480),
                                        (480, 640, 480, 640), (640, 427, 640, 448)]):
        frame = _frame(w, h, seed=i)
        canvas, ref_box = letterbox(frame, cw, ch)
        ref = a.run(canvas)
        got, box = b.run_letterboxed(frame, cw, ch)
        assert box == ref_box
        assert all(np.array_equal(x, y) for x, y in zip(got, ref, strict=True)), (name, w, h)
