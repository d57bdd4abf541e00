"""The shipped int8 detector on real WIDER FACE images (integration: real model, real data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from camaudit.core.types import Detection
from camaudit.detect import load_detector

pytestmark = pytest.mark.integration

MIN_PX = 48  # faces at least this tall in the 640 px frame must be found


def _scaled(path: Path) -> tuple[np.ndarray, float]:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    scale = 640 / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _faces(wider: Path) -> dict[str, list[dict]]:
    return json.loads((wider / "gt" / "boxes.json").read_text())


def _pick(wider: Path, portrait: bool, n: int) -> list[str]:
    """The n images (of one orientation) with the most valid faces >= MIN_PX tall."""
    import cv2

    ranked = []
    for name, faces in sorted(_faces(wider).items()):
        big = [f for f in faces if not f["invalid"] and f["h"] * 0.625 >= MIN_PX]
        if big:
            ranked.append((len(big), name))
    ranked.sort(key=lambda t: -t[0])
    out = []
    for _, name in ranked:
        h, w = cv2.imread(str(wider / "images" / name)).shape[:2]
        if (h > w) == portrait:
            out.append(name)
        if len(out) == n:
            break
    return out


def _score(wider: Path, names: list[str], model: str = "yunet-int8-640") -> tuple[float, float, int]:
    """Recall of valid faces >= MIN_PX and precision of detections (any annotated face)."""
    det = load_detector(model, threads=1, min_score=0.6)
    faces_all = _faces(wider)
    found = total = right = n_det = 0
    for name in names:
        frame, scale = _scaled(wider / "images" / name)
        dets = det.detect(frame)
        for d in dets:
            assert d.x >= 0 and d.x2 <= frame.shape[1] + 1e-6
            assert d.y >= 0 and d.y2 <= frame.shape[0] + 1e-6
        gts = [
            Detection(f["x"] * scale, f["y"] * scale, f["w"] * scale, f["h"] * scale, 1.0)
            for f in faces_all[name]
        ]
        n_det += len(dets)
        right += sum(1 for d in dets if any(d.iou(g) >= 0.5 for g in gts))
        for f, g in zip(faces_all[name], gts, strict=True):
            if not f["invalid"] and g.h >= MIN_PX:
                total += 1
                found += any(d.iou(g) >= 0.5 for d in dets)
    return found / total, right / max(n_det, 1), total


def test_int8_finds_large_faces_on_landscape_images(shared_data: Path) -> None:
    wider = shared_data / "wider_dev"
    recall, precision, total = _score(wider, _pick(wider, portrait=False, n=8))
    assert total >= 20
    assert recall >= 0.8, recall
    assert precision >= 0.8, precision


def test_int8_handles_portrait_images(shared_data: Path) -> None:
    wider = shared_data / "wider_dev"
    names = _pick(wider, portrait=True, n=6)
    assert len(names) == 6
    recall, precision, total = _score(wider, names)
    assert total >= 6
    assert recall >= 0.8, recall
    assert precision >= 0.8, precision


def test_fast_320_model_still_finds_large_faces(shared_data: Path) -> None:
    wider = shared_data / "wider_dev"
    recall, precision, _ = _score(wider, _pick(wider, portrait=False, n=8), "yunet-int8-320")
    assert recall >= 0.7, recall
    assert precision >= 0.8, precision


def test_accurate_mode_finds_large_faces_too(shared_data: Path) -> None:
    wider = shared_data / "wider_dev"
    names = _pick(wider, portrait=False, n=4) + _pick(wider, portrait=True, n=2)
    recall, precision, _ = _score(wider, names, "accurate")
    assert recall >= 0.8, recall
    assert precision >= 0.8, precision


def test_int8_agrees_with_fp32(shared_data: Path) -> None:
    wider = shared_data / "wider_dev"
    int8 = load_detector("yunet-int8-640", min_score=0.7)
    fp32 = load_detector("yunet-fp32-640", min_score=0.7)
    matched = count = 0
    for name in _pick(wider, portrait=False, n=4) + _pick(wider, portrait=True, n=2):
        frame, _ = _scaled(wider / "images" / name)
        a, b = int8.detect(frame), fp32.detect(frame)
        count += len(b)
        matched += sum(1 for d in b if any(d.iou(e) >= 0.7 and abs(d.score - e.score) < 0.1 for e in a))
    assert count >= 20
    assert matched / count >= 0.9


def test_a_16_9_frame_gives_the_same_faces_as_its_4_3_letterbox(shared_data: Path) -> None:
    """A 16:9 frame runs at 640x384 (not padded to 640x480), with the same detections as
    the same pixels padded to 640x480 by hand: padding changes the cost, not the faces
    (away from the padded edge)."""
    wider = shared_data / "wider_dev"
    det = load_detector("yunet-int8-640", min_score=0.5)
    compared = 0
    for name in _pick(wider, portrait=False, n=6):
        frame, _ = _scaled(wider / "images" / name)
        wide = frame[: min(frame.shape[0], 360)]  # 640 x <= 360: a 640x384 canvas
        padded = np.zeros((480, 640, 3), np.uint8)
        padded[: wide.shape[0]] = wide
        a = det.detect(wide)
        # boxes reaching into the padding see different zero rows below: not compared
        b = [d for d in det.detect(padded) if d.y2 <= wide.shape[0]]
        compared += len(b)
        for d in b:
            assert any(d.iou(e) >= 0.8 and abs(d.score - e.score) < 0.1 for e in a), (name, d)
    assert compared >= 10


def test_no_faces_on_a_faceless_clip(shared_data: Path) -> None:
    import cv2

    det = load_detector("yunet-int8-640")
    cap = cv2.VideoCapture(str(shared_data / "videos" / "NOFACE_intel_bottle-detection.mp4"))
    false_alarms = frames = 0
    try:
        while frames < 60:
            ok, frame = cap.read()
            if not ok:
                break
            frames += 1
            if frames % 6 == 0:
                false_alarms += len(det.detect(frame))
    finally:
        cap.release()
    assert frames == 60
    assert false_alarms <= 1
