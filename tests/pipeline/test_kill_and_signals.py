"""Faults of the running device: SIGKILL mid-capture, SIGTERM, restart (issue 2)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from pipeline_helpers import camaudit, captures, spawn, wait_while_running

from camaudit.store.captures import list_captures
from camaudit.store.verify import verify_journal

pytestmark = pytest.mark.integration


def wait_for_open_capture(db: Path, proc) -> None:
    wait_while_running(
        proc, lambda: db.exists() and any(r.state == "open" for r in list_captures(db)),
        "a capture to open",
    )


def test_sigkill_mid_capture_loses_nothing_recorded(shared_data: Path, tmp_path: Path):
    db = tmp_path / "j.db"
    clip = str(shared_data / "videos" / "facenet-pytorch_video.mp4")
    proc = spawn("run", "--source", clip, "--db", str(db), "--pace", "--loop", "--quiet")
    try:
        wait_for_open_capture(db, proc)
        time.sleep(1.0)
        before = verify_journal(db)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    after = verify_journal(db)
    assert after.ok, after.first_bad
    assert after.head_seq >= before.head_seq  # nothing that was recorded is lost
    (open_cap,) = [r for r in list_captures(db) if r.state == "open"]

    # restart: the interrupted capture is closed, the chain continues and verifies
    camaudit("run", "--source", str(shared_data / "videos" / "NOFACE_intel_bottle-detection.mp4"),
             "--db", str(db), "--fps", "5")
    caps = {c["capture"]: c for c in captures(db)}
    closed = caps[open_cap.capture]
    assert closed["state"] == "closed"
    assert closed["end"] is not None and closed["end"] >= closed["start"]
    final = verify_journal(db)
    assert final.ok and final.head_seq > after.head_seq


def test_sigterm_closes_open_capture(shared_data: Path, tmp_path: Path):
    db = tmp_path / "j.db"
    clip = str(shared_data / "videos" / "facenet-pytorch_video.mp4")
    proc = spawn("run", "--source", clip, "--db", str(db), "--pace", "--loop")
    try:
        wait_for_open_capture(db, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    rows = list_captures(db)
    assert rows and all(r.state == "closed" for r in rows)
    assert "ended" in out  # the capture line a person sees
    assert verify_journal(db).ok
