"""Motion gate: still scenes are skipped, moving people are not, and a detection runs at
least every max_skip_s. Real frames come from the clips in ../shared/data/videos."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from camaudit.core.motion import DEFAULT_THRESHOLD, MotionGate, downscale_gray

WALKING = "intel_face-demographics-walking.gif"
ARCADE = "facenet-pytorch_video.mp4"


@functools.cache
def _read_clip(path: Path, limit: int) -> tuple[tuple[np.ndarray, ...], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while len(frames) < limit:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    assert frames, path
    return tuple(frames), fps


def clip_frames(
    shared_data: Path, name: str, limit: int = 10_000
) -> tuple[list[np.ndarray], float]:
    frames, fps = _read_clip(shared_data / "videos" / name, limit)
    return list(frames), fps


def run_gate(gate: MotionGate, frames: list[np.ndarray], fps: float) -> list[int]:
    """Timestamps (ms) of the frames the gate sends to detection."""
    return [
        round(i * 1000 / fps)
        for i, img in enumerate(frames)
        if gate.check(downscale_gray(img), round(i * 1000 / fps))
    ]


def noisy(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def still_scene(img: np.ndarray, n: int, sigma: float, seed: int) -> list[np.ndarray]:
    """n copies of one frame, each with fresh-looking sensor noise (a bank of 10 noise fields
    used in turn keeps the test fast on 1080p frames)."""
    rng = np.random.default_rng(seed)
    bank = [noisy(img, sigma, rng) for _ in range(10)]
    return [bank[i % len(bank)] for i in range(n)]


def test_downscale_gray_shape_and_grey_levels() -> None:
    bgr = np.zeros((480, 640, 3), np.uint8)
    bgr[:, :] = (10, 200, 30)  # B, G, R
    thumb = downscale_gray(bgr)
    assert thumb.shape == (48, 64)
    expected = cv2.cvtColor(bgr[:1, :1], cv2.COLOR_BGR2GRAY)[0, 0]
    assert np.allclose(thumb, expected, atol=1.0)
    # the longer side is ~size, aspect kept; grey input works the same
    assert downscale_gray(np.zeros((1080, 1920, 3), np.uint8)).shape == (36, 64)
    assert downscale_gray(np.zeros((1080, 1920), np.uint8), size=32).shape == (18, 32)
    # smaller than the thumbnail: kept as is
    assert downscale_gray(np.full((10, 12, 3), 7, np.uint8)).shape == (10, 12)
    with pytest.raises(ValueError):
        downscale_gray(np.zeros((4,), np.uint8))


def test_downscale_gray_keeps_where_things_are() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    img[240:, 320:] = 255  # bright bottom-right quarter
    thumb = downscale_gray(img)
    assert thumb[:24, :32].max() == 0
    assert thumb[24:, 32:].min() == pytest.approx(255, abs=0.5)


def test_first_frame_is_detected_and_identical_frames_skipped() -> None:
    gate = MotionGate(max_skip_s=2.0)
    thumb = np.full((36, 64), 100.0, np.float32)
    assert gate.check(thumb, 0)
    assert not gate.check(thumb.copy(), 40)
    assert not gate.check(thumb.copy(), 1999)
    assert gate.check(thumb.copy(), 2000)  # max_skip_s reached
    assert not gate.check(thumb.copy(), 2040)
    assert gate.skipped == 3 and gate.checked == 5


def test_change_above_threshold_is_detected() -> None:
    gate = MotionGate(threshold=1.0)
    base = np.full((36, 64), 100.0, np.float32)
    assert gate.check(base, 0)
    assert not gate.check(base + 0.9, 40)
    assert gate.check(base + 1.1, 80)  # the lights went on a little
    assert gate.last_diff == pytest.approx(1.1, abs=1e-4)


def test_slow_change_adds_up_against_the_last_detected_frame() -> None:
    """Each frame differs from the previous one by less than the threshold, yet the gate
    fires once the drift since the last DETECTED frame exceeds it."""
    gate = MotionGate(threshold=1.0, max_skip_s=3600)
    base = np.full((36, 64), 100.0, np.float32)
    fired = [gate.check(base + 0.4 * i, i * 40) for i in range(10)]
    assert fired == [True, False, False, True, False, False, True, False, False, True]


def test_size_change_and_clock_going_back_detect() -> None:
    gate = MotionGate(max_skip_s=10)
    assert gate.check(np.zeros((36, 64), np.float32), 5000)
    assert gate.check(np.zeros((48, 64), np.float32), 5040)
    assert gate.check(np.zeros((48, 64), np.float32), 1000)  # wall clock stepped back


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        MotionGate(threshold=-1)
    with pytest.raises(ValueError):
        MotionGate(max_skip_s=-1)


@pytest.mark.parametrize("name", [WALKING, ARCADE, "NOFACE_intel_bottle-detection.mp4"])
def test_still_scene_with_camera_noise_is_skipped(shared_data: Path, name: str) -> None:
    """One real frame repeated for 4 s with sensor noise (sigma 4 grey levels): only the
    first frame and the max_skip_s check run detection."""
    frames, _ = clip_frames(shared_data, name, limit=1)
    still = still_scene(frames[0], 100, sigma=4.0, seed=7)
    gate = MotionGate(max_skip_s=2.0)
    detected = run_gate(gate, still, fps=25.0)
    assert detected == [0, 2000]
    assert gate.skip_share == pytest.approx(0.98)


@pytest.mark.parametrize("name", [WALKING, ARCADE])
def test_people_walking_are_not_skipped(shared_data: Path, name: str) -> None:
    """People walking towards the camera: the gate never sits out more than 2 frames in a
    row, far from the max_skip_s fallback, so the tracker sees them move."""
    frames, fps = clip_frames(shared_data, name)
    gate = MotionGate()
    detected = run_gate(gate, frames, fps)
    gaps_in_frames = np.diff(detected) * fps / 1000
    assert gaps_in_frames.max() <= 2.01
    assert gate.skip_share < 0.5


def test_default_threshold_sits_between_noise_and_walking(shared_data: Path) -> None:
    """The tuning the default comes from: thumbnail differences of a noisy still frame stay
    under DEFAULT_THRESHOLD, those of walking people 2 frames apart exceed it."""
    frames, _ = clip_frames(shared_data, WALKING)
    rng = np.random.default_rng(3)
    a, b = (downscale_gray(noisy(frames[10], 4.0, rng)) for _ in range(2))
    noise_diff = float(np.mean(np.abs(a - b)))
    walk_diffs = [
        float(np.mean(np.abs(downscale_gray(frames[i + 2]) - downscale_gray(frames[i]))))
        for i in range(len(frames) - 2)
    ]
    assert noise_diff < DEFAULT_THRESHOLD < min(walk_diffs)
