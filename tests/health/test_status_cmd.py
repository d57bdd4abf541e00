"""`camaudit status` against a real running daemon (subprocess), a stopped one, and odd files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camaudit.health.report import format_text, gather
from camaudit.health.status_file import write_status
from camaudit.health.system import cpu_temperature_c, parse_throttled, throttling

ROOT = Path(__file__).resolve().parents[2]


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camaudit.cli", "status", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_never_ran(tmp_path: Path):
    proc = status("--data-dir", str(tmp_path))
    assert proc.returncode == 3
    assert "not running (it has never run with this data folder)" in proc.stdout


@pytest.mark.integration
def test_running_daemon_then_stopped(shared_data: Path, tmp_path: Path):
    # a broker URL where nothing listens: events stay in the outbox, broker not connected
    cfg = tmp_path / "c.yaml"
    clip = shared_data / "videos" / "facenet-pytorch_video.mp4"
    cfg.write_text(f"device: {{id: cafe-01}}\nmqtt: {{url: 'mqtt://127.0.0.1:{free_port()}'}}\n"
                   f"feeds: {{main: {{source: '{clip}'}}}}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "camaudit.cli", "run", "--config", str(cfg), "--source", str(clip),
         "--db", str(tmp_path / "journal.db"), "--pace", "--loop", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        report: dict = {}
        while time.monotonic() < deadline:  # until a status with a rate and a capture
            assert proc.poll() is None, proc.communicate()[1]
            got = status("--data-dir", str(tmp_path), "--json")
            if got.returncode == 0:
                report = json.loads(got.stdout)
                if report["feeds"]["main"]["fps"] > 0 and report["journal"].get("last_capture"):
                    break
            time.sleep(1)
        assert report["running"] and report["device"] == "cafe-01"
        assert report["feeds"]["main"]["state"] == "up" and report["feeds"]["main"]["fps"] > 0
        assert report["mqtt"] is True and report["broker_connected"] is False
        assert report["journal"]["outbox"] >= 2 and report["journal"]["bytes"] > 0
        assert report["disk"]["free_bytes"] > 0
        text = status("--data-dir", str(tmp_path))
        assert text.returncode == 0, text.stdout + text.stderr
        assert "camaudit: running" in text.stdout and "frames/s" in text.stdout
        assert "broker: NOT connected" in text.stdout and "not yet acknowledged" in text.stdout
        assert "last capture: c-" in text.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    after = status("--data-dir", str(tmp_path))
    assert after.returncode == 3 and "not running" in after.stdout
    assert "feed main: stopped with the run" in after.stdout and "ended normally" in after.stdout
    assert " down" not in after.stdout and "NOT connected" not in after.stdout


def test_killed_daemon_is_not_running(tmp_path: Path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_status(tmp_path, {"v": 1, "pid": dead.pid, "running": True, "ready": True,
                            "updated_ms": int(time.time() * 1000), "feeds": {"a": {"state": "up", "fps": 5}}})
    r = gather(tmp_path)
    assert r["running"] is False and r["feeds"]["a"]["state"] == "down"
    text = "\n".join(format_text(r))
    assert "NOT running" in text and "killed or crashed" in text and "feed a: down" in text


def test_status_times_are_the_venues_with_zone(tmp_path: Path):
    """Issue 22.1: the last frame's time in the venue's zone, named (not the machine's)."""
    ms = 1_774_785_600_000  # 2026-03-29 12:00:00 UTC = 14:00:00 CEST in Paris
    write_status(tmp_path, {"v": 1, "pid": os.getpid(), "running": False, "updated_ms": ms,
                            "feeds": {"door": {"state": "down", "last_frame_ms": ms}}})
    text = "\n".join(format_text(gather(tmp_path, now_ms=ms + 5000), ms + 5000, "Europe/Paris"))
    assert "last frame 2026-03-29 14:00:00 CEST (5 s ago)" in text
    assert "ended normally" in text and "feed door: stopped with the run" in text


def test_stale_status_is_not_running(tmp_path: Path):
    write_status(tmp_path, {"v": 1, "pid": os.getpid(), "running": True,
                            "updated_ms": int(time.time() * 1000) - 60_000, "feeds": {}})
    assert gather(tmp_path)["running"] is False


def test_journal_elsewhere_is_not_followed(tmp_path: Path):
    write_status(tmp_path, {"v": 1, "pid": os.getpid(), "running": True, "journal": "/etc/shadow",
                            "updated_ms": int(time.time() * 1000), "feeds": {}})
    assert gather(tmp_path)["journal"]["path"] == str(tmp_path / "journal.db")


def test_garbage_status_file_is_one_clear_error(tmp_path: Path):
    (tmp_path / "status.json").write_text("{not json")
    proc = status("--data-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"camaudit: error: {tmp_path / 'status.json'}: not valid JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    ]


def test_temperature_and_throttling(tmp_path: Path):
    for i, (kind, temp) in enumerate([("gpu-thermal", "39000"), ("cpu-thermal", "61234")]):
        z = tmp_path / "class" / "thermal" / f"thermal_zone{i}"
        z.mkdir(parents=True)
        (z / "type").write_text(kind + "\n")
        (z / "temp").write_text(temp + "\n")
    assert cpu_temperature_c(tmp_path) == pytest.approx(61.234)
    assert cpu_temperature_c(tmp_path / "none") is None
    t = parse_throttled("throttled=0x50005\n")
    assert t is not None and t.flags == ("under-voltage now", "throttled now",
                                         "under-voltage has occurred", "throttling has occurred")
    assert parse_throttled("error=1") is None
    fake = tmp_path / "vcgencmd"  # the Pi tool's output format, from a stand-in script
    fake.write_text("#!/bin/sh\necho throttled=0x0\n")
    fake.chmod(0o755)
    got = throttling(str(fake))
    assert got is not None and got.raw == 0 and got.flags == ()
