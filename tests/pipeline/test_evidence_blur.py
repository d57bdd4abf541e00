"""Evidence frames: faces blurred before the frame touches disk, hash in the signed event."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest
from pipeline_helpers import camaudit, captures

from camaudit.core.types import Detection
from camaudit.pipeline.evidence import blur_faces

pytestmark = pytest.mark.integration


def test_blur_changes_only_the_face_boxes():
    import numpy as np

    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    out = blur_faces(img, [Detection(100, 50, 40, 40, 0.9)])
    assert out is not img and (img != out).any()
    # outside the enlarged box (25% margin) nothing changes
    assert (out[:, :85] == img[:, :85]).all() and (out[:, 156:] == img[:, 156:]).all()
    # inside, the detail is gone: neighbouring pixels differ 10x less than before
    def detail(a):
        return float(np.abs(np.diff(a.astype(np.int16), axis=1)).mean())

    assert detail(out[55:85, 105:135]) < detail(img[55:85, 105:135]) / 10


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
    det = load_detector("yunet-int8-640", threads=1, min_score=0.5)
    img = cv2.imdecode(__import__("numpy").frombuffer(data, "uint8"), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (270, 480)
    assert det.detect(img) == []  # the faces that opened the capture are gone
    # and only the evidence file was written: no other image anywhere
    images = [p for p in tmp_path.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".bmp")]
    assert images == [path]
