"""Letterboxing, NMS and YuNet decoding on synthetic arrays (pure, fast)."""

from __future__ import annotations

import numpy as np
import pytest

from camaudit.detect import yunet
from camaudit.detect.letterbox import letterbox
from camaudit.detect.nms import nms, nms_numpy


def test_letterbox_keeps_aspect_and_maps_back_landscape() -> None:
    frame = np.full((720, 1280, 3), 200, np.uint8)
    canvas, box = letterbox(frame, 640, 480)
    assert canvas.shape == (480, 640, 3)
    assert box.scale == pytest.approx(0.5)
    # 1280x720 -> 640x360: rows below 360 are padding
    assert canvas[:360].min() == 200 and canvas[360:].max() == 0
    mapped = box.to_frame(np.array([[100.0, 50.0, 20.0, 30.0]]))
    assert mapped.tolist() == [[200.0, 100.0, 40.0, 60.0]]


def test_letterbox_portrait_frame_is_padded_not_squashed() -> None:
    frame = np.zeros((1000, 500, 3), np.uint8)
    frame[:, :, 1] = 255
    canvas, box = letterbox(frame, 640, 480)
    filled = np.argwhere(canvas[:, :, 1] > 0)
    h = filled[:, 0].max() + 1
    w = filled[:, 1].max() + 1
    assert (h, w) == (480, 240)  # 1:2 kept
    assert box.scale == pytest.approx(0.48)


def test_letterbox_clips_boxes_to_the_frame() -> None:
    _, box = letterbox(np.zeros((100, 200, 3), np.uint8), 320, 256)
    mapped = box.to_frame(np.array([[-10.0, -10.0, 400.0, 400.0]]))
    assert mapped.tolist() == [[0.0, 0.0, 200.0, 100.0]]


def test_letterbox_rejects_non_images() -> None:
    with pytest.raises(ValueError):
        letterbox(np.zeros((10, 10), np.uint8), 32, 32)


def test_canvas_keeps_the_long_side_and_pads_each_side_to_32() -> None:
    from camaudit.detect.yunet_tflite import canvas_size

    assert canvas_size(640, 480, 640) == (640, 480)  # 4:3 camera: no padding
    assert canvas_size(1280, 720, 640) == (640, 384)  # 16:9: 640x360 + 24 rows
    assert canvas_size(1920, 1080, 1024) == (1024, 576)
    assert canvas_size(720, 1280, 640) == (384, 640)  # portrait: not squashed
    assert canvas_size(1000, 1000, 640) == (640, 640)
    assert canvas_size(320, 240, 640) == (640, 480)  # small frames are scaled up
    assert canvas_size(5000, 10, 320) == (320, 32)
    with pytest.raises(ValueError):
        canvas_size(0, 10, 640)
    with pytest.raises(ValueError):
        canvas_size(10, 10, 16)


def test_nms_matches_the_numpy_rule_on_random_boxes() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 120))
        boxes = np.concatenate([rng.uniform(0, 300, (n, 2)), rng.uniform(2, 90, (n, 2))], axis=1)
        scores = rng.uniform(0, 1, n)
        for thr in (0.3, 0.5):
            assert nms(boxes, scores, thr).tolist() == nms_numpy(boxes, scores, thr).tolist()


def test_nms_suppresses_overlaps_above_threshold_only() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 10, 10], [0, 5, 10, 10]], dtype=float
    )
    scores = np.array([0.8, 0.9, 0.7, 0.6])
    keep = nms(boxes, scores, 0.3)
    # box 1 (best) removes box 0 (IoU 0.82); box 3 overlaps box 1 at IoU 0.29 -> kept
    assert keep.tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.25).tolist() == [1, 2]
    assert nms(boxes, scores, 0.9).tolist() == [1, 0, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []
    assert nms_numpy(boxes, scores, 0.3).tolist() == [1, 2, 3]


def _heads(width: int, height: int) -> dict[str, np.ndarray]:
    heads: dict[str, np.ndarray] = {}
    for s in yunet.STRIDES:
        n = (width // s) * (height // s)
        heads[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
        heads[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
        heads[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
        heads[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
    return heads


def test_decode_places_a_box_at_its_cell() -> None:
    w, h = 64, 32  # stride 16: 4 columns, 2 rows
    heads = _heads(w, h)
    idx = 1 * 4 + 2  # row 1, column 2
    heads["cls_16"][0, idx, 0] = 0.81
    heads["obj_16"][0, idx, 0] = 1.0
    heads["bbox_16"][0, idx] = [0.5, 0.25, np.log(2.0), np.log(3.0)]
    heads["cls_8"][0, 0, 0] = 0.25  # sqrt(0.25 * 1.0) = 0.5: under the threshold
    heads["obj_8"][0, 0, 0] = 1.0
    boxes, scores = yunet.decode(heads, w, h, 0.6)
    assert scores.tolist() == pytest.approx([0.9])
    cx, cy = (2 + 0.5) * 16, (1 + 0.25) * 16
    bw, bh = 2 * 16, 3 * 16
    assert boxes[0].tolist() == pytest.approx([cx - bw / 2, cy - bh / 2, bw, bh])
    boxes, scores = yunet.decode(heads, w, h, 0.4)
    assert len(scores) == 2


def test_decode_rejects_heads_of_another_size() -> None:
    with pytest.raises(ValueError):
        yunet.decode(_heads(64, 32), 64, 64, 0.5)


def test_centerface_decode_places_a_box_at_its_peak() -> None:
    from camaudit.detect.centerface import decode as cf_decode

    heat = np.zeros((8, 16), np.float32)
    scale = np.zeros((8, 16, 2), np.float32)
    offset = np.zeros((8, 16, 2), np.float32)
    heat[3, 5] = 0.9
    scale[3, 5] = [np.log(5.0), np.log(4.0)]  # h = 20 px, w = 16 px
    offset[3, 5] = [0.25, -0.5]  # (dy, dx)
    heat[0, 0] = 0.3
    boxes, scores = cf_decode(heat, scale, offset, 64, 32, 0.5)
    assert scores.tolist() == pytest.approx([0.9])
    cx, cy = (5 - 0.5 + 0.5) * 4, (3 + 0.25 + 0.5) * 4
    assert boxes[0].tolist() == pytest.approx([cx - 8, cy - 10, 16, 20])


def test_multiscale_merges_duplicates_across_parts() -> None:
    from camaudit.core.types import Detection
    from camaudit.detect.multiscale import MultiScale

    class Fixed:
        def __init__(self, name: str, dets: list[Detection]) -> None:
            self.name = name
            self.dets = dets

        def detect(self, frame: np.ndarray) -> list[Detection]:
            return self.dets

    a = Fixed("a", [Detection(10, 10, 20, 20, 0.7), Detection(100, 100, 30, 30, 0.9)])
    b = Fixed("b", [Detection(11, 10, 20, 20, 0.8), Detection(300, 10, 8, 8, 0.65)])
    merged = MultiScale("ab", [a, b]).detect(np.zeros((4, 4, 3), np.uint8))
    assert [d.score for d in merged] == [0.9, 0.8, 0.65]


def test_centerface_head_names_of_int8_and_float_conversions() -> None:
    from camaudit.detect.centerface import head_name

    assert head_name("output_0") == "heatmap" and head_name("output_2:0") == "offset"
    assert head_name("538") == "scale" and head_name("540:0") == "landmarks"
    assert head_name("output_4") is None and head_name("cls_8") is None
