"""The daemon's systemd notifications, end to end on a real clip with the real detector.

systemd is not PID 1 here, so a real datagram socket plays its part: what it receives is
exactly what systemd would. systemd restarts a Type=notify service whose WATCHDOG=1 pings
stop for WatchdogSec; these tests show the pings stop when a pipeline loop hangs while the
process (and its main loop, still sending STATUS) lives on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from notify_helpers import lines, notify_listener

import camaudit.detect
from camaudit.config.overrides import apply_run_overrides
from camaudit.errors import CamauditError
from camaudit.pipeline.runner import run

pytestmark = pytest.mark.integration

WATCHDOG_S = 2.0  # as WatchdogSec=2: ping every 1 s, a loop silent for 1 s is stalled


class GatedDetector:
    """The real detector, with a gate a test can close to hang the pipeline loop in detect()."""

    start_closed = False

    def __init__(self, real: Any) -> None:
        self.real = real
        self.open = threading.Event()
        if not self.start_closed:
            self.open.set()
        self.entered_closed = threading.Event()
        self.calls = 0

    def detect(self, image: Any) -> Any:
        if not self.open.is_set():
            self.entered_closed.set()
            self.open.wait(timeout=120)
        self.calls += 1
        return self.real.detect(image)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def wait_made(made: list[GatedDetector]) -> GatedDetector:
    deadline = time.monotonic() + 90
    while not made and time.monotonic() < deadline:
        time.sleep(0.05)
    assert made, "no detector was loaded"
    return made[0]


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> list[GatedDetector]:
    made: list[GatedDetector] = []
    real_load = camaudit.detect.load_detector

    def load(*args: Any, **kw: Any) -> GatedDetector:
        made.append(GatedDetector(real_load(*args, **kw)))
        return made[-1]

    monkeypatch.setattr(camaudit.detect, "load_detector", load)
    return made


def start_run(clip: Path, db: Path) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    cfg = apply_run_overrides(None, source=str(clip), db=db, loop=True, pace=True)
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(cfg, db=db, stop=stop, install_signals=False)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=target, name="test-run", daemon=True)
    t.start()
    return t, stop, errors


def arm(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", str(int(WATCHDOG_S * 1_000_000)))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))


def test_hung_pipeline_loop_stops_watchdog_pings(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gated: list[GatedDetector]
):
    clip = shared_data / "videos" / "facenet-pytorch_video.mp4"
    with notify_listener() as sd:
        arm(monkeypatch, sd.path)
        thread, stop, errors = start_run(clip, tmp_path / "j.db")
        try:
            sd.wait_for("READY=1", timeout=90)
            healthy = sd.collect(3.0)
            assert len(lines(healthy, "WATCHDOG=1")) >= 2, healthy

            det = wait_made(gated)
            det.open.clear()  # the next detect() call hangs: the loop, not the process
            assert det.entered_closed.wait(timeout=30), "the pipeline never reached the detector"
            sd.collect(WATCHDOG_S / 2 + 0.7)  # pings may go on until the loop counts as stalled
            hung = sd.collect(5.5)
            assert lines(hung, "WATCHDOG=1") == [], hung  # systemd would now restart the service
            assert thread.is_alive() and not errors
            assert any("STATUS=main stalled" in m for _, m in hung), hung  # main loop still runs
            doc = json.loads((tmp_path / "status.json").read_text())
            assert doc["feeds"]["main"]["state"] == "stalled"

            det.open.set()
            sd.wait_for("WATCHDOG=1", timeout=5)  # the loop turns again: pings resume
        finally:
            for d in gated:
                d.open.set()
            stop.set()
            thread.join(timeout=60)
    assert not thread.is_alive()
    assert not errors, errors
    assert json.loads((tmp_path / "status.json").read_text())["running"] is False


def test_ready_only_once_every_feed_loop_runs(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gated: list[GatedDetector]
):
    clip = shared_data / "videos" / "facenet-pytorch_video.mp4"
    with notify_listener() as sd:
        arm(monkeypatch, sd.path)
        monkeypatch.setattr(GatedDetector, "start_closed", True)  # the first detection waits
        thread, stop, errors = start_run(clip, tmp_path / "j.db")
        try:
            det = wait_made(gated)
            assert det.entered_closed.wait(timeout=90), "the pipeline never reached the detector"
            early = sd.collect(3.0)  # sources open, journal open, device.online written ...
            assert lines(early, "READY=1") == [] and lines(early, "WATCHDOG=1") == [], early
            assert det.calls == 0
            det.open.set()  # ... but READY only once the feed loop has handled a frame
            sd.wait_for("READY=1", timeout=10)
            assert det.calls >= 1
            assert len([m for _, m in sd.seen if "READY=1" in m.splitlines()]) == 1
        finally:
            for d in gated:
                d.open.set()
            stop.set()
            thread.join(timeout=60)
    assert not errors, errors


def test_no_ready_when_start_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with notify_listener() as sd:
        arm(monkeypatch, sd.path)
        cfg = apply_run_overrides(None, source=str(tmp_path / "missing.mp4"), db=tmp_path / "j.db")
        with pytest.raises(CamauditError):
            run(cfg, db=tmp_path / "j.db", install_signals=False)
        assert sd.collect(0.5) == []
