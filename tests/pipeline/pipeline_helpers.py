"""Helpers for the end-to-end tests: run the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def camaudit(*args: str, timeout: float = 240, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "camaudit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"camaudit {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "camaudit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def captures(db: Path) -> list[dict]:
    return json.loads(camaudit("log", "--db", str(db), "--json").stdout)


def wait_while_running(proc: subprocess.Popen[str], done: Callable[[], bool], what: str,
                       timeout: float = 90) -> None:
    """Poll `done` until true; fail if `proc` exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited before {what}: {proc.stderr.read() if proc.stderr else ''}"
        try:
            if done():
                return
        except Exception:
            pass  # the journal is still being created
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def clip_frames(path: Path, size: tuple[int, int], n: int | None = None) -> list:
    """The first `n` (all: None) frames of a video, each resized to `size` (w, h)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while n is None or len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.resize(f, size, interpolation=cv2.INTER_AREA))
    cap.release()
    return out


def write_clip(path: Path, frames: list, fps: float, size: tuple[int, int]) -> Path:
    """Write `frames` (BGR, all `size`) as an MJPG .avi at `fps`."""
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for f in frames:
        w.write(f)
    w.release()
    return path


def run_watched_clip(tmp: Path, name: str, frames: list, fps: float, size: tuple[int, int], quad,
                     notice: dict, device: dict, feed: dict | None = None) -> tuple[Path, Path]:
    """Write `frames` as clip `name`, run the device on it as feed `arcade` with notice
    `entrance` (`notice`) watched in the sign's region `quad`: (journal db, config file)."""
    import yaml

    from camaudit.notices.composite import quad_bbox

    clip = tmp / name
    write_clip(clip, frames, fps, size)
    region = quad_bbox(quad, (size[1], size[0], 3))
    cfg = {
        "device": {"data_dir": str(tmp), **device},
        "capture": {"idle_s": 1.0},
        "feeds": {"arcade": {"source": str(clip), **(feed or {})}},
        "notices": {
            "entrance": {
                **notice,
                "watch": {"feed": "arcade", "region": [round(float(v), 4) for v in region], "check_s": 0.2,
                          "grace_s": 1.0},
            }
        },
    }
    cfg_path = tmp / "venue.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    db = tmp / "journal.db"
    camaudit("run", "--config", str(cfg_path), "--db", str(db))
    return db, cfg_path
