"""Evidence frames: the safe view (whole frame pixelated, detected faces filled) made before
the frame touches disk, its hash in the signed event."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest
from pipeline_helpers import camaudit, captures

from camaudit.core.types import Detection
from camaudit.pipeline.evidence import BOX, SCENE_CELLS, cell_px, evidence_image, safe_view

pytestmark = pytest.mark.integration


def _frames(path: Path, step: int, limit: int) -> list:
    cap = cv2.VideoCapture(str(path))
    out, i = [], 0
    while len(out) < limit:
        ok, f = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append(f)
        i += 1
    cap.release()
    return out


def test_safe_view_pixelates_the_whole_frame_and_fills_boxes():
    import numpy as np

    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    before = img.copy()
    out = safe_view(img, [Detection(100, 50, 40, 40, 0.9)])
    assert (img == before).all()  # the input is not modified
    c = cell_px(img.shape)
    assert c == 7 == -(-300 // SCENE_CELLS)
    # everywhere, not only in the box: every cell is one flat colour (no detail left)
    for y in range(0, 196, c):
        for x in range(0, 294, c):
            if y + c > 40 and y < 101 and x + c > 90 and x < 151:
                continue  # cells cut by the filled box
            cell = out[y : y + c, x : x + c].reshape(-1, 3)
            assert (cell == cell[0]).all(), (y, x)
    # ... and holds the mean of the raw pixels under it: the scene's layout is kept
    assert abs(int(out[3, 3, 0]) - float(img[:7, :7, 0].mean())) <= 1
    # the enlarged detected box (25% margin) is one flat colour
    box = out[40:100, 90:150].reshape(-1, 3)
    assert (box == box[0]).all()


def test_evidence_image_outlines_the_detected_faces():
    import numpy as np

    img = np.full((240, 320, 3), 90, np.uint8)
    out = evidence_image(img, [Detection(100, 50, 60, 60, 0.9)])
    assert tuple(int(v) for v in out[50, 130]) == BOX and tuple(int(v) for v in out[110, 100]) == BOX
    assert tuple(int(v) for v in out[5, 5]) == (90, 90, 90)


@pytest.mark.parametrize(
    "clip", ["facenet-pytorch_video.mp4", "intel_head-pose-face-detection-female-and-male.gif"]
)
def test_a_face_the_detector_missed_is_not_kept(shared_data: Path, clip: str):
    """The safe view with NO detected box (every face missed): the real model at a low
    threshold finds faces >= 20 px in the raw frames and none in their safe views."""
    from camaudit.detect import load_detector

    det = load_detector("yunet-int8-640", threads=1, min_score=0.3)
    frames = _frames(shared_data / "videos" / clip, step=15, limit=6)
    raw = sum(1 for f in frames for d in det.detect(f) if d.face_px >= 20)
    safe = sum(1 for f in frames for d in det.detect(safe_view(f, [])) if d.face_px >= 20)
    assert raw >= len(frames) and safe == 0, (raw, safe)


def test_evidence_frame_has_no_detectable_face(shared_data: Path, tmp_path: Path):
    from camaudit.detect import load_detector

    db = tmp_path / "j.db"
    clip = shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"device: {{id: ev-01, data_dir: {tmp_path}}}\n"
        f"feeds:\n  cam: {{source: '{clip}', evidence: blurred}}\n"
    )
    camaudit("run", "--config", str(cfg), "--db", str(db))
    (cap,) = captures(db)
    assert cap["identifiable_tracks"] >= 1
    (ref,) = cap["evidence"]
    assert ref.startswith("sha256:")
    path = tmp_path / "evidence" / f"{ref.removeprefix('sha256:')}.jpg"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref.removeprefix("sha256:")
    det = load_detector("yunet-int8-640", threads=1, min_score=0.3)
    img = cv2.imdecode(__import__("numpy").frombuffer(data, "uint8"), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (270, 480)
    assert det.detect(img) == []  # the faces that opened the capture are gone
    # and only the evidence file was written: no other image anywhere
    images = [p for p in tmp_path.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".bmp")]
    assert images == [path]
