"""bench/hub_privacy.py (issue 20): its hub path on one attack frame and one real device safe
view, through the real hub store, evidence inbox, web route and pack export. The counts it
prints come from the two independent detectors: the raw 200 px face frame is found by them
before the hub path, and nothing after it."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._common import face_detectors as fd  # noqa: E402
from bench._common.clip_frames import frame_at  # noqa: E402
from bench._common.evidence_attacks import missed_face  # noqa: E402
from bench.hub_privacy import (  # noqa: E402
    ATTACK_CLIP,
    ATTACK_FRAME,
    Looker,
    Sent,
    attack_rows,
    row_of,
    through_hub,
)
from bench.privacy import detectors  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def look() -> Looker:
    if not all((fd.CACHE / n).exists() for n in ("centerface.onnx", "face_detection_yunet_2023mar_int8bq.onnx")):
        pytest.skip(f"the peer detectors are not cached in {fd.CACHE} (bench/privacy.py fetches them once)")
    cv2.setNumThreads(1)
    return Looker(detectors())


def frame(videos: Path, index: int) -> np.ndarray:
    return frame_at(videos / ATTACK_CLIP, index)


def test_the_raw_face_frame_is_seen_before_the_hub_and_nothing_after(shared_data: Path, look: Looker) -> None:
    videos = shared_data / "videos"
    data = missed_face(frame(videos, ATTACK_FRAME), "face_200px")
    before = look.jpeg(data)
    assert before == {d.name: n for d, n in zip(look.dets, (
        int(((r[:, 4] >= d.threshold) & (r[:, 3] >= 20)).sum())
        for d in look.dets for r in [d.detect(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))]),
        strict=True)}  # the Looker's count is the detectors' own
    assert sum(before.values()) >= 1  # the pasted face is found by the detectors
    [row] = attack_rows(videos, look, ["face_200px"])
    assert row["source"] == "attack: face_200px" and row["sent"] == 1
    assert row["faces_in_sent"] == before
    assert row["accepted"] + sum(row["refused"].values()) == 1
    assert set(row["refused"]) <= {"evidence_not_safe_view", "evidence_faces_visible"}
    for kind in ("stored", "served", "packed"):
        assert sum(row[f"faces_in_{kind}"].values()) == 0
    assert row["device_bytes_kept"] == 0 and row["served_is_stored"]


def test_a_real_safe_view_goes_through_the_hub_as_the_hubs_own_jpeg(shared_data: Path, tmp_path: Path,
                                                                   look: Looker) -> None:
    from camaudit.detect import load_detector
    from camaudit.pipeline.evidence import save_evidence
    from camaudit.store.journal import Journal

    img = frame(shared_data / "videos", 12)
    ref = save_evidence(img, load_detector(min_score=0.5).detect(img), tmp_path / "evidence")
    sha = ref.removeprefix("sha256:")
    data = (tmp_path / "evidence" / f"{sha}.jpg").read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha
    with Journal.open(tmp_path / "journal.db", "dev1") as j:
        body = {"capture": "c-000001", "start": 1795651200000, "end": 1795651205000, "verdict": "unconsented",
                "reasons": ["no_notice"], "basis": None, "evidence": [ref]}
        ev = j.append("capture.end", "counter", body, 1795651200000)
        events, public_hex = j.events(), j.public_key.hex()
    (tmp_path / "hub").mkdir()
    run = through_hub(tmp_path / "hub", "dev1", public_hex, events, [Sent("real", ev.seq, "c-000001", sha, data)])
    [o] = run.outcomes
    assert o.result == "stored" and o.served_status == 200
    assert o.stored is not None and o.stored != data and o.served == o.stored and o.packed == o.stored
    assert run.pack_verified is True
    row = row_of("real", run, look)
    assert (row["sent"], row["accepted"], row["refused"], row["stored"], row["served"], row["packed"]) == \
        (1, 1, {}, 1, 1, 1)
    assert row["faces_in_stored"] == look.image(cv2.imdecode(np.frombuffer(o.stored, np.uint8), cv2.IMREAD_COLOR))
    assert sum(row["faces_in_stored"].values()) == 0 and row["device_bytes_kept"] == 0


def test_privacy_py_hub_runs_the_bench_and_prints_its_json(shared_data: Path, look: Looker) -> None:
    """The command the docs name (`bench/privacy.py --hub`), run as a process on one attack."""
    import json
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "privacy.py"), "--hub", "--no-clips", "--attacks", "jpeg_after_eoi",
         "--videos", str(shared_data / "videos"), "--json"],
        capture_output=True, text=True, timeout=200, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    [row] = out["rows"]
    assert row["source"] == "attack: jpeg_after_eoi"
    assert (row["sent"], row["accepted"], row["stored"], row["served"], row["packed"]) == (1, 1, 1, 1, 1)
    assert sum(row["faces_hidden_in_sent"].values()) >= 1  # the JPEG after the end of the image shows a face
    assert out["faces_in_hub_images"] == {"stored": 0, "served": 0, "packed": 0} and out["device_bytes_kept"] == 0
    assert row["pack_verified"] is True
