"""The camera health adapter: reference learned, stored, kept across restarts, re-learned on
an operator's request (CLI, picked up by a running device), hostile reference files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import camaudit

import camaudit.pipeline.camera_health as ch
from camaudit.config.feeds import FeedConfig, HealthConfig
from camaudit.core.camera_health import HealthLimits
from camaudit.core.motion import downscale_gray
from camaudit.core.record import seal
from camaudit.hub.ingest.schema import Rejected, validate_record

CFG = HealthConfig(learn_s=1.0, enter_s=1.0, restore_s=1.0, alert_after_s=2.0)


def scene(seed: int) -> np.ndarray:
    """A textured 480x270 BGR picture (smoothed random blocks)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(30, 220, (27, 48), dtype=np.uint8)
    big = cv2.resize(small, (480, 270), interpolation=cv2.INTER_CUBIC)
    return np.dstack([big] * 3)


class Journal(list):
    def __call__(self, type, feed, body, ts):  # noqa: A002 (the sink's signature)
        self.append((type, dict(body), ts))
        return None

    def types(self) -> list[str]:
        return [t for t, _, _ in self]


def feed(watch: ch.HealthWatch, img: np.ndarray, start: int, seconds: float, fps: float = 10) -> int:
    t = start
    for _ in range(round(seconds * fps)):
        watch.observe(downscale_gray(img), t)
        t += round(1000 / fps)
    return t


def test_config_defaults_are_the_core_defaults():
    core, cfg = HealthLimits(), HealthConfig()
    for key in ("dark_level", "uniform_std", "moved_match", "blurred_ratio"):
        assert getattr(core, key) == getattr(cfg, key)
    assert FeedConfig(source="x.mp4").health.enabled


def test_unknown_health_key_is_refused():
    with pytest.raises(ValueError, match="extra"):
        HealthConfig.model_validate({"enter": 3})


def test_reference_is_stored_and_kept_across_restarts(tmp_path: Path):
    j = Journal()
    w = ch.HealthWatch("door", CFG, j, state_dir=tmp_path)
    feed(w, scene(1), 0, 2.0)
    assert j.types() == ["camera.reference"]
    body = j[0][1]
    assert body["reason"] == "start" and body["frames"] == 11  # 0.0 .. 1.0 s at 10 fps
    stored = json.loads(ch.reference_path(tmp_path, "door").read_text())
    assert stored["feed"] == "door"
    # restart: the same reference, journalled as kept, and the turned camera is `moved`
    j2 = Journal()
    w2 = ch.HealthWatch("door", CFG, j2, state_dir=tmp_path)
    feed(w2, scene(2), 0, 1.5)
    assert j2.types() == ["camera.reference", "camera.moved"]
    assert j2[0][1]["reason"] == "stored" and j2[0][1]["sha256"] == body["sha256"]
    ref = w2.reference
    assert ref is not None
    h, w_ = ref.thumb.shape
    assert body["sha256"] == hashlib.sha256(f"{w_}x{h}:".encode() + ref.thumb.tobytes()).hexdigest()


def test_running_device_picks_up_a_relearn_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ch, "RELEARN_POLL_S", 0.0)
    j = Journal()
    w = ch.HealthWatch("door", CFG, j, state_dir=tmp_path)
    t = feed(w, scene(1), 0, 2.0)
    t = feed(w, scene(2), t, 2.0)  # turned on purpose at 2.0 s; journalled at 3.0 s
    assert j.types() == ["camera.reference", "camera.moved"]
    req = ch.request_relearn(tmp_path, "door")
    t = feed(w, scene(2), t, 3.0)
    assert not req.exists()
    # alert at 4.0 s (2 s moved); learned from the new view in 1 s, which then matches
    assert j.types() == ["camera.reference", "camera.moved", "alert", "camera.reference",
                         "camera.restored"]
    assert j[3][1]["reason"] == "operator"
    feed(w, scene(2), t, 3.0)
    assert len(j) == 5  # the new view is the reference now


def test_covered_at_start_is_reported_and_not_learned(tmp_path: Path):
    j = Journal()
    w = ch.HealthWatch("door", CFG, j, state_dir=tmp_path)
    t = feed(w, np.zeros((270, 480, 3), np.uint8), 0, 2.0)
    assert j.types() == ["camera.covered"] and w.reference is None
    feed(w, scene(1), t, 2.5)  # uncovered at 2.0 s: learned from 2.0 to 3.0 s
    assert j.types() == ["camera.covered", "alert", "camera.reference", "camera.restored"]
    assert j[2][2] == j[3][2] == 3000


@pytest.mark.parametrize("content", [
    b"not json",
    b'{"feed": "other", "w": 4, "h": 1, "sharpness": 1.0, "learned": 0, "thumb": "AAAAAA=="}',
    b'{"feed": "door", "w": 100000, "h": 100000, "sharpness": 1.0, "learned": 0, "thumb": ""}',
    b'{"feed": "door", "w": 4, "h": 1, "sharpness": 1.0, "learned": 0, "thumb": "AAAA"}',
    b'{"feed": "door", "w": 4, "h": 1, "sharpness": NaN, "learned": 0, "thumb": "AAAAAA=="}',
    b" " * (ch.MAX_REFERENCE_BYTES + 1),
])
def test_bad_stored_reference_is_learned_anew(tmp_path: Path, content: bytes):
    ch.reference_path(tmp_path, "door").write_bytes(content)
    j = Journal()
    w = ch.HealthWatch("door", CFG, j, state_dir=tmp_path)
    feed(w, scene(1), 0, 1.5)
    assert j.types() == ["camera.reference"] and j[0][1]["reason"] == "stored_unreadable"


def test_hub_accepts_health_events_and_refuses_a_bad_condition(tmp_path: Path):
    j = Journal()
    w = ch.HealthWatch("door", CFG, j)
    t = feed(w, scene(1), 0, 2.0)
    t = feed(w, np.zeros((270, 480, 3), np.uint8), t, 3.5)
    feed(w, scene(1), t, 2.0)
    assert j.types() == ["camera.reference", "camera.covered", "alert", "camera.restored"]
    now = 1_800_000_000_000
    for seq, (type_, body, _) in enumerate(j, 1):
        rec = seal(device="d1", seq=seq, ts=now, type=type_, feed="door", body=body,
                   prev="0" * 64, sign=lambda b: b"\0" * 64)
        validate_record(rec.to_dict(), now)
    bad = seal(device="d1", seq=9, ts=now, type="camera.covered", feed="door",
               body={**j[1][1], "condition": "x" * 500}, prev="0" * 64, sign=lambda b: b"\0" * 64)
    with pytest.raises(Rejected):
        validate_record(bad.to_dict(), now)


def test_relearn_command(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"device: {{data_dir: {tmp_path}}}\nfeeds: {{door: {{source: x.mp4}}}}\n")
    out = camaudit("relearn", "door", "--config", str(cfg)).stdout
    assert "learned again" in out and ch.relearn_path(tmp_path / "camera_health", "door").exists()
    bad = camaudit("relearn", "gate", "--config", str(cfg), check=False)
    assert bad.returncode != 0 and "no feed 'gate'" in bad.stderr and "door" in bad.stderr


def test_run_prints_health_events_in_words():
    from camaudit.console import describe
    from camaudit.core.record import Event

    ev = Event(device="d1", seq=3, ts=1_800_000_000_000, type="camera.covered", feed="door",
               body={"condition": "covered", "start": 1, "values": {"mean": 2.5}}, prev="0" * 64)
    line = describe(ev)
    assert line is not None and "door" in line and "camera.covered: covered" in line


def test_hostile_frames_do_not_crash_or_raise_false_events():
    """Frames of 1x1, 2x500, all-255 and a resolution switch mid-stream."""
    import cv2

    j = Journal()
    w = ch.HealthWatch("door", CFG, j)
    t = feed(w, scene(1), 0, 2.0)
    for shape in ((1, 1, 3), (2, 500, 3), (500, 2, 3)):
        w.observe(downscale_gray(np.full(shape, 128, np.uint8)), t)
        t += 100
    assert j.types() == ["camera.reference"]
    # the same scene at 1280x720: compared at the reference's size, still the same view
    big = cv2.resize(scene(1), (1280, 720), interpolation=cv2.INTER_CUBIC)
    t = feed(w, big, t, 3.0)
    assert j.types() == ["camera.reference"]
    # ...and a turned camera at the new size is still caught
    feed(w, cv2.resize(scene(2), (1280, 720)), t, 2.0)
    assert j.types() == ["camera.reference", "camera.moved"]
    # a reference learned on 1x1 frames cannot judge moved or blurred, and does not crash
    j2 = Journal()
    w2 = ch.HealthWatch("tiny", CFG, j2)
    for i in range(30):
        w2.observe(downscale_gray(np.full((1, 1, 3), 100 + i, np.uint8)), i * 100)
    assert w2.reference is None or w2.reference.textured_cells == 0
