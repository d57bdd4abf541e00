"""Issue 20 #1: the hub never keeps bytes a device made (hub/evidence/safe.py, inbox.py).
A device key signs frames that are not the safe view (a 200 px face in a 4096x2304 frame, a
face turned 90 degrees, a face at 12% contrast) or a correct safe view carrying the raw face
as an EXIF thumbnail or as a second JPEG after the end of the image: nothing of the device's
bytes is stored; what is stored is the hub's own pixelation, with no metadata."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_hub_evidence import Setup, real_frame

from camaudit.hub.evidence.inbox import FaceCheck
from camaudit.hub.evidence.safe import decode
from camaudit.pipeline.evidence import evidence_image, safe_view

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _common.evidence_attacks import enc, missed_face, polyglots  # noqa: E402  (one definition, shared with bench/hub_privacy.py)


def stored_checks(stored: bytes, device: bytes) -> None:
    assert stored != device
    assert b"Exif" not in stored and b"\xff\xe1" not in stored  # no EXIF / APP1
    assert stored.count(b"\xff\xd9") == 1 and stored.endswith(b"\xff\xd9")  # one image, nothing after
    px = decode(stored).astype(np.int16)
    view = safe_view(decode(stored), []).astype(np.int16)
    assert np.abs(px - view).mean() < 2.0  # the stored pixels are the (re-encoded) safe view


@pytest.mark.parametrize("attack", ["face_200px", "face_turned_90", "face_12pct_contrast"])
def test_a_frame_that_is_not_the_safe_view_is_never_stored_as_sent(tmp_path, attack: str) -> None:
    data = missed_face(real_frame(), attack)
    assert len(data) < 120_000
    sha = hashlib.sha256(data).hexdigest()
    s = Setup(tmp_path)
    s.inbox.face_check = FaceCheck()
    ev = s.capture("c-000001", [sha])
    got = s.send(ev.seq, sha, data)
    stored = s.frames.data_of("dev1", sha)
    if got != "stored":  # refused: not the safe view, or the detector (second check) sees a face
        assert got in ("evidence_not_safe_view", "evidence_faces_visible")
        assert stored is None and s.acks == [] and s.store.rejects() == {got: 1}
        return
    # within the pixel tolerance and missed by the detector: kept only as the hub's pixelation
    assert stored is not None
    stored_checks(stored, data)
    assert FaceCheck(min_score=0.3, min_px=10)(stored) == 0


@pytest.mark.parametrize("which", [0, 1], ids=["exif_thumbnail", "jpeg_after_eoi"])
def test_a_safe_view_carrying_the_raw_face_is_stored_without_it(tmp_path, which: int) -> None:
    data = polyglots(real_frame())[which]
    raw_jpeg = enc(real_frame())
    assert FaceCheck()(raw_jpeg) > 0  # the hidden frame shows a face
    sha = hashlib.sha256(data).hexdigest()
    s = Setup(tmp_path)
    s.inbox.face_check = FaceCheck()
    ev = s.capture("c-000001", [sha])
    assert s.send(ev.seq, sha, data) == "stored"
    stored = s.frames.data_of("dev1", sha)
    assert stored is not None
    stored_checks(stored, data)
    assert len(stored) < len(data) and FaceCheck(min_score=0.3, min_px=10)(stored) == 0


def test_the_device_safe_views_of_the_shared_clip_pass(tmp_path) -> None:
    """The check does not refuse what a device really sends (several frames, sizes, boxes)."""
    from camaudit.detect import load_detector
    from camaudit.hub.evidence.safe import hub_view

    det = load_detector(min_score=0.5)
    cap = cv2.VideoCapture(str(real_frame.__globals__["CLIP"]))
    n = 0
    for i in range(30):
        ok, f = cap.read()
        if not ok:
            break
        if i % 5:
            continue
        for size in [(320, 180), (1280, 720), (4096, 2304)]:
            img = cv2.resize(f, size)
            w, h, _ = hub_view(enc(evidence_image(img, det.detect(img))))
            assert (w, h) == size
            n += 1
    cap.release()
    assert n >= 15


def test_two_device_frames_the_hub_reencodes_alike_make_a_pack_that_verifies(tmp_path) -> None:
    """Both polyglots carry the same safe view: the hub's pixelation of them is the same JPEG,
    so its pack maps two device sha256 to one evidence file, and `verify` proves that pack
    (bench/hub_privacy.py found the hub signing a pack its verify refused)."""
    import time
    import zipfile

    from camaudit.hub.evidence.pack import export_hub_pack
    from camaudit.store.keys import load_or_create_key
    from camaudit.store.pack_verify import verify_pack

    s = Setup(tmp_path)
    datas = polyglots(real_frame())
    shas = [hashlib.sha256(d).hexdigest() for d in datas]
    ev = s.capture("c-000001", shas)
    assert [s.send(ev.seq, sha, d) for sha, d in zip(shas, datas, strict=True)] == ["stored", "stored"]
    stored = [s.frames.data_of("dev1", sha) for sha in shas]
    assert stored[0] is not None and stored[0] == stored[1]  # one hub JPEG for two device frames
    key = load_or_create_key(tmp_path / "hub.key")
    pack = tmp_path / "pack.zip"
    summary = export_hub_pack(s.store, tmp_path / "hub.key", "dev1", pack, now_ms=int(time.time() * 1000))
    assert summary.evidence == 2
    with zipfile.ZipFile(pack) as z:
        assert [n for n in z.namelist() if n.startswith("evidence/")] == [
            f"evidence/{hashlib.sha256(stored[0]).hexdigest()}.jpg"]
    r = verify_pack(pack, hub_key=bytes.fromhex(key.public_hex))
    assert r.proven and r.hub_frames == 2 and r.evidence == 2
