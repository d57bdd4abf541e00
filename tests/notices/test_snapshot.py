"""`camaudit snapshot`: grid, zones, notice regions drawn on the safe view (real clip, real model)."""

from __future__ import annotations

import cv2
import numpy as np
from click.testing import CliRunner
from notice_helpers import read_frames

from camaudit.core.types import Detection
from camaudit.notices.command import snapshot_cmd
from camaudit.notices.snapshot import REGION, ZONE, annotate_snapshot


def sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_faces_blurred_and_overlays_drawn(shared_data):
    frame = read_frames(shared_data / "videos" / "facenet-pytorch_video.mp4", limit=1)[0].copy()
    # fine detail where the "face" is (between grid lines at 540/648 px and 1536/1728 px)
    detail = np.random.default_rng(1).integers(0, 256, (80, 90, 3), dtype=np.uint8)
    frame[560:640, 1550:1640] = detail
    face = Detection(1550, 560, 90, 80, 0.9)
    zone = [(0.0, 0.6), (0.2, 0.6), (0.2, 1.0), (0.0, 1.0)]
    out = annotate_snapshot(frame, [face], [zone], {"entrance": (0.3, 0.1, 0.5, 0.4)})
    assert out.shape == frame.shape and out is not frame
    inner = (slice(575, 625), slice(1565, 1625))  # inside the box, away from outline and label
    assert sharpness(frame[inner]) > 0
    assert sharpness(out[inner]) == 0  # filled flat: the detail is gone, not just softened
    # away from the box too, detail finer than one block (40 px at 1920 wide) is gone
    far = (slice(245, 275), slice(445, 475))  # inside one block, off the grid lines
    assert sharpness(out[far]) < 0.01 * sharpness(frame[far])
    # region outline (blue) and zone fill (reddish) are drawn where the config says
    h, w = frame.shape[:2]
    edge = out[round(0.25 * h), round(0.3 * w)]
    assert np.abs(edge.astype(int) - REGION).sum() < 60
    zone_px = out[round(0.8 * h), round(0.1 * w)].astype(int)
    orig_px = frame[round(0.8 * h), round(0.1 * w)].astype(int)
    assert zone_px[2] - zone_px[0] > orig_px[2] - orig_px[0] + 20  # shifted towards ZONE red
    assert ZONE == (0, 0, 255)
    # the untouched frame is not modified
    assert sharpness(frame[inner]) > 0


def test_a_face_missed_by_the_detector_is_not_kept(shared_data):
    """No face passed in (all missed): the real model at 0.3 finds none in the snapshot."""
    from camaudit.detect import load_detector

    det = load_detector("yunet-int8-640", threads=1, min_score=0.3)
    frame = read_frames(shared_data / "videos" / "intel_head-pose-face-detection-female-and-male.gif", limit=1)[0]
    assert [d for d in det.detect(frame) if d.face_px >= 20]
    out = annotate_snapshot(frame, [], [], {})
    assert [d for d in det.detect(out) if d.face_px >= 20] == []


CONFIG = """\
device: {{id: cafe-01, data_dir: {data}}}
feeds:
  door:
    source: {clip}
    privacy_zones: [[[0.8, 0.0], [1.0, 0.0], [1.0, 0.4], [0.8, 0.4]]]
notices:
  entrance:
    controller: "Example Cafe Ltd"
    purposes: ["security"]
    rights: "access"
    contact: "dpo@example.org"
    full_notice: "https://example.org/cctv"
    covers: [door]
    watch: {{feed: door, region: [0.1, 0.2, 0.5, 0.7]}}
"""


def test_cli_snapshot_on_a_real_clip(shared_data, tmp_path):
    clip = shared_data / "videos" / "intel_face-demographics-walking.gif"
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(CONFIG.format(data=tmp_path / "data", clip=clip), encoding="utf-8")
    out = tmp_path / "snap.png"
    res = CliRunner().invoke(snapshot_cmd, ["door", "-o", str(out), "-c", str(cfg)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (270, 480)
    assert "1 privacy zone(s), 1 notice region(s)" in res.output
    assert "notice entrance: marker NOT read" in res.output  # no sign in this clip
    res = CliRunner().invoke(snapshot_cmd, ["cellar", "-o", str(out), "-c", str(cfg)])
    assert res.exit_code != 0 and "unknown feed 'cellar'" in str(res.exception)


def test_cli_snapshot_tells_whether_the_posted_sign_is_read(shared_data, tmp_path):
    """A folder with one still of the walking clip where the printed sign hangs in the region."""
    from camaudit.config import parse_config
    from camaudit.notices.composite import composite_sign, perspective_quad
    from camaudit.notices.sign import render_sign

    stills = tmp_path / "stills"
    stills.mkdir()
    cfg_text = CONFIG.format(data=tmp_path / "data", clip=stills)
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(cfg_text, encoding="utf-8")
    notice = parse_config(cfg_text).notices["entrance"]
    frame = read_frames(shared_data / "videos" / "intel_face-demographics-walking.gif", limit=1)[0]
    # region [0.1, 0.2, 0.5, 0.7] of 480x270 is x 48..240, y 54..189: a 90 px sign inside it
    sign = composite_sign(frame, render_sign("entrance", notice, 600), perspective_quad(144, 122, 90))
    cv2.imwrite(str(stills / "0001.png"), sign)
    res = CliRunner().invoke(snapshot_cmd, ["door", "-o", str(tmp_path / "s.png"), "-c", str(cfg)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "notice entrance: marker read in its region" in res.output
